"""JSON/GeoJSON API (``/api``): communes, forecasts, venues, cells, rule sets, OpenAPI.

The functions that build the bodies are pure (snapshot pieces in, dicts or frames out) and
raise :class:`webmap.errors.InvalidAPIUsage` with the status and the fix; the views only read
the request, call them and wrap the result with ``ETag`` and ``Cache-Control``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from geo.schemas import VENUE_TYPES
from models.errors import RuleSetError
from models.rules import (
    RuleSet,
    assess_risk,
    derive_rates,
    list_rule_sets,
    load_rule_set,
    rule_set_in_force,
)
from webmap.data import get_snapshot
from webmap.errors import InvalidAPIUsage
from webmap.publish import Snapshot

bp = Blueprint("api", __name__)

#: Rule set used when the snapshot names none and has no date (``safemap risk``'s default).
DEFAULT_RULE_SET = "4800"
#: Seconds a client or proxy may reuse a data response.
CACHE_MAX_AGE_S = 60
GEOJSON = "application/geo+json"

COMMUNE_PROPERTIES = (
    "commune_code",
    "commune_name",
    "district_name",
    "population",
    "level",
    "level_name_vi",
    "level_name_en",
    "rules",
    "rules_version",
    "unverified_criteria",
    "cases_7d",
    "incidence_7d_per_100k",
)
#: Served when the published layer has them.
COMMUNE_OPTIONAL_PROPERTIES = (
    "cases_14d",
    "last_case_date",
    "rt_median",
    "rt_lower",
    "rt_upper",
    "date",
)
RISK_COLUMNS = (
    "level",
    "level_name_vi",
    "level_name_en",
    "rules",
    "rules_version",
    "unverified_criteria",
)
VENUE_PROPERTIES = (
    "venue_id",
    "name",
    "venue_type",
    "band",
    "band_name_vi",
    "band_name_en",
    "assessed_on",
)
#: Served when the published venue layer has them (the map colours and flags venues by them).
VENUE_OPTIONAL_PROPERTIES = ("colour", "safe", "expired")
#: Never served from the cells layer, whatever the publication step left in it.
PRIVATE_COLUMNS = frozenset(
    {"person_id", "person", "address", "lat", "lon", "latitude", "longitude", "visitors"}
)
HIDDEN_HORIZON_REASON = (
    "not served: in back-tests this horizon did no better than the baseline forecast"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COMMUNE_CODE = re.compile(r"\d{5}")


# ---------------------------------------------------------------------------------------
# pure helpers


def snapshot_date(snapshot: Snapshot) -> str | None:
    """The data date of a snapshot (``YYYY-MM-DD``).

    Parameters
    ----------
    snapshot : Snapshot
        The published snapshot.

    Returns
    -------
    str or None
        ``meta["date"]``, else the commune layer's ``date`` column, else the date part of
        ``meta["as_of"]``; None when none of them exists.
    """
    if snapshot.meta.get("date"):
        return str(snapshot.meta["date"])[:10]
    if "date" in snapshot.communes.columns and len(snapshot.communes):
        return str(snapshot.communes["date"].iloc[0])[:10]
    if snapshot.meta.get("as_of"):
        return str(snapshot.meta["as_of"])[:10]
    return None


def check_date(value: str | None, available: str | None) -> None:
    """Check a ``date`` query parameter against the only date served.

    Parameters
    ----------
    value : str or None
        The parameter as received (None when absent: always accepted).
    available : str or None
        The snapshot's date.

    Raises
    ------
    InvalidAPIUsage
        400 when ``value`` is not an ISO date, 404 when it is another date than ``available``.
    """
    if value is None:
        return
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidAPIUsage(
            f"date is {value!r}; expected an ISO date YYYY-MM-DD such as "
            f"{available or '2021-05-21'}"
        ) from None
    if available is None or day.isoformat() != available:
        raise InvalidAPIUsage(
            f"no snapshot for date {day.isoformat()}; only the latest snapshot is served "
            f"(date={available}); use that date or leave 'date' out",
            404,
        )


def rule_set_or_400(rule_set_id: str) -> RuleSet:
    """Load a rule set by id, or raise a 400 that lists the known ids.

    Parameters
    ----------
    rule_set_id : str
        Rule-set id from the request.

    Returns
    -------
    RuleSet

    Raises
    ------
    InvalidAPIUsage
        400 naming the unknown id and the ids of :func:`models.rules.list_rule_sets`.
    """
    known = list_rule_sets()
    if rule_set_id not in known:
        raise InvalidAPIUsage(
            f"rules is {rule_set_id!r}; expected one of {known} (see GET /api/rules)"
        )
    try:
        return load_rule_set(rule_set_id)
    except RuleSetError as exc:  # a broken data file is the server's fault
        raise InvalidAPIUsage(str(exc), 500) from exc


def indicators_from_layer(communes: pd.DataFrame) -> pd.DataFrame:
    """Rule-engine indicators rebuilt from a commune layer's counts.

    Parameters
    ----------
    communes : DataFrame
        The published commune layer, indexed by ``commune_code``, with ``population`` and
        ``cases_7d`` (``cases_14d`` used when present).

    Returns
    -------
    DataFrame
        ``commune_code``, the counts and the rates of :func:`models.rules.derive_rates`;
        criteria the layer cannot give are absent, so rule sets that need them answer unknown.
    """
    frame = pd.DataFrame({"commune_code": communes.index.astype(str).to_numpy()})
    for column in ("population", "cases_7d", "cases_14d"):
        if column in communes.columns:
            frame[column] = pd.to_numeric(communes[column], errors="coerce").to_numpy(float)
    return derive_rates(frame)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                return [text]
            return list(parsed) if isinstance(parsed, list) else [parsed]
        # the publication step joins the items with "; "
        return [part.strip() for part in text.split(";") if part.strip()]
    return []


def communes_with_risk(
    communes: gpd.GeoDataFrame,
    rules: RuleSet | None,
    *,
    indicators: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """The commune layer with the risk columns of one rule set.

    Parameters
    ----------
    communes : GeoDataFrame
        The published commune layer (index ``commune_code``).
    rules : RuleSet or None
        None keeps the published ``level`` columns (the rule set in force).
    indicators : DataFrame, optional
        The published ``indicators`` table (one row per commune); when absent the
        indicators are rebuilt from the layer (:func:`indicators_from_layer`).

    Returns
    -------
    GeoDataFrame
        A copy with ``level`` (Int64, <NA> = unknown), ``level_name_vi``, ``level_name_en``,
        ``rules``, ``rules_version`` and ``unverified_criteria`` (list of str).
    """
    out = communes.copy()
    if rules is not None:
        source = indicators if indicators is not None else indicators_from_layer(communes)
        risk = assess_risk(source, rules).set_index("commune_code")
        risk.index = risk.index.astype(str)
        risk = risk.reindex(out.index.astype(str))
        for column in RISK_COLUMNS:
            out[column] = risk[column].to_numpy()
        out["level_name_vi"] = out["level_name_vi"].fillna("Không xác định")
        out["level_name_en"] = out["level_name_en"].fillna("Unknown")
        out["rules"] = rules.id
        out["rules_version"] = rules.version
    out["level"] = pd.array(
        [None if pd.isna(v) else int(v) for v in out.get("level", [None] * len(out))],
        dtype="Int64",
    )
    out["unverified_criteria"] = [
        _as_list(v) for v in out.get("unverified_criteria", [None] * len(out))
    ]
    return out


def _json_value(value: Any) -> Any:
    """A JSON-safe scalar: NaN/NA/inf -> None, numpy scalars -> Python."""
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        # dates read back from GeoJSON come as midnight timestamps: serve them as dates
        if value.tzinfo is None and value == value.normalize():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def frame_to_features(
    frame: gpd.GeoDataFrame,
    properties: Iterable[str],
    *,
    id_column: str | None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON Features of a frame, with only the named properties.

    Parameters
    ----------
    frame : GeoDataFrame
        Rows to serve (EPSG:4326); a named index is available as a column.
    properties : iterable of str
        Property names, in order; missing columns are left out.
    id_column : str or None
        Column (or index name) giving the feature ``id``; None numbers features from 1.
    extra : mapping, optional
        Properties added to every feature (e.g. ``as_of``).

    Returns
    -------
    list of dict
        JSON-safe features (NaN and <NA> become null).
    """
    flat = frame.reset_index() if frame.index.name is not None else frame
    names = [p for p in properties if p in flat.columns]
    shapes = [
        None if text is None else json.loads(text)
        for text in shapely.to_geojson(flat.geometry.to_numpy())
    ]
    columns = {name: flat[name].tolist() for name in names}
    ids = flat[id_column].tolist() if id_column is not None else range(1, len(flat) + 1)
    features = []
    for i, (fid, shape) in enumerate(zip(ids, shapes, strict=True)):
        props = {name: _json_value(columns[name][i]) for name in names}
        props.update(extra or {})
        features.append(
            {"type": "Feature", "id": _json_value(fid), "geometry": shape, "properties": props}
        )
    return features


def communes_feature_collection(
    snapshot_communes: gpd.GeoDataFrame, meta: Mapping[str, Any]
) -> dict[str, Any]:
    """GeoJSON FeatureCollection of a commune layer, with ``as_of``.

    Parameters
    ----------
    snapshot_communes : GeoDataFrame
        Commune layer indexed by ``commune_code`` (risk columns from
        :func:`communes_with_risk` when present).
    meta : mapping
        Snapshot metadata (``as_of``, ``attribution``).

    Returns
    -------
    dict
        ``{"type": "FeatureCollection", "features": [...], "as_of", "attribution"}``; each
        feature's ``id`` is its commune code.
    """
    as_of = meta.get("as_of")
    features = frame_to_features(
        snapshot_communes,
        [*COMMUNE_PROPERTIES, *COMMUNE_OPTIONAL_PROPERTIES],
        id_column="commune_code",
        extra={"as_of": as_of},
    )
    for feature in features:
        feature["id"] = str(feature["id"])
        feature["properties"]["commune_code"] = str(feature["properties"]["commune_code"])
    return {
        "type": "FeatureCollection",
        "features": features,
        "as_of": as_of,
        "attribution": meta.get("attribution"),
    }


def published_rule_set(communes: pd.DataFrame) -> str | None:
    """Id of the rule set whose levels the commune layer carries (None when it has none)."""
    if "rules" in communes.columns and "level" in communes.columns:
        ids = communes["rules"].dropna()
        if len(ids):
            return str(ids.iloc[0])
    return None


def snapshot_rule_set(snapshot: Snapshot) -> str:
    """Id of the rule set the map uses for a snapshot.

    Parameters
    ----------
    snapshot : Snapshot
        The published snapshot.

    Returns
    -------
    str
        The rule set of the published levels, else ``meta["rules"]``, else the official rule
        set in force on the snapshot's date (:func:`models.rules.rule_set_in_force`), else
        :data:`DEFAULT_RULE_SET` when the snapshot has no date.
    """
    published = published_rule_set(snapshot.communes) or str(snapshot.meta.get("rules") or "")
    if published:
        return published
    day = snapshot_date(snapshot)
    return rule_set_in_force(day) if day else DEFAULT_RULE_SET


def commune_layer(snapshot: Snapshot, rules_id: str | None = None) -> gpd.GeoDataFrame:
    """The commune layer with risk levels for ``rules_id`` (default: the rule set in force).

    Parameters
    ----------
    snapshot : Snapshot
        The published snapshot.
    rules_id : str, optional
        A rule-set id; computed on the fly from the snapshot's indicators when it is not the
        one the snapshot was published with.

    Returns
    -------
    GeoDataFrame
        See :func:`communes_with_risk`.

    Raises
    ------
    InvalidAPIUsage
        400 for an unknown rule-set id.
    """
    layer = snapshot.communes
    published = published_rule_set(layer)
    wanted = rules_id or snapshot_rule_set(snapshot)
    if wanted == published:
        return communes_with_risk(layer, None)
    rules = rule_set_or_400(wanted)
    return communes_with_risk(layer, rules, indicators=snapshot.tables.get("indicators"))


def check_commune_code(code: str | None, known: Iterable[str]) -> str:
    """Validate a ``commune`` query parameter.

    Parameters
    ----------
    code : str or None
        The parameter as received.
    known : iterable of str
        Codes of the published communes.

    Returns
    -------
    str
        The code.

    Raises
    ------
    InvalidAPIUsage
        400 when missing or not 5 digits, 404 when no such commune is published.
    """
    if code is None or not code.strip():
        raise InvalidAPIUsage(
            "the 'commune' parameter is missing; add ?commune=CODE with a 5-digit commune "
            "code such as 09163 (list them with GET /api/communes)"
        )
    if not _COMMUNE_CODE.fullmatch(code):
        hint = f" (did you mean {code.zfill(5)!r}?)" if code.isdigit() and len(code) < 5 else ""
        raise InvalidAPIUsage(
            f"commune is {code!r}; expected a 5-digit commune code such as '09163'{hint}"
        )
    if code not in set(known):
        raise InvalidAPIUsage(
            f"unknown commune {code!r}; list the published communes with GET /api/communes", 404
        )
    return code


def commune_forecasts(
    forecasts: pd.DataFrame | None,
    commune_code: str,
    *,
    hidden_horizons: Iterable[str] = (),
) -> dict[str, Any]:
    """One commune's latest quantile forecasts from a Forecast Hub long table.

    Parameters
    ----------
    forecasts : DataFrame or None
        ``forecast_date, target, target_end_date, location, type, quantile, value``.
    commune_code : str
        The commune (``location``).
    hidden_horizons : iterable of str
        Targets not served publicly (no skill in back-tests): listed with ``hidden: true``
        and without values.

    Returns
    -------
    dict
        ``commune_code, forecast_date, targets`` where each target has ``target,
        target_end_date, hidden``, ``quantiles`` (list of ``{quantile, value}``, empty when
        hidden), ``point`` (or None) and, when hidden, ``hidden_reason``; ``forecasts`` holds
        the same values as Forecast Hub rows (hidden targets left out), for charts.

    Raises
    ------
    InvalidAPIUsage
        404 when no forecasts are published, or none for this commune.
    """
    if forecasts is None or forecasts.empty:
        raise InvalidAPIUsage(
            "no forecasts are published in this snapshot; run the forecast step and publish "
            "again, or ask the data team",
            404,
        )
    rows = forecasts.loc[forecasts["location"].astype(str) == commune_code]
    if rows.empty:
        raise InvalidAPIUsage(
            f"no forecasts published for commune {commune_code!r}; the published forecasts "
            f"cover {forecasts['location'].nunique()} locations",
            404,
        )
    latest = str(rows["forecast_date"].astype(str).max())
    rows = rows.loc[rows["forecast_date"].astype(str) == latest]
    hidden = set(hidden_horizons)
    targets = []
    order = rows[["target_end_date", "target"]].astype(str).drop_duplicates()
    for end, target in order.sort_values(["target_end_date", "target"]).itertuples(index=False):
        part = rows.loc[(rows["target"].astype(str) == target)]
        entry: dict[str, Any] = {
            "target": target,
            "target_end_date": end,
            "hidden": target in hidden,
            "quantiles": [],
            "point": None,
        }
        if target in hidden:
            entry["hidden_reason"] = HIDDEN_HORIZON_REASON
        else:
            kinds = part["type"].astype(str)
            quantiles = part.loc[kinds == "quantile"].sort_values("quantile")
            entry["quantiles"] = [
                {"quantile": _json_value(float(q)), "value": _json_value(float(v))}
                for q, v in zip(quantiles["quantile"], quantiles["value"], strict=True)
            ]
            point = part.loc[kinds == "point", "value"]
            entry["point"] = _json_value(float(point.iloc[0])) if len(point) else None
        targets.append(entry)
    visible = rows.loc[~rows["target"].astype(str).isin(hidden)]
    hub_rows = [
        {
            "forecast_date": latest,
            "target": str(row.target),
            "target_end_date": str(row.target_end_date),
            "location": commune_code,
            "type": str(row.type),
            "quantile": _json_value(float(row.quantile)),
            "value": _json_value(float(row.value)),
        }
        for row in visible.itertuples(index=False)
    ]
    return {
        "commune_code": commune_code,
        "forecast_date": latest,
        "targets": targets,
        "forecasts": hub_rows,
    }


def check_venue_type(value: str | None) -> str | None:
    """Validate the ``type`` parameter of ``/api/venues``.

    Parameters
    ----------
    value : str or None
        The parameter as received.

    Returns
    -------
    str or None

    Raises
    ------
    InvalidAPIUsage
        400 when the type is not one of :data:`geo.schemas.VENUE_TYPES`.
    """
    if value is not None and value not in VENUE_TYPES:
        raise InvalidAPIUsage(f"type is {value!r}; expected one of {list(VENUE_TYPES)}")
    return value


def venues_layer(
    venues: gpd.GeoDataFrame | None, venue_type: str | None = None
) -> gpd.GeoDataFrame:
    """Public venue layer: only the public properties, optionally one type.

    Parameters
    ----------
    venues : GeoDataFrame or None
        ``snapshot.layers["venues"]`` (None when not published).
    venue_type : str, optional
        Keep only venues of this type.

    Returns
    -------
    GeoDataFrame
        Columns of :data:`VENUE_PROPERTIES` and :data:`VENUE_OPTIONAL_PROPERTIES` present in
        the layer, ``venue_id`` as str, and
        ``geometry``; empty when nothing is published. Visitor lists never leave this function.
    """
    if venues is None or venues.empty:
        return gpd.GeoDataFrame({"venue_id": pd.Series([], dtype=str)}, geometry=[], crs=4326)
    keep = [c for c in (*VENUE_PROPERTIES, *VENUE_OPTIONAL_PROPERTIES) if c in venues.columns]
    out = gpd.GeoDataFrame(venues[keep].copy(), geometry=venues.geometry, crs=venues.crs)
    if "venue_id" in out.columns:
        out["venue_id"] = out["venue_id"].astype(str)
    if venue_type is not None and "venue_type" in out.columns:
        out = out.loc[(out["venue_type"] == venue_type).to_numpy()]
    return out


def cells_layer(cells: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Public H3 cell layer as published (already suppressed), without private columns.

    Parameters
    ----------
    cells : GeoDataFrame or None
        ``snapshot.layers["cells"]``.

    Returns
    -------
    GeoDataFrame
        The layer without any column of :data:`PRIVATE_COLUMNS`; empty when not published.
    """
    if cells is None or cells.empty:
        return gpd.GeoDataFrame({"cell": pd.Series([], dtype=str)}, geometry=[], crs=4326)
    drop = [c for c in cells.columns if c.lower() in PRIVATE_COLUMNS]
    return cells.drop(columns=drop)


def cell_id_column(cells: pd.DataFrame) -> str | None:
    """The column holding the H3 cell id (``cell``, ``h3_cell``, ``h3`` or ``cell_id``)."""
    for name in ("cell", "h3_cell", "h3", "cell_id"):
        if name in cells.columns:
            return name
    return None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def rule_set_to_dict(rules: RuleSet, *, in_force: bool = False) -> dict[str, Any]:
    """A rule set as JSON: levels, criteria bands and conditions with their ``verified`` flags.

    Parameters
    ----------
    rules : RuleSet
        From :func:`models.rules.load_rule_set`.
    in_force : bool
        Whether this is the rule set the published map uses.

    Returns
    -------
    dict
        ``id, version, title_vi, title_en, method, effective, superseded_by, in_force,
        levels, criteria_used, thresholds``; ``thresholds`` lists every band (``kind:
        band``) and every condition (``kind: condition``) with ``verified``, ``grade`` and
        ``source``. Matrix rule sets add ``matrix``; ``worst_of`` rule sets add ``worst_of``.
    """
    thresholds: list[dict[str, Any]] = []
    for criterion in rules.criteria.values():
        for band in criterion.bands:
            thresholds.append(
                {
                    "kind": "band",
                    "criterion": criterion.name,
                    "description": criterion.description,
                    "value": band.value,
                    "interval": band.label(),
                    "lower": _finite(band.lower),
                    "upper": _finite(band.upper),
                    "lower_inclusive": band.lower_inclusive,
                    "upper_inclusive": band.upper_inclusive,
                    "verified": band.verified,
                    "grade": band.grade,
                    "source": band.source,
                }
            )

    def add_conditions(level: int | None, conditions: Iterable[Any], where: str) -> None:
        for cond in conditions:
            parts = cond.all_of or (cond,)
            for part in parts:
                thresholds.append(
                    {
                        "kind": "condition",
                        "where": where,
                        "level": level,
                        "criterion": part.criterion,
                        "condition": part.describe(),
                        "threshold": _finite(part.threshold),
                        "optional": part.optional or cond.optional,
                        "verified": part.verified and cond.verified,
                        "grade": part.grade or cond.grade,
                        "source": part.source or cond.source,
                    }
                )

    for rule in rules.rules:
        add_conditions(rule.level, rule.any_of, "rules")
    for adj in rules.adjustments:
        add_conditions(None, adj.conditions, f"adjustment {adj.id} ({adj.action})")
    out: dict[str, Any] = {
        "id": rules.id,
        "version": rules.version,
        "title_vi": rules.title_vi,
        "title_en": rules.title_en,
        "method": rules.method,
        "effective": rules.effective,
        "superseded_by": rules.superseded_by,
        "in_force": in_force,
        "levels": [
            {"level": k, "name_vi": v.vi, "name_en": v.en, "colour": v.colour}
            for k, v in sorted(rules.levels.items())
        ],
        "criteria_used": rules.criteria_used(),
        "thresholds": thresholds,
    }
    if rules.method == "matrix":
        out["matrix"] = {
            "rows": rules.matrix_rows,
            "columns": rules.matrix_columns,
            "verified": rules.matrix_verified,
            "cells": [
                {"row": r, "column": c, "level": level}
                for (r, c), level in rules.matrix_cells.items()
            ],
        }
    if rules.method == "worst_of":
        out["worst_of"] = list(rules.worst_of)
    return out


def feature_collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with extra top-level members."""
    return {"type": "FeatureCollection", "features": features, **members}


# ---------------------------------------------------------------------------------------
# request edge


class _HashedBody(bytes):
    """A cached body that carries its ETag and its gzip form, made once per snapshot."""

    etag: str
    gzipped: bytes


def cached_value(snapshot: Snapshot, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """``build()``, cached on the app for as long as ``snapshot`` is the current one.

    Parameters
    ----------
    snapshot : Snapshot
        The snapshot the value derives from; a new snapshot empties the cache.
    key : tuple
        What else the value depends on (route, parameters).
    build : callable
        Computes the value (must not depend on anything but the snapshot and ``key``).

    Returns
    -------
    object
        The cached value. Treat it as read-only: other requests share it.
    """
    cache = current_app.extensions.setdefault("safemap_api_cache", {})
    if cache.get("snapshot") is not snapshot:
        # build a fresh dict and swap it in, so a concurrent request never sees it half-reset
        cache.update(snapshot=snapshot, values={})
    values: dict[tuple[Any, ...], Any] = cache["values"]
    if key not in values:
        values[key] = build()
    return values[key]


def cached_body(snapshot: Snapshot, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes:
    """UTF-8 JSON of ``build()``, cached like :func:`cached_value`.

    Parameters
    ----------
    snapshot : Snapshot
        The snapshot the body derives from.
    key : tuple
        What else the body depends on (route, parameters).
    build : callable
        Returns the JSON-serialisable body.

    Returns
    -------
    bytes
        UTF-8 JSON (NaN and infinities are refused: they are not JSON).
    """

    def encode() -> bytes:
        body = _HashedBody(json.dumps(build(), ensure_ascii=False, allow_nan=False).encode())
        body.etag = hashlib.sha1(body, usedforsecurity=False).hexdigest()
        body.gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        return body

    body: bytes = cached_value(snapshot, ("body", *key), encode)
    return body


def data_response(
    body: bytes | Mapping[str, Any] | list[Any],
    *,
    mimetype: str = "application/json",
    max_age_s: int = CACHE_MAX_AGE_S,
) -> Response:
    """A data response with ``ETag`` and ``Cache-Control``, answering 304 when it can.

    Parameters
    ----------
    body : bytes or JSON-serialisable
        The body (serialised when not bytes).
    mimetype : str
        Media type.
    max_age_s : int
        ``Cache-Control: public, max-age=...``; 0 gives ``no-cache``.

    Returns
    -------
    flask.Response
    """
    if not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    etag = _etag(body)
    gzipped = getattr(body, "gzipped", None)
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    if gzipped is not None and accepts_gzip and current_app.config.get("COMPRESS_REGISTER", True):
        # cached bodies are compressed once per snapshot, not once per request
        response = Response(gzipped, mimetype=mimetype)
        response.headers["Content-Encoding"] = "gzip"
        etag = f"{etag}-gzip"
    else:
        response = Response(body, mimetype=mimetype)
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = (
        f"public, max-age={max_age_s}" if max_age_s > 0 else "no-cache"
    )
    response.set_etag(etag)
    conditional = response.make_conditional(request)
    assert isinstance(conditional, Response)
    return conditional


def _etag(body: bytes) -> str:
    etag = getattr(body, "etag", None)
    return etag if etag is not None else hashlib.sha1(body, usedforsecurity=False).hexdigest()


def only_params(allowed: Iterable[str]) -> None:
    """Reject query parameters a route does not know (a typo would otherwise pass silently).

    Parameters
    ----------
    allowed : iterable of str
        Parameter names of the route.

    Raises
    ------
    InvalidAPIUsage
        400 naming the unknown parameter and the allowed ones.
    """
    allowed = list(allowed)
    for name in request.args:
        if name not in allowed:
            raise InvalidAPIUsage(
                f"unknown query parameter {name!r}; this route accepts {allowed or 'none'}"
            )


@bp.get("/communes")
def communes() -> ResponseReturnValue:
    """Return every commune with its risk level and published indicators as GeoJSON."""
    only_params(("date", "rules"))
    snapshot = get_snapshot()
    if "date" in request.args:
        check_date(request.args["date"], snapshot_date(snapshot))
    rules_id = request.args.get("rules")
    body = cached_body(
        snapshot,
        ("communes", rules_id),
        lambda: communes_feature_collection(commune_layer(snapshot, rules_id), snapshot.meta),
    )
    return data_response(body, mimetype=GEOJSON)


@bp.get("/forecasts")
def forecasts() -> ResponseReturnValue:
    """Return one commune's latest quantile forecasts (hidden horizons without values)."""
    only_params(("commune",))
    snapshot = get_snapshot()
    code = check_commune_code(request.args.get("commune"), snapshot.communes.index.astype(str))

    def build() -> dict[str, Any]:
        by_location = cached_value(
            snapshot, ("forecasts_by_location",), lambda: forecasts_by_location(snapshot)
        )
        rows = by_location.get(code)
        body = commune_forecasts(
            snapshot.tables.get("forecasts") if rows is None else rows,  # None: 404 message
            code,
            hidden_horizons=snapshot.meta.get("hidden_horizons", []),
        )
        body["commune_name"] = _json_value(snapshot.communes.loc[code].get("commune_name"))
        body["as_of"] = snapshot.meta.get("as_of")
        return body

    return data_response(cached_body(snapshot, ("forecasts", code), build))


def forecasts_by_location(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    """The published forecasts split by location once per snapshot (empty: none published)."""
    table = snapshot.tables.get("forecasts")
    if table is None or table.empty:
        return {}
    return {
        str(location): rows
        for location, rows in table.groupby(table["location"].astype(str), sort=False)
    }


@bp.get("/venues")
def venues() -> ResponseReturnValue:
    """Return the venues with their self-assessment band as GeoJSON (optionally one type)."""
    only_params(("type",))
    snapshot = get_snapshot()
    venue_type = check_venue_type(request.args.get("type"))

    def build() -> dict[str, Any]:
        layer = venues_layer(snapshot.layers.get("venues"), venue_type)
        properties = [*VENUE_PROPERTIES, *VENUE_OPTIONAL_PROPERTIES]
        features = frame_to_features(layer, properties, id_column="venue_id")
        return feature_collection(features, as_of=snapshot.meta.get("as_of"))

    return data_response(cached_body(snapshot, ("venues", venue_type), build), mimetype=GEOJSON)


@bp.get("/cells")
def cells() -> ResponseReturnValue:
    """Return the H3 cells of recent cases as published (small counts suppressed)."""
    only_params(())
    snapshot = get_snapshot()

    def build() -> dict[str, Any]:
        layer = cells_layer(snapshot.layers.get("cells"))
        properties = [c for c in layer.columns if c != layer.geometry.name]
        features = frame_to_features(layer, properties, id_column=cell_id_column(layer))
        return feature_collection(features, as_of=snapshot.meta.get("as_of"))

    return data_response(cached_body(snapshot, ("cells",), build), mimetype=GEOJSON)


@bp.get("/rules")
def rules() -> ResponseReturnValue:
    """Return every shipped rule set with its levels and thresholds (``verified`` flags)."""
    only_params(())
    snapshot = get_snapshot()
    # rule_set_in_force reads every rule-set file: once per snapshot is enough
    in_force = cached_value(snapshot, ("in_force",), lambda: snapshot_rule_set(snapshot))

    def build() -> dict[str, Any]:
        sets = [rule_set_or_400(rid) for rid in list_rule_sets()]
        return {
            "in_force": in_force,
            "rule_sets": [rule_set_to_dict(r, in_force=r.id == in_force) for r in sets],
        }

    return data_response(cached_body(snapshot, ("rules",), build))


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """Return the OpenAPI 3.0 document of the ``/api`` and ``/ogc`` routes."""
    from webmap.openapi import build_openapi

    document = build_openapi(
        current_app.url_map, current_app.view_functions, server_url=request.url_root
    )
    return data_response(document, mimetype="application/vnd.oai.openapi+json;version=3.0")
