"""From a workspace's cube to the published snapshot, and the demo workspace.

This is the I/O edge around the pure builders of ``webmap.publish``: it reads the cube,
the event store and the forecasts of a workspace and writes ``published/current``.
Every step of the demo uses the production code path (the same functions and commands).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from boundaries.sets import load_boundary_set
from geo.workspace import Workspace, open_workspace
from webmap.publish import (
    add_forecasts,
    add_risk_levels,
    add_rt,
    build_commune_layer,
    cells_layer,
    hidden_targets,
    venues_layer,
    weekly_feed_table,
    write_snapshot,
)

# Share of the population aged 18+ (2019 census: 24.3% aged 0-14; about 4% aged 15-17):
# denominators of adult vaccine coverage when the boundary set has no adult population.
ADULT_SHARE = 0.72
DEMO_FEED_ORDER = (
    # venues before check-ins and assessments: a check-in inherits its venue's place
    "venues",
    "workers",
    "cases",
    "contacts",
    "tests",
    "declarations",
    "checkins",
    "movements",
    "assessments",
    "feedback",
    "vaccinations",
    "workforce",
)


def _feed(ws: Workspace, feed: str) -> pd.DataFrame | None:
    from geo.store import list_batches, read_feed

    if not list_batches(ws, feed):
        return None
    return read_feed(ws, feed)


def _latest_forecast_file(ws: Workspace) -> Path | None:
    """The latest ``forecasts/<D>.csv`` written by 'safemap forecast', or None."""
    folder = ws.root / "forecasts"
    files = sorted(folder.glob("*.csv")) if folder.exists() else []
    return files[-1] if files else None


def read_forecast_skill(ws: Workspace, forecast_csv: Path) -> dict[str, Any] | None:
    """The skill written beside a forecast (``<D>-skill.json``), or None when there is none.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    forecast_csv : pathlib.Path
        ``<workspace>/forecasts/<D>.csv``.

    Returns
    -------
    dict or None
        The back-test's relative WIS per horizon (:func:`forecast.workspace.read_skill`).
        A file that cannot be read counts as no skill (every horizon hidden), never as
        skill.
    """
    from forecast.errors import ForecastInputError
    from forecast.workspace import read_skill

    try:
        return read_skill(ws, date.fromisoformat(forecast_csv.stem))
    except (ForecastInputError, OSError, ValueError):
        return None


def skill_meta(skill: dict[str, Any] | None) -> dict[str, Any]:
    """What the public snapshot says about the forecasts' skill (``meta["forecast_skill"]``).

    Parameters
    ----------
    skill : dict or None
        From :func:`read_forecast_skill`.

    Returns
    -------
    dict
        ``assessed`` (bool), and when assessed ``origins`` (the back-test's Mondays) and
        ``relative_wis`` per weekly target (None where not measurable).
    """
    if skill is None:
        return {"assessed": False}
    return {
        "assessed": True,
        "origins": list(skill.get("origins", [])),
        "relative_wis": {
            str(target): verdict.get("relative_wis")
            for target, verdict in (skill.get("horizons") or {}).items()
            if isinstance(verdict, dict)
        },
    }


def publish_workspace(
    ws: Workspace,
    cube: xr.Dataset,
    *,
    synthetic: bool,
    rules_id: str | None = None,
) -> Path:
    """Compute every public layer from the workspace and publish it atomically.

    ``rules_id`` defaults to the official rule set in force on the cube's last day.
    """
    from models.rules import rule_set_in_force

    day = pd.Timestamp(cube.attrs["last_date"])
    rules_id = rules_id or rule_set_in_force(day.date())
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    layer = build_commune_layer(cube, communes)
    layer, indicators = add_risk_levels(layer, cube, rules_id, adult_share=ADULT_SHARE)
    layer = add_rt(layer, cube)
    layers = {
        "cells": cells_layer(cube, date=day, threshold=ws.config.suppression_threshold),
    }
    venues = _feed(ws, "venues")
    if venues is not None:
        layers["venues"] = venues_layer(venues, _feed(ws, "assessments"), as_of=day)
    tables: dict[str, pd.DataFrame] = {"indicators": indicators}
    forecast_file = _latest_forecast_file(ws)
    forecast_extra: dict[str, Any] = {}
    if forecast_file is not None:
        forecasts = pd.read_csv(forecast_file, dtype={"location": str})
        skill = read_forecast_skill(ws, forecast_file)
        hidden = hidden_targets(skill)
        tables["forecasts"] = forecasts
        layer = add_forecasts(layer, forecasts, hidden_targets=hidden)
        forecast_extra = {"hidden_horizons": hidden, "forecast_skill": skill_meta(skill)}
    officials = {"weekly": weekly_feed_table(cube), **_suggestions(ws, cube, communes, day)}
    proposals = _latest_proposals(ws)
    officials_files = {} if proposals is None else {"proposals.geojson": proposals}
    cell_proposals = _latest_proposals(ws, unit="h3")
    if cell_proposals is not None:
        officials_files["proposals_h3.geojson"] = cell_proposals
    tables["real_province_weekly"] = real_province_weekly()
    meta: dict[str, Any] = {
        "as_of": cube.attrs.get("as_of"),
        "as_of_display": day.strftime("%d/%m/%Y"),
        "date": str(day.date()),
        "boundary_set": ws.config.boundary_set,
        "rules": rules_id,
        "attribution": communes.attrs.get("attribution", ""),
        "synthetic": synthetic,
        "suppression_threshold": ws.config.suppression_threshold,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **forecast_extra,
    }
    return write_snapshot(
        ws.published,
        layer,
        meta,
        layers=layers,
        tables=tables,
        officials=officials,
        officials_files=officials_files,
    )


def _latest_proposals(ws: Workspace, *, unit: str = "commune") -> Path | None:
    """The latest 'safemap zones propose' output file of ``unit`` (commune or h3), or None."""
    folder = ws.root / "forecasts"
    pattern = "zones-h3-*.geojson" if unit == "h3" else "zones-[0-9]*.geojson"
    files = sorted(folder.glob(pattern)) if folder.exists() else []
    return files[-1] if files else None


def real_province_weekly(region_code: str = "27") -> pd.DataFrame:
    """Bắc Ninh's real weekly cases (Ministry of Health / NCSC series shipped with safemap)."""
    from geo.epi import read_province_series

    series = read_province_series("ncsc")
    series = series[series["region_code"] == region_code].set_index("date")["new_cases"]
    weekly = series.resample("W-SAT").sum()
    return pd.DataFrame(
        {"week_end": weekly.index.strftime("%Y-%m-%d"), "cases": weekly.to_numpy(dtype=int)}
    )


def _suggestions(
    ws: Workspace, cube: xr.Dataset, communes: Any, day: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Tracing (venues visited by F0s) and testing suggestions, for officials only."""
    from forecast.errors import ForecastInputError
    from forecast.tracing import exposure_venues, testing_priorities
    from models.errors import ModelInputError

    out: dict[str, pd.DataFrame] = {}
    checkins, cases, venues = _feed(ws, "checkins"), _feed(ws, "cases"), _feed(ws, "venues")
    if checkins is not None and cases is not None:
        recent = cases[pd.to_datetime(cases["report_date"]) > day - pd.Timedelta(days=14)]
        out["tracing"] = exposure_venues(checkins, recent, venues=venues).head(200)
    try:
        out["testing"] = testing_priorities(cube, communes, day + pd.Timedelta(days=1))
    except (ForecastInputError, ModelInputError) as exc:  # too little history: say so
        out["testing"] = pd.DataFrame({"note": [str(exc)]})
    return out


def build_demo(
    workspace_dir: str | Path | None,
    *,
    days: int = 60,
    scale: float = 0.05,
    seed: int = 0,
    forecast_members: int = 200,
    report: Callable[[str], None] = lambda message: None,
) -> Workspace:
    """Build (or refresh) the demo workspace and publish its map.

    Parameters
    ----------
    workspace_dir : path-like, optional
        Workspace directory (created when missing).
    days, scale, seed : int, float, int
        Size and seed of the synthetic feeds (``safemap synth``).
    forecast_members : int
        SEIR members of ``safemap forecast`` (0 skips forecasting).
    report : callable
        Receives one line of progress per step.
    """
    from forecast._cli_workspace import forecast, zones
    from geo._cli_synth import synth
    from geo.build import build_workspace_cube
    from geo.ingest import ingest_file

    ws = open_workspace(workspace_dir)
    feeds_dir = ws.root / "demo-feeds"
    if not (feeds_dir / "params.json").exists():
        report(f"synth: {days} days at scale {scale} (seed {seed}) -> {feeds_dir}")
        synth.main(
            [
                "--days",
                str(days),
                "--scale",
                str(scale),
                "--seed",
                str(seed),
                "--out",
                str(feeds_dir),
                "--boundary-set",
                ws.config.boundary_set,
                "--no-geojson",
            ],
            standalone_mode=False,
        )
    for feed in DEMO_FEED_ORDER:
        path = feeds_dir / f"{feed}.csv"
        if not path.exists():
            continue
        summary = ingest_file(ws, feed, path)
        state = "already ingested" if summary.already_ingested else "ingested"
        report(f"ingest {feed}: {state}, {summary.accepted} accepted, {summary.rejected} rejected")
    cube = build_workspace_cube(ws)
    report(
        f"build: {cube.sizes['date']} days x {cube.sizes['commune']} communes, "
        f"{int(cube['cases'].sum())} cases"
    )
    if forecast_members > 0:
        report(
            f"forecast: median of a SEIR ensemble of {forecast_members} members, the "
            "statistical model and the COVIDhub-baseline"
        )
        forecast.main(
            ["--workspace", str(ws.root), "--members", str(forecast_members)],
            standalone_mode=False,
        )
        report("zones: lockdown proposals from the forecast (officials only)")
        zones.main(
            ["propose", "--workspace", str(ws.root), "--members", str(min(forecast_members, 50))],
            standalone_mode=False,
        )
    target = publish_workspace(ws, cube, synthetic=True)
    report(f"publish: {target}")
    return ws
