"""Lockdown zones through the API: propose, evaluate, save, publish, release.

``GET /api/zones`` is public (published zones only). Every write needs an official's
login and a CSRF token (``X-CSRFToken`` header) and is recorded in the audit log.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from shapely.geometry import mapping
from sqlalchemy import select

from forecast.errors import ForecastInputError
from forecast.zones import (
    communes_geometry,
    evaluate_zone,
    release_date,
    suggest_release_rule,
    zone_geometry,
)
from geo.ingest import local_today
from webmap.auth import current_user, login_required
from webmap.data import get_snapshot
from webmap.db import Zone, audit, get_session
from webmap.errors import InvalidAPIUsage

bp = Blueprint("zones", __name__)


def _evaluate(geometry: Any) -> dict[str, Any]:
    snapshot = get_snapshot()
    communes = snapshot.communes
    counts = [c for c in ("workers_resident", "workers_employed", "cases_14d") if c in communes]
    venues = snapshot.layers.get("venues")
    result = evaluate_zone(
        geometry,
        communes,
        venues=venues,
        commune_counts=communes[counts] if counts else None,
    )
    result["suggested_release_rule_days"] = suggest_release_rule(
        result.get("cases_14d", 0), result["population"]
    )
    return result


def _geometry_from_body(body: dict[str, Any]) -> Any:
    if body.get("communes"):
        return communes_geometry(get_snapshot().communes, [str(c) for c in body["communes"]])
    if body.get("geometry"):
        return zone_geometry(body["geometry"])
    raise InvalidAPIUsage("send 'geometry' (GeoJSON polygon) or 'communes' (list of codes)")


def zone_feature(zone: Zone, today: date | None = None) -> dict[str, Any]:
    """A zone as a GeoJSON Feature, with its release countdown."""
    properties: dict[str, Any] = {
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "start_date": zone.start_date,
        "release_rule_days": zone.release_rule_days,
        "released_on": zone.released_on,
        "population": zone.evaluation.get("population"),
        "cases_averted_14d": zone.evaluation.get("cases_averted_14d_q50"),
        "cases_averted_14d_90": [
            zone.evaluation.get("cases_averted_14d_q05"),
            zone.evaluation.get("cases_averted_14d_q95"),
        ],
        "cases_averted_28d": zone.evaluation.get("cases_averted_28d_q50"),
        "cases_averted_error": zone.evaluation.get("cases_averted_error"),
    }
    if zone.status == "published" and zone.start_date:
        snapshot = get_snapshot()
        codes = [c["commune_code"] for c in zone.evaluation.get("communes", [])]
        last = snapshot.communes.reindex(codes).get("last_case_date")
        last_case = None
        if last is not None and last.notna().any():
            last_case = pd.to_datetime(last.dropna()).max().date()
        start = date.fromisoformat(zone.start_date)
        earliest = release_date(last_case, start, zone.release_rule_days)
        as_of = today or pd.Timestamp(snapshot.meta.get("date") or local_today()).date()
        properties["last_case_date"] = last_case.isoformat() if last_case else None
        properties["days_since_last_case"] = (as_of - last_case).days if last_case else None
        properties["earliest_release"] = earliest.isoformat()
        properties["days_to_release"] = max((earliest - as_of).days, 0)
    return {"type": "Feature", "id": zone.id, "geometry": zone.geometry, "properties": properties}


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidAPIUsage("send a JSON object (Content-Type: application/json)")
    return body


def _zone_or_404(zone_id: int) -> Zone:
    zone = get_session().get(Zone, zone_id)
    if zone is None:
        raise InvalidAPIUsage(f"no zone {zone_id}; list them with GET /api/zones?status=all", 404)
    return zone


@bp.get("/zones")
def list_zones() -> ResponseReturnValue:
    """Published zones as GeoJSON (officials may ask ``?status=all``)."""
    wanted = request.args.get("status", "published")
    if wanted not in ("published", "all"):
        raise InvalidAPIUsage(f"status is {wanted!r}; expected 'published' or 'all'")
    stmt = select(Zone).order_by(Zone.id)
    if wanted == "all":
        if current_user() is None:
            raise InvalidAPIUsage("log in to see draft and released zones", 401)
    else:
        stmt = stmt.where(Zone.status == "published")
    zones = get_session().scalars(stmt).all()
    body = {"type": "FeatureCollection", "features": [zone_feature(z) for z in zones]}
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/zones/evaluate")
@login_required("official")
def evaluate() -> ResponseReturnValue:
    """Evaluate a polygon or commune list without saving it."""
    try:
        geometry = _geometry_from_body(_json_body())
        return jsonify(_evaluate(geometry))
    except ForecastInputError as exc:
        raise InvalidAPIUsage(str(exc)) from exc


@bp.post("/zones")
@login_required("official")
def create_zone() -> ResponseReturnValue:
    """Save a draft zone (polygon or communes) with its evaluation."""
    body = _json_body()
    try:
        geometry = _geometry_from_body(body)
    except ForecastInputError as exc:
        raise InvalidAPIUsage(str(exc)) from exc
    name = str(body.get("name") or "").strip()
    if not name:
        raise InvalidAPIUsage("give the zone a 'name'")
    evaluation = _evaluate(geometry)
    rule = int(body.get("release_rule_days") or evaluation["suggested_release_rule_days"])
    if rule not in (14, 21, 28):
        raise InvalidAPIUsage(f"release_rule_days is {rule}; expected 14, 21 or 28")
    user = current_user()
    assert user is not None
    zone = Zone(
        name=name[:200],
        geometry=mapping(geometry),
        status="draft",
        release_rule_days=rule,
        communes=[c["commune_code"] for c in evaluation["communes"]],
        evaluation=evaluation,
        created_by=user.id,
    )
    db = get_session()
    db.add(zone)
    db.flush()
    audit(db, user.name, "create_zone", "zone", zone.id, name=zone.name, rule=rule)
    db.commit()
    _start_averted_job(
        zone.id, [c["commune_code"] for c in evaluation["communes"] if c["share"] >= 0.5], rule
    )
    feature = zone_feature(zone)
    feature["properties"]["evaluation"] = evaluation
    return jsonify(feature), 201


def _start_averted_job(zone_id: int, codes: list[str], rule_days: int) -> None:
    """Compute the zone's cases averted in the background (model runs never block a request)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not codes or app.config.get("ZONE_AVERTED") is False:
        return
    if app.config.get("SCENARIO_JOBS_INLINE"):
        compute_cases_averted(app, zone_id, codes, rule_days)
    else:
        threading.Thread(
            target=compute_cases_averted, args=(app, zone_id, codes, rule_days), daemon=True
        ).start()


def compute_cases_averted(app: Flask, zone_id: int, codes: list[str], rule_days: int) -> None:
    """Store ``cases_averted_*`` (14 and 28 days, 90% interval) in the zone's evaluation."""
    import numpy as np

    from forecast.ensemble import calibrate_ensemble, default_forecast_date, history_before
    from forecast.proposals import cases_averted_for
    from forecast.workspace import load_workspace_inputs
    from geo.workspace import open_workspace

    try:
        ws = open_workspace(app.config["WORKSPACE"], create=False)
        inputs = load_workspace_inputs(ws)
        start = default_forecast_date(inputs.cube)
        ensemble = calibrate_ensemble(
            history_before(inputs.cube, start), days=29, members=50, rng=np.random.default_rng(0)
        )
        averted: dict[str, Any] = cases_averted_for(
            ensemble, inputs.coupling, codes, start, rule_days
        )
        averted["cases_averted_from"] = start.isoformat()
    except Exception as exc:  # the zone stays usable; say why there is no figure
        averted = {"cases_averted_error": str(exc)[:500]}
    with app.app_context():
        session = current_app.extensions["safemap_db"]()
        try:
            zone = session.get(Zone, zone_id)
            if zone is not None:
                zone.evaluation = {**zone.evaluation, **averted}
                session.commit()
        finally:
            session.close()


def _transition(zone_id: int, to: str, allowed_from: tuple[str, ...]) -> ResponseReturnValue:
    zone = _zone_or_404(zone_id)
    if zone.status not in allowed_from:
        raise InvalidAPIUsage(
            f"zone {zone_id} is {zone.status}; it can be set {to} only from {list(allowed_from)}",
            409,
        )
    user = current_user()
    assert user is not None
    today = get_snapshot().meta.get("date") or local_today().isoformat()
    if to == "published":
        zone.start_date = str(request.args.get("start_date") or today)
    if to == "released":
        zone.released_on = str(today)
    previous = zone.status
    zone.status = to
    db = get_session()
    audit(db, user.name, f"{to}_zone", "zone", zone.id, previous=previous)
    db.commit()
    return jsonify(zone_feature(zone))


@bp.post("/zones/<int:zone_id>/publish")
@login_required("official")
def publish_zone(zone_id: int) -> ResponseReturnValue:
    """Publish a draft: it appears on the public map."""
    return _transition(zone_id, "published", ("draft",))


@bp.post("/zones/<int:zone_id>/release")
@login_required("official")
def release_zone(zone_id: int) -> ResponseReturnValue:
    """Release a published zone."""
    return _transition(zone_id, "released", ("published",))


def zones_to_frame(features: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """GeoDataFrame of zone features (for OGC and maps)."""
    if not features:
        return gpd.GeoDataFrame({"id": []}, geometry=[], crs=4326)
    return gpd.GeoDataFrame.from_features(features, crs=4326)
