"""Published snapshots: the files the web app serves.

``build_commune_layer`` is pure (cube and boundaries in, GeoDataFrame out);
``write_snapshot`` and ``read_snapshot`` are the I/O edge. A snapshot is written to
a temporary directory and renamed into place, so the app never reads half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

COMMUNES_FILE = "communes.geojson"
META_FILE = "meta.json"
SNAPSHOT_DIR = "current"


def rolling_sum(values: xr.DataArray, *, window_days: int) -> xr.DataArray:
    """Trailing ``window_days`` sum along ``date`` (partial windows at the start)."""
    return values.rolling(date=window_days, min_periods=1).sum()


def build_commune_layer(
    cube: xr.Dataset,
    communes: gpd.GeoDataFrame,
    *,
    date: str | pd.Timestamp | None = None,
    window_days: int = 7,
) -> gpd.GeoDataFrame:
    """Per-commune public indicators on ``date`` (default: the cube's last day).

    Parameters
    ----------
    cube : xarray.Dataset
        The cube (``geo.cube.build_cube``), with ``cases`` over ``(date, commune)``.
    communes : GeoDataFrame
        The boundary set, indexed by ``commune_code``.
    date : date-like, optional
        Day the indicators are computed for.
    window_days : int
        Length of the trailing window of ``cases_7d``.

    Returns
    -------
    GeoDataFrame
        Index ``commune_code``; columns ``commune_name``, ``district_name``, ``population``,
        ``cases_7d``, ``cases_14d``, ``incidence_7d_per_100k`` (NaN where the population is
        unknown), ``cases_total``, ``last_case_date`` (None when no case), the static counts
        ``workers_resident``, ``workers_employed``, ``venues`` when the cube has them,
        ``date``, ``geometry``.

    Raises
    ------
    ValueError
        When ``date`` lies outside the cube.
    """
    day = pd.Timestamp(date) if date is not None else pd.Timestamp(cube["date"].values[-1])
    first, last = pd.Timestamp(cube["date"].values[0]), pd.Timestamp(cube["date"].values[-1])
    if not first <= day <= last:
        raise ValueError(
            f"date {day.date()} is outside the cube ({first.date()} to {last.date()}); "
            "pick a date in that range"
        )
    cases = cube["cases"].sel(date=slice(None, day))
    cases_7d = rolling_sum(cases, window_days=window_days).isel(date=-1)
    cases_14d = rolling_sum(cases, window_days=14).isel(date=-1)
    had_cases = (cases > 0).values
    dates = pd.DatetimeIndex(cases["date"].values)
    last_index = len(dates) - 1 - np.argmax(had_cases[::-1], axis=0)
    last_case = pd.Series(
        np.where(had_cases.any(axis=0), dates[last_index].strftime("%Y-%m-%d"), None),
        index=cases["commune"].values,
    )
    frame = pd.DataFrame(
        {
            "cases_7d": cases_7d.to_series(),
            "cases_14d": cases_14d.to_series(),
            "cases_total": cases.sum("date").to_series(),
            "last_case_date": last_case,
        }
    )
    for static in ("workers_resident", "workers_employed", "venues"):
        if static in cube and cube[static].dims == ("commune",):
            frame[static] = cube[static].to_series().astype(int)
    out = communes[["commune_name", "district_name", "population", "geometry"]].join(frame)
    out["cases_7d"] = out["cases_7d"].fillna(0).astype(int)
    out["cases_total"] = out["cases_total"].fillna(0).astype(int)
    out["cases_14d"] = out["cases_14d"].fillna(0).astype(int)
    population = pd.to_numeric(out["population"], errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = out["cases_7d"] / population.where(population > 0) * 100_000
    out["incidence_7d_per_100k"] = incidence.round(1)
    out["date"] = str(day.date())
    return gpd.GeoDataFrame(out, geometry="geometry", crs=communes.crs)


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot as the app reads it.

    Attributes
    ----------
    communes : GeoDataFrame
        The commune layer, index ``commune_code``.
    meta : dict
        ``as_of``, ``boundary_set``, ``attribution``, ``synthetic``, ...
    layers : dict of str to GeoDataFrame
        Further public layers by name (``venues``, ``cells``, ...), as published.
    tables : dict of str to DataFrame
        Public tables by name (e.g. ``forecasts``), as published (CSV).
    """

    communes: gpd.GeoDataFrame
    meta: dict[str, Any]
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def write_snapshot(
    published_dir: Path,
    communes: gpd.GeoDataFrame,
    meta: dict[str, Any],
    *,
    layers: dict[str, gpd.GeoDataFrame] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    officials: dict[str, pd.DataFrame] | None = None,
    officials_files: dict[str, Path] | None = None,
) -> Path:
    """Write a snapshot atomically under ``published_dir/current`` and return its path.

    ``layers`` and ``tables`` are public: aggregates only, no person-level rows.
    ``officials`` tables and ``officials_files`` (name -> file copied) go to ``officials/``,
    served only behind the officials' login.
    """
    published_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=published_dir))
    layer = communes.reset_index()
    layer.to_file(staging / COMMUNES_FILE, driver="GeoJSON", COORDINATE_PRECISION=5)
    for name, extra in (layers or {}).items():
        extra.to_file(staging / f"{name}.geojson", driver="GeoJSON", COORDINATE_PRECISION=5)
    for name, table in (tables or {}).items():
        table.to_csv(staging / f"{name}.csv", index=False)
    if officials or officials_files:
        write_officials_tables(staging, officials or {})
    for name, source in (officials_files or {}).items():
        shutil.copyfile(source, staging / OFFICIALS_DIR / name)
    (staging / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    target = published_dir / SNAPSHOT_DIR
    previous = published_dir / ".previous"
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        os.replace(target, previous)
    os.replace(staging, target)
    shutil.rmtree(previous, ignore_errors=True)
    return target


def read_snapshot(published_dir: Path) -> Snapshot:
    """Read the current snapshot.

    Raises
    ------
    FileNotFoundError
        When nothing has been published yet, with the command that publishes.
    """
    current = published_dir / SNAPSHOT_DIR
    if not (current / META_FILE).exists() and (published_dir / ".previous" / META_FILE).exists():
        # a publish was killed between its two renames: the previous snapshot is still whole
        current = published_dir / ".previous"
    if not (current / META_FILE).exists():
        raise FileNotFoundError(
            f"nothing published in {published_dir}; run 'safemap demo --no-serve' "
            "or 'safemap build' first"
        )
    communes = gpd.read_file(current / COMMUNES_FILE)
    communes["commune_code"] = communes["commune_code"].astype(str)
    communes = communes.set_index("commune_code")
    meta = json.loads((current / META_FILE).read_text("utf-8"))
    layers = {
        path.stem: gpd.read_file(path)
        for path in sorted(current.glob("*.geojson"))
        if path.name != COMMUNES_FILE
    }
    tables = {
        path.stem: pd.read_csv(path, dtype={"location": str, "commune_code": str})
        for path in sorted(current.glob("*.csv"))
    }
    return Snapshot(communes=communes, meta=meta, layers=layers, tables=tables)


def add_risk_levels(
    layer: gpd.GeoDataFrame,
    cube: xr.Dataset,
    rules_id: str,
    *,
    adult_share: float | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Add each commune's official risk level under ``rules_id`` on the layer's date.

    Returns the layer with ``level`` (1-4, or None for unknown), ``level_name_vi``,
    ``level_name_en``, ``rules``, ``rules_version``, ``unverified_criteria`` (";"-joined),
    and the indicators table (public aggregates) the levels were computed from.
    """
    from models.rules import assess_risk, indicators_from_cube, load_rule_set

    day = pd.Timestamp(layer["date"].iloc[0])
    indicators = indicators_from_cube(cube, day, adult_share=adult_share)
    levels = assess_risk(indicators, load_rule_set(rules_id), date=day).set_index("commune_code")
    out = layer.copy()
    out["level"] = levels["level"].reindex(out.index).astype("float").to_numpy()
    for column in ("level_name_vi", "level_name_en", "rules", "rules_version"):
        out[column] = levels[column].reindex(out.index).astype(str).to_numpy()
    out["unverified_criteria"] = [
        "; ".join(v) if isinstance(v, list | tuple) else str(v or "")
        for v in levels["unverified_criteria"].reindex(out.index)
    ]
    return out, indicators


def add_rt(layer: gpd.GeoDataFrame, cube: xr.Dataset) -> gpd.GeoDataFrame:
    """Add each commune's latest Rt (median and 95% interval; NaN where data are insufficient)."""
    from models.rt import estimate_rt

    day = pd.Timestamp(layer["date"].iloc[0])
    cases = cube["cases"].sel(date=slice(None, day)).rename(commune="location")
    rt = estimate_rt(cases).isel(date=-1)
    out = layer.copy()
    for column in ("rt_median", "rt_lower", "rt_upper"):
        values = rt[column].to_series().reindex(out.index)
        out[column] = values.round(2).to_numpy()
    return out


def suppress_counts(counts: pd.Series, threshold: int) -> pd.Series:
    """Public form of small counts: 0 hidden (NaN), 1..threshold-1 as "1-<threshold-1>"."""
    label = f"1-{threshold - 1}"
    shown = counts.astype(int).astype(str).where(counts >= threshold, label)
    return shown.where(counts > 0)


def cells_layer(
    cube: xr.Dataset, *, date: pd.Timestamp, window_days: int = 14, threshold: int = 6
) -> gpd.GeoDataFrame:
    """H3 cells with cases in the window, counts below ``threshold`` shown only as a range."""
    from geo.h3cells import cells_to_geodataframe

    if "cell_cases" not in cube or cube.sizes.get("cell", 0) == 0:
        return gpd.GeoDataFrame({"cell": [], "cases": []}, geometry=[], crs=4326)
    start = date - pd.Timedelta(days=window_days - 1)
    counts = cube["cell_cases"].sel(date=slice(start, date)).sum("date").to_series()
    counts = counts[counts > 0]
    shown = suppress_counts(counts, threshold)
    frame = cells_to_geodataframe(
        list(counts.index),
        {
            "cases": shown.to_numpy(dtype=object),
            "suppressed": (counts < threshold).to_numpy(),
            "window_days": [window_days] * len(counts),
        },
    )
    return frame


def venues_layer(
    venues: pd.DataFrame, assessments: pd.DataFrame | None, *, as_of: pd.Timestamp
) -> gpd.GeoDataFrame:
    """Venues with the band of their latest self-assessment (expired ones are not 'safe')."""
    from models.venues import venue_bands

    frame = venues[["venue_id", "name", "venue_type", "lat", "lon"]].copy()
    frame["venue_id"] = frame["venue_id"].astype(str)
    if assessments is not None and len(assessments):
        bands = venue_bands(assessments, as_of=as_of.date()).set_index("venue_id")
        bands.index = bands.index.astype(str)
        for column in ("band", "band_name_vi", "band_name_en", "colour", "safe", "expired"):
            frame[column] = bands[column].reindex(frame["venue_id"]).to_numpy()
        frame["assessed_on"] = (
            pd.to_datetime(bands["last_assessed"].reindex(frame["venue_id"]))
            .dt.strftime("%Y-%m-%d")
            .to_numpy()
        )
    else:
        frame["band"] = None
        frame["colour"] = "grey"
        frame["safe"] = False
    frame["band"] = pd.to_numeric(frame["band"], errors="coerce")
    frame["safe"] = frame["safe"].fillna(False).astype(bool)
    frame["colour"] = frame["colour"].fillna("grey")
    lon = pd.to_numeric(frame.pop("lon"), errors="coerce")
    lat = pd.to_numeric(frame.pop("lat"), errors="coerce")
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=4326)


FORECAST_WEEKS = {"forecast_7d": "1 wk ahead inc case", "forecast_14d": "2 wk ahead inc case"}


def add_forecasts(
    layer: gpd.GeoDataFrame,
    forecasts: pd.DataFrame,
    *,
    hidden_targets: list[str] | tuple[str, ...] = (),
) -> gpd.GeoDataFrame:
    """Add each commune's forecast for epiweeks 1 and 2 (median and 95% interval, per 100,000).

    ``forecast_7d_*`` is the ``1 wk ahead`` target (the epiweek ending the Saturday after the
    forecast date), ``forecast_14d_*`` the ``2 wk ahead`` one; only the latest forecast date.
    The columns of a target in ``hidden_targets`` are present but empty (NaN), so a horizon
    without skill is never served through the commune layer.
    """
    hub = forecasts[forecasts["type"] == "quantile"].copy()
    hub["location"] = hub["location"].astype(str)
    hub = hub[hub["forecast_date"] == hub["forecast_date"].max()]
    out = layer.copy()
    population = pd.to_numeric(out["population"], errors="coerce")
    hidden = set(hidden_targets)
    for prefix, target in FORECAST_WEEKS.items():
        rows = hub[(hub["target"] == target) & (target not in hidden)]
        for suffix, level in (("median", 0.5), ("lower", 0.025), ("upper", 0.975)):
            values = rows[np.isclose(rows["quantile"], level)].set_index("location")["value"]
            out[f"{prefix}_{suffix}"] = values.reindex(out.index).round(1).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            per_100k = out[f"{prefix}_median"] / population.where(population > 0) * 100_000
        out[f"{prefix}_per_100k"] = per_100k.round(1)
    return out


#: Targets of the published forecasts (``safemap forecast``): 1-4 weeks and 1-28 days ahead.
WEEK_TARGETS = tuple(f"{h} wk ahead inc case" for h in range(1, 5))
DAY_TARGETS = tuple(f"{n} day ahead inc case" for n in range(1, 29))


def day_target_week(horizon_days: int) -> int:
    """Epiweek (1-based) holding day ``D + horizon_days`` for a Monday forecast date D.

    D - 1 is the Sunday starting epiweek 1, so day ``D + n`` falls in epiweek
    ``(n + 1) // 7 + 1`` (days 1-5 in week 1, 6-12 in week 2, ..., 27-28 in week 5).
    """
    return (horizon_days + 1) // 7 + 1


def hidden_targets(skill: dict[str, Any] | None) -> list[str]:
    """Forecast targets to hide from the public map, from a forecast's skill data.

    Parameters
    ----------
    skill : dict or None
        Contents of ``forecasts/<D>-skill.json`` (``horizons``: per weekly target
        ``beats_baseline``), or None when the forecast was not back-tested.

    Returns
    -------
    list of str
        A weekly target is hidden unless its back-test showed a relative WIS below 1
        (``beats_baseline``): a relative WIS >= 1, and a horizon that could not be measured,
        are hidden. A day-ahead target is hidden when the epiweek holding its day is
        (:func:`day_target_week`; days 27-28 fall in epiweek 5, never back-tested). Without
        skill data every target is hidden. Weekly targets first, then daily ones.
    """
    horizons = (skill or {}).get("horizons") or {}
    shown_weeks = {
        int(target.split(" ")[0])
        for target, verdict in horizons.items()
        if target in WEEK_TARGETS and isinstance(verdict, dict) and verdict.get("beats_baseline")
    }
    weeks = [t for h, t in enumerate(WEEK_TARGETS, start=1) if h not in shown_weeks]
    days = [t for n, t in enumerate(DAY_TARGETS, start=1) if day_target_week(n) not in shown_weeks]
    return weeks + days


OFFICIALS_DIR = "officials"


def weekly_feed_table(cube: xr.Dataset) -> pd.DataFrame:
    """Every daily cube variable summed by epiweek (Sunday-Saturday) per commune, long format.

    Columns: ``week_end`` (the Saturday), ``commune_code``, ``variable``, ``value``.
    Officials only: aggregates, but finer than the public map needs.
    """
    daily = [name for name, var in cube.data_vars.items() if var.dims == ("date", "commune")]
    frame = cube[daily].to_dataframe()
    frame = frame.reset_index()
    frame["week_end"] = frame["date"] + pd.to_timedelta((5 - frame["date"].dt.day_of_week) % 7, "D")
    weekly = frame.drop(columns="date").groupby(["week_end", "commune"]).sum()
    long = weekly.melt(ignore_index=False, var_name="variable", value_name="value").reset_index()
    long = long.rename(columns={"commune": "commune_code"})
    long["week_end"] = long["week_end"].dt.strftime("%Y-%m-%d")
    return long[long["value"] != 0].reset_index(drop=True)


def write_officials_tables(snapshot_dir: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Write officials-only tables next to (not inside) the public layers of a snapshot."""
    folder = snapshot_dir / OFFICIALS_DIR
    folder.mkdir(exist_ok=True)
    for name, table in tables.items():
        tmp = folder / f".{name}.csv.tmp"
        table.to_csv(tmp, index=False)
        os.replace(tmp, folder / f"{name}.csv")


def read_officials_table(published_dir: Path, name: str) -> pd.DataFrame | None:
    """Read an officials-only table of the current snapshot (None when absent)."""
    path = published_dir / SNAPSHOT_DIR / OFFICIALS_DIR / f"{name}.csv"
    if not path.exists():
        return None
    return pd.read_csv(path, dtype={"commune_code": str, "venue_id": str})
