from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import RuleSetError
from models.rules import (
    RiskLevel,
    assess_risk,
    indicators_from_cube,
    list_rule_sets,
    load_rule_set,
    rollup,
    rule_set_from_dict,
)

COMMUNES = ["09163", "09166", "09169", "09172"]
DISTRICTS = {"09163": "256", "09166": "256", "09169": "258", "09172": "258"}


@pytest.fixture
def cube() -> xr.Dataset:
    dates = pd.date_range("2021-10-01", periods=20)
    cases = np.zeros((20, 4))
    cases[-7:, 0] = 1  # 7 a week in 10,000 -> 70 / 100k
    cases[-7:, 1] = 2  # 14 in 5,000 -> 280
    cases[-7:, 2] = 10  # 70 in 20,000 -> 350
    return xr.Dataset(
        {
            "cases": (("date", "commune"), cases),
            "cases_community": (("date", "commune"), cases),
            "cases_industrial_zone": (("date", "commune"), np.zeros((20, 4))),
            "doses_1": (("date", "commune"), np.full((20, 4), 300.0)),
        },
        coords={
            "date": dates,
            "commune": COMMUNES,
            "population": ("commune", [10000.0, 5000.0, 20000.0, 8000.0]),
            "district": ("commune", [DISTRICTS[c] for c in COMMUNES]),
            "commune_name": ("commune", ["Vũ Ninh", "Đáp Cầu", "Thị Cầu", "Đại Phúc"]),
        },
    )


def _ind(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"commune_code": [f"{i:05d}" for i in range(n)], **cols})


def test_list_and_unknown_id():
    assert list_rule_sets() == ["218", "2686", "4800", "can", "cdc"]
    with pytest.raises(RuleSetError, match=r"unknown rule set '9999'; expected one of \['218'"):
        load_rule_set("9999")


def test_risk_level_enum():
    assert RiskLevel.UNKNOWN.code is None
    assert RiskLevel.LEVEL_3.code == 3


@pytest.mark.parametrize(
    "incidence,level,unverified",
    [
        (0.0, 1, False),
        (19.99, 1, False),
        (20.0, 2, True),
        (49.99, 2, True),
        (50.0, 3, True),
        (149.99, 3, True),
        (150.0, 4, False),
        (1000.0, 4, False),
    ],
)
def test_4800_band_edges(incidence, level, unverified):
    out = assess_risk(
        _ind(community_incidence_7d_per_100k=[incidence], vaccine_coverage_1dose_adult=[0.9]),
        load_rule_set("4800"),
    )
    assert out["level"].iloc[0] == level
    used = out["unverified_criteria"].iloc[0]
    band_flag = any(u.startswith("community_incidence_7d_per_100k [") for u in used)
    assert band_flag is unverified
    # the coverage cut-off and the matrix are unverified whatever the band
    assert any("matrix" in u for u in out["unverified_criteria"].iloc[0])


@pytest.mark.parametrize("coverage,level", [(0.6999, 2), (0.70, 1)])
def test_4800_coverage_cutoff(coverage, level):
    out = assess_risk(
        _ind(community_incidence_7d_per_100k=[5.0], vaccine_coverage_1dose_adult=[coverage]),
        load_rule_set("4800"),
    )
    assert out["level"].iloc[0] == level


@pytest.mark.parametrize("rule_id", ["2686", "4800", "218", "can", "cdc"])
def test_nan_gives_unknown(rule_id):
    out = assess_risk(
        _ind(
            community_incidence_7d_per_100k=[np.nan],
            community_incidence_14d_per_100k=[np.nan],
            incidence_7d_per_100k=[np.nan],
            cases_per_100k_daily_7d_avg=[np.nan],
            vaccine_coverage_1dose_adult=[0.9],
            vaccine_coverage_full=[0.9],
            free_beds_per_100k=[50.0],
        ),
        load_rule_set(rule_id),
    )
    assert out["level"].isna().all()
    assert out["level_name_en"].iloc[0] == "Unknown"
    assert out["criteria_missing"].iloc[0]


def test_4800_no_downgrade_and_plus_one_variant():
    ind = _ind(
        community_incidence_7d_per_100k=[5.0, 5.0, 5.0],
        vaccine_coverage_1dose_adult=[0.9, 0.9, 0.9],
        treatment_capacity_ok=[0.0, 1.0, 0.0],
        previous_level=[3.0, 3.0, np.nan],
    )
    out = assess_risk(ind, load_rule_set("4800"))
    assert out["level"].tolist() == [3, 1, 1]
    assert "treatment_capacity: previous_level" in out["criteria_missing"].iloc[2]


def test_218_vaccination_plus_one_and_beds():
    ind = _ind(
        community_incidence_7d_per_100k=[700.0, 700.0, 100.0, 100.0, 100.0],
        free_beds_per_100k=[40.0, 40.0, 30.0, 9.99, 30.01],
        vaccine_coverage_full=[0.5, 0.8, 0.74, 0.8, 0.8],
    )
    out = assess_risk(ind, load_rule_set("218"))
    # L4 stays 4; 30 is 'medium' (inclusive) -> 2, then +1 for low coverage -> 3; <10 low -> 3
    assert out["level"].tolist() == [4, 4, 3, 3, 2]
    assert "vaccine_coverage_full_high_risk" in out["criteria_missing"].iloc[1]


@pytest.mark.parametrize(
    "cols,level",
    [
        ({"community_incidence_14d_per_100k": [0.5]}, 1),
        ({"community_incidence_14d_per_100k": [1.0]}, 1),  # "vượt": strictly more than 1
        ({"community_incidence_14d_per_100k": [1.01]}, 2),
        ({"community_incidence_14d_per_100k": [0.0], "cases_unknown_source_14d": [1.0]}, 3),
        ({"community_incidence_14d_per_100k": [0.0], "cases_industrial_zone_14d": [2.0]}, 4),
        ({"community_incidence_14d_per_100k": [np.nan], "clusters_unknown_source_14d": [1.0]}, 4),
    ],
)
def test_2686_commune(cols, level):
    out = assess_risk(_ind(**cols), load_rule_set("2686"))
    assert out["level"].iloc[0] == level


def test_2686_missing_qualitative_inputs_are_flagged():
    out = assess_risk(_ind(community_incidence_14d_per_100k=[0.0]), load_rule_set("2686"))
    assert out["level"].iloc[0] == 1
    assert "clusters_unknown_source_14d" in out["criteria_missing"].iloc[0]


@pytest.mark.parametrize(
    "rule_id,cols,level",
    [
        ("can", {"cases_per_100k_daily_7d_avg": [1.0], "rt": [2.0]}, 1),  # gate: low density
        ("can", {"cases_per_100k_daily_7d_avg": [1.01], "rt": [1.5]}, 4),
        ("can", {"cases_per_100k_daily_7d_avg": [10.0], "test_positivity_7d": [0.15]}, 3),
        ("cdc", {"incidence_7d_per_100k": [9.99], "test_positivity_7d": [0.08]}, 3),
        ("cdc", {"incidence_7d_per_100k": [100.0]}, 4),
        ("cdc", {"incidence_7d_per_100k": [10.0]}, 2),
    ],
)
def test_comparison_rule_sets(rule_id, cols, level):
    out = assess_risk(_ind(**cols), load_rule_set(rule_id))
    assert out["level"].iloc[0] == level


def test_indicators_from_cube(cube):
    ind = indicators_from_cube(cube, "2021-10-20", adult_share=0.7)
    assert ind["commune_code"].tolist() == COMMUNES
    np.testing.assert_allclose(ind["incidence_7d_per_100k"], [70.0, 280.0, 350.0, 0.0])
    np.testing.assert_allclose(ind["vaccine_coverage_1dose_adult"].iloc[0], 6000 / 7000)
    assert ind["test_positivity_7d"].isna().all()  # no tests variable: unknown, not zero
    early = indicators_from_cube(cube, "2021-10-03")
    assert early["cases_7d"].isna().all()  # window reaches before the cube
    assert early["vaccine_coverage_1dose_adult"].isna().all()  # no adult population


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"date": "2022-01-01"},
            r"date 2022-01-01 is not in the cube \(2021-10-01 to 2021-10-20\)",
        ),
        ({"date": None, "adult_share": 1.5}, r"adult_share is 1.5"),
    ],
)
def test_indicators_errors(cube, kwargs, match):
    with pytest.raises(RuleSetError, match=match):
        indicators_from_cube(cube, **kwargs)


def test_indicators_need_population(cube):
    with pytest.raises(RuleSetError, match="no 'population' coordinate"):
        indicators_from_cube(cube.drop_vars("population"))


def test_missing_cube_variable_gives_unknown(cube):
    ind = indicators_from_cube(cube.drop_vars("cases_community"), adult_share=0.7)
    out = assess_risk(ind, load_rule_set("4800"))
    assert out["level"].isna().all()
    assert "community_incidence_7d_per_100k" in out["criteria_missing"].iloc[0]


def test_assess_selects_date_and_rejects_duplicates():
    ind = pd.DataFrame(
        {
            "commune_code": ["a", "a"],
            "date": ["2021-10-01", "2021-10-02"],
            "incidence_7d_per_100k": [5.0, 500.0],
        }
    )
    assert assess_risk(ind, load_rule_set("cdc"))["level"].tolist() == [4]
    assert assess_risk(ind, load_rule_set("cdc"), date="2021-10-01")["level"].tolist() == [1]
    with pytest.raises(RuleSetError, match="commune 'a' appears more than once"):
        assess_risk(ind.drop(columns="date"), load_rule_set("cdc"))
    with pytest.raises(RuleSetError, match="lack a 'commune_code' column"):
        assess_risk(ind.drop(columns="commune_code"), load_rule_set("cdc"))


def _levels(values):
    return pd.DataFrame(
        {
            "commune_code": [f"c{i}" for i in range(len(values))],
            "level": pd.array(values, dtype="Int64"),
        }
    )


@pytest.mark.parametrize(
    "levels,scattered,expected",
    [
        ([1, 1, 1, 1], None, 1),
        ([2, 1, 1, 1], None, 2),  # approximation flagged unverified
        ([2, 2, 1, 1], None, 3),  # >= 50 % at risk
        ([4, 1, 1, 1, 1, 1, 1, 1, 1, 1], None, 3),  # one very high commune
        ([3, 3, 1, 1], None, 4),  # >= 50 % high
        ([4, 4, 4, 1, 1, 1, 1, 1, 1, 1], 1.0, 4),  # 30 % very high, scattered
        ([4, 4, 4, 1, 1, 1, 1, 1, 1, 1], 0.0, 3),  # 30 % very high, not scattered
        ([4, 4, 4, 1, 1, 1, 1, 1, 1, 1], None, None),  # scattered unknown -> unknown
        ([3, None, 1, 1], None, None),  # 25-50 % high: cannot tell
        ([3, 3, None, 1], None, 4),  # already >= 50 % whatever the unknown is
    ],
)
def test_2686_district_rollup(levels, scattered, expected):
    lv = _levels(levels)
    inputs = (
        None if scattered is None else pd.DataFrame({"unit_code": ["d"], "scattered": [scattered]})
    )
    out = rollup(
        lv, {c: "d" for c in lv["commune_code"]}, load_rule_set("2686"), district_inputs=inputs
    )
    district = out[out["unit_type"] == "district"].iloc[0]
    assert (pd.isna(district["level"]) and expected is None) or district["level"] == expected


def test_2686_province_rollup():
    lv = _levels([4, 4, 1, 1, 1, 1])
    mapping = {"c0": "d1", "c1": "d1", "c2": "d2", "c3": "d2", "c4": "d3", "c5": "d3"}
    out = rollup(lv, mapping, load_rule_set("2686"))
    assert out["unit_type"].tolist() == ["district"] * 3 + ["province"]
    # d1: 100 % very high but 'scattered' unknown -> 50 % high rule -> 4
    assert out["level"].tolist()[:3] == [4, 1, 1]
    assert out["level"].iloc[3] == 4  # 1 of 3 districts very high: 33 % >= 30 %
    lv = _levels([3, 3, 1, 1, 1, 1])
    out = rollup(lv, mapping, load_rule_set("2686"))
    assert out["level"].tolist() == [4, 1, 1, 4]
    lv = _levels([2, 2, 1, 1, 1, 1])
    out = rollup(lv, mapping, load_rule_set("2686"))
    assert out["level"].tolist() == [3, 1, 1, 3]  # 1 of 3 districts high: mirrored rule
    assert any("UNVERIFIED" in u for u in out["unverified_criteria"].iloc[3])


def test_recompute_rollup(cube):
    ind = indicators_from_cube(cube, adult_share=0.7)
    rules = load_rule_set("cdc")
    out = rollup(assess_risk(ind, rules), DISTRICTS, rules, indicators=ind)
    assert out["unit_code"].tolist() == ["256", "258", "province"]
    np.testing.assert_allclose(
        out["incidence_7d_per_100k"], [21 / 15000 * 1e5, 70 / 28000 * 1e5, 91 / 43000 * 1e5]
    )
    r4800 = load_rule_set("4800")
    out = rollup(assess_risk(ind, r4800), DISTRICTS, r4800, indicators=ind)
    assert all(
        "roll-up by recomputing on totals (UNVERIFIED)" in u for u in out["unverified_criteria"]
    )
    with pytest.raises(RuleSetError, match="pass indicators="):
        rollup(assess_risk(ind, r4800), DISTRICTS, r4800)
    with pytest.raises(RuleSetError, match=r"have no district"):
        rollup(assess_risk(ind, r4800), {"09163": "256"}, r4800, indicators=ind)


@pytest.mark.parametrize(
    "patch,match",
    [
        ({"method": "magic"}, "method: 'magic' is not one of"),
        ({"version": None}, "missing key 'version'"),
    ],
)
def test_rule_set_validation(patch, match):
    import tomllib
    from pathlib import Path

    import models.rules as pkg

    raw = tomllib.loads((Path(pkg.__file__).with_name("data") / "cdc.toml").read_text("utf-8"))
    for k, v in patch.items():
        if v is None:
            raw.pop(k)
        else:
            raw[k] = v
    with pytest.raises(RuleSetError, match=match):
        rule_set_from_dict(raw)


def test_overlapping_bands_rejected():
    raw = {
        "id": "t",
        "version": "1",
        "method": "worst_of",
        "levels": {"1": {"vi": "a", "en": "a"}},
        "worst_of": {"criteria": ["x"], "required": ["x"]},
        "criteria": {
            "x": {
                "bands": [
                    {
                        "value": 1,
                        "lower": 0,
                        "lower_inclusive": True,
                        "upper": 10,
                        "upper_inclusive": True,
                        "verified": True,
                    },
                    {
                        "value": 2,
                        "lower": 10,
                        "lower_inclusive": True,
                        "upper": 20,
                        "upper_inclusive": False,
                        "verified": True,
                    },
                ]
            }
        },
    }
    with pytest.raises(RuleSetError, match=r"bands \[0, 10\] and \[10, 20\) overlap"):
        rule_set_from_dict(raw)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["4800", "can", "cdc"]),
    st.floats(min_value=0, max_value=2000),
    st.floats(min_value=0, max_value=2000),
    st.floats(min_value=0, max_value=1),
)
def test_level_monotone_in_incidence(rule_id, a, b, coverage):
    lo, hi = sorted([a, b])
    ind = _ind(
        community_incidence_7d_per_100k=[lo, hi],
        incidence_7d_per_100k=[lo, hi],
        cases_per_100k_daily_7d_avg=[lo / 7, hi / 7],
        vaccine_coverage_1dose_adult=[coverage, coverage],
    )
    levels = assess_risk(ind, load_rule_set(rule_id))["level"].tolist()
    assert levels[0] <= levels[1]


@pytest.mark.parametrize(
    ("day", "rule_set"),
    [
        ("2021-03-01", "2686"),
        ("2021-05-31", "2686"),
        ("2021-10-11", "2686"),
        ("2021-10-12", "4800"),
        ("2022-01-26", "4800"),
        ("2022-01-27", "218"),
    ],
)
def test_rule_set_in_force_follows_effective_dates(day, rule_set) -> None:
    from models.rules import rule_set_in_force

    assert rule_set_in_force(day) == rule_set
