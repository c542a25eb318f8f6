"""Horizons without back-test skill are hidden: the publish step, the map layer and the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from boundaries.sets import load_boundary_set
from geo.workspace import open_workspace
from webmap import create_app
from webmap.pipeline import publish_workspace, read_forecast_skill, skill_meta
from webmap.publish import (
    DAY_TARGETS,
    WEEK_TARGETS,
    add_forecasts,
    day_target_week,
    hidden_targets,
    read_snapshot,
)

D = "2021-06-21"
CODE = "09163"
LEVELS = (0.025, 0.5, 0.975)


def skill_with(relative_wis: dict[int, float | None]) -> dict[str, Any]:
    """Skill data as ``safemap forecast`` writes it, from a relative WIS per week ahead."""
    horizons = {}
    for h, value in relative_wis.items():
        measurable = value is not None
        horizons[f"{h} wk ahead inc case"] = {
            "relative_wis": value,
            "measurable": measurable,
            "beats_baseline": measurable and value < 1,
        }
    return {"forecast_date": D, "origins": ["2021-05-31", "2021-06-07"], "horizons": horizons}


@pytest.mark.parametrize(
    ("horizon_days", "week"),
    [(1, 1), (5, 1), (6, 2), (12, 2), (13, 3), (19, 3), (20, 4), (26, 4), (27, 5), (28, 5)],
)
def test_day_target_week(horizon_days: int, week: int) -> None:
    assert day_target_week(horizon_days) == week


@pytest.mark.parametrize(
    ("skill", "hidden_weeks"),
    [
        (None, [1, 2, 3, 4]),  # not back-tested: nothing shown to beat the baseline
        ({}, [1, 2, 3, 4]),
        (skill_with({1: 0.8, 2: 0.9, 3: 0.95, 4: 0.99}), []),
        (skill_with({1: 0.8, 2: 1.0, 3: 0.7, 4: 0.6}), [2]),  # exactly 1 is not better
        (skill_with({1: 0.8, 2: 1.3, 3: 0.7, 4: None}), [2, 4]),  # not measurable: hidden
        (skill_with({1: 1.2}), [1, 2, 3, 4]),  # horizons missing from the skill: hidden
    ],
)
def test_hidden_targets_follow_relative_wis(
    skill: dict[str, Any] | None, hidden_weeks: list[int]
) -> None:
    hidden = hidden_targets(skill)
    assert [t for t in hidden if t in WEEK_TARGETS] == [
        f"{h} wk ahead inc case" for h in hidden_weeks
    ]
    days = [int(t.split(" ")[0]) for t in hidden if t in DAY_TARGETS]
    # a day is hidden with its epiweek; days 27-28 (epiweek 5) are never back-tested
    assert days == [n for n in range(1, 29) if day_target_week(n) in {*hidden_weeks, 5}]


def hub_rows() -> pd.DataFrame:
    rows = []
    for target in (*WEEK_TARGETS[:2], "1 day ahead inc case"):
        for q, v in zip(LEVELS, (1.0, 4.0, 12.0), strict=True):
            rows.append((D, target, "2021-06-26", CODE, "quantile", q, v))
        rows.append((D, target, "2021-06-26", CODE, "point", np.nan, 4.0))
    return pd.DataFrame(
        rows,
        columns=[
            "forecast_date",
            "target",
            "target_end_date",
            "location",
            "type",
            "quantile",
            "value",
        ],
    )


def test_hidden_targets_are_blank_in_the_commune_layer() -> None:
    communes = load_boundary_set("bac-ninh-2021").loc[[CODE]]
    layer = add_forecasts(communes, hub_rows(), hidden_targets=["2 wk ahead inc case"])
    assert layer.loc[CODE, "forecast_7d_median"] == 4.0
    assert {"forecast_14d_median", "forecast_14d_per_100k"} <= set(layer.columns)
    assert layer[["forecast_14d_median", "forecast_14d_upper"]].isna().all().all()


def publish(root: Path, skill: dict[str, Any] | None) -> Path:
    """A workspace over the real communes with one forecast, its skill file, then publish."""
    ws = open_workspace(root, create=True)
    real = load_boundary_set(ws.config.boundary_set)
    codes = [str(c) for c in real.index]
    dates = pd.date_range(end="2021-06-20", periods=28, freq="D")
    cases = np.random.default_rng(0).poisson(0.3, (28, len(codes))).astype(float)
    cube = xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={
            "date": dates,
            "commune": np.array(codes, dtype=object),
            "population": ("commune", real["population"].to_numpy(dtype=float)),
            "district": ("commune", real["district_name"].astype(object).to_numpy()),
        },
        attrs={"boundary_set": ws.config.boundary_set, "last_date": "2021-06-20"},
    )
    folder = root / "forecasts"
    folder.mkdir()
    hub_rows().to_csv(folder / f"{D}.csv", index=False)
    if skill is not None:
        (folder / f"{D}-skill.json").write_text(json.dumps(skill), encoding="utf-8")
    publish_workspace(ws, cube, synthetic=True)
    return root


@pytest.fixture(scope="module")
def worse_at_two(tmp_path_factory) -> Path:
    """Forecasts beat the baseline at horizons 1, 3 and 4 but not at 2 (relative WIS 1.4)."""
    return publish(tmp_path_factory.mktemp("worse2"), skill_with({1: 0.7, 2: 1.4, 3: 0.9, 4: 0.8}))


def test_publish_hides_the_horizon_worse_than_the_baseline(worse_at_two: Path) -> None:
    snapshot = read_snapshot(worse_at_two / "published")
    hidden = snapshot.meta["hidden_horizons"]
    assert [t for t in hidden if t in WEEK_TARGETS] == ["2 wk ahead inc case"]
    assert "1 wk ahead inc case" not in hidden and "1 day ahead inc case" not in hidden
    assert snapshot.meta["forecast_skill"] == {
        "assessed": True,
        "origins": ["2021-05-31", "2021-06-07"],
        "relative_wis": {
            f"{h} wk ahead inc case": v for h, v in {1: 0.7, 2: 1.4, 3: 0.9, 4: 0.8}.items()
        },
    }
    layer = snapshot.communes
    assert layer.loc[CODE, "forecast_7d_median"] == 4.0
    assert pd.isna(layer.loc[CODE, "forecast_14d_median"])


def test_api_omits_the_hidden_horizon(worse_at_two: Path) -> None:
    client = create_app({"TESTING": True, "WORKSPACE": str(worse_at_two)}).test_client()
    body = client.get(f"/api/forecasts?commune={CODE}").get_json()
    targets = {t["target"]: t for t in body["targets"]}
    assert targets["2 wk ahead inc case"]["hidden"] is True
    assert targets["2 wk ahead inc case"]["quantiles"] == []
    assert targets["2 wk ahead inc case"]["point"] is None
    assert "baseline" in targets["2 wk ahead inc case"]["hidden_reason"]
    assert targets["1 wk ahead inc case"]["hidden"] is False
    assert [q["value"] for q in targets["1 wk ahead inc case"]["quantiles"]] == [1.0, 4.0, 12.0]
    served = {row["target"] for row in body["forecasts"]}
    assert served == {"1 wk ahead inc case", "1 day ahead inc case"}


def test_forecasts_without_skill_are_all_hidden(tmp_path: Path) -> None:
    root = publish(tmp_path, None)
    snapshot = read_snapshot(root / "published")
    assert snapshot.meta["hidden_horizons"] == [*WEEK_TARGETS, *DAY_TARGETS]
    assert snapshot.meta["forecast_skill"] == {"assessed": False}
    client = create_app({"TESTING": True, "WORKSPACE": str(root)}).test_client()
    body = client.get(f"/api/forecasts?commune={CODE}").get_json()
    assert body["forecasts"] == [] and all(t["hidden"] for t in body["targets"])


@pytest.mark.parametrize("content", ["{broken", "[1, 2]"])
def test_an_unreadable_skill_file_counts_as_no_skill(tmp_path: Path, content: str) -> None:
    ws = open_workspace(tmp_path)
    csv = tmp_path / "forecasts" / f"{D}.csv"
    csv.parent.mkdir()
    (csv.parent / f"{D}-skill.json").write_text(content, encoding="utf-8")
    assert read_forecast_skill(ws, csv) is None
    assert skill_meta(read_forecast_skill(ws, csv)) == {"assessed": False}
    assert hidden_targets(read_forecast_skill(ws, csv)) == [*WEEK_TARGETS, *DAY_TARGETS]
