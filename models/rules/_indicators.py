"""Indicators for the rule engine, computed from the date x commune cube (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from models.errors import RuleSetError

#: Columns that add up over communes (summed in the roll-up, then rates recomputed).
EXTENSIVE = (
    "population",
    "population_adult",
    "cases_7d",
    "cases_14d",
    "community_cases_7d",
    "community_cases_14d",
    "cases_industrial_zone_14d",
    "tests_7d",
    "positives_7d",
    "doses_1_cum",
    "doses_2_cum",
)

#: Optional inputs passed through from cube variables of the same name (value at the date).
PASSTHROUGH = (
    "treatment_capacity_ok",
    "previous_level",
    "free_beds_per_100k",
    "vaccine_coverage_full_high_risk",
    "vaccine_coverage_full_elderly",
    "clusters_unknown_source_14d",
    "cases_unknown_source_14d",
    "cases_hard_to_trace_setting_14d",
    "rt",
)


def _ratio(num: pd.Series, den: pd.Series, scale: float = 1.0) -> pd.Series:
    num = pd.to_numeric(num, errors="coerce").astype(float)
    den = pd.to_numeric(den, errors="coerce").astype(float)
    out = num * scale / den.where(den > 0)
    return out


def derive_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the intensive indicators (rates, coverages) computed from the extensive columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with any of :data:`EXTENSIVE`; missing columns give NaN rates.

    Returns
    -------
    pandas.DataFrame
        A copy with ``incidence_7d_per_100k``, ``community_incidence_7d_per_100k``,
        ``community_incidence_14d_per_100k``, ``cases_per_100k_daily_7d_avg``,
        ``test_positivity_7d``, ``vaccine_coverage_1dose_adult`` and ``vaccine_coverage_full``.
    """
    out = frame.copy()
    nan = pd.Series(np.nan, index=out.index)

    def col(name: str) -> pd.Series:
        return out[name] if name in out.columns else nan

    out["incidence_7d_per_100k"] = _ratio(col("cases_7d"), col("population"), 1e5)
    out["cases_per_100k_daily_7d_avg"] = out["incidence_7d_per_100k"] / 7.0
    out["community_incidence_7d_per_100k"] = _ratio(
        col("community_cases_7d"), col("population"), 1e5
    )
    out["community_incidence_14d_per_100k"] = _ratio(
        col("community_cases_14d"), col("population"), 1e5
    )
    out["test_positivity_7d"] = _ratio(col("positives_7d"), col("tests_7d"))
    out["vaccine_coverage_1dose_adult"] = _ratio(col("doses_1_cum"), col("population_adult"))
    out["vaccine_coverage_full"] = _ratio(col("doses_2_cum"), col("population"))
    return out


def indicators_from_cube(
    cube: xr.Dataset, date: object = None, *, adult_share: float | None = None
) -> pd.DataFrame:
    """Compute the rule-engine indicators of every commune at one date.

    Window sums cover the 7 (or 14) days ending on ``date``; they are NaN when the cube does
    not reach that far back, or when the variable is absent (the criterion is then unknown,
    and rule sets that need it answer UNKNOWN or list it in ``criteria_missing``). Cumulative
    doses sum every day up to ``date``.

    Parameters
    ----------
    cube : xarray.Dataset
        Dims ``(date, commune)``; coordinates ``population`` (and optionally ``district``,
        ``commune_name``, ``population_adult``); variables such as ``cases``,
        ``cases_community``, ``cases_industrial_zone``, ``tests``, ``positives``, ``doses_1``,
        ``doses_2``, and any of the optional inputs in :data:`PASSTHROUGH`.
    date : date-like, optional
        Assessment date; default the last date of the cube.
    adult_share : float, optional
        Share of the population aged 18+, used for ``vaccine_coverage_1dose_adult`` when the
        cube has no ``population_adult`` coordinate. Without either, the coverage is NaN.

    Returns
    -------
    pandas.DataFrame
        One row per commune: ``commune_code``, ``date``, ``district``, ``commune_name`` (when
        present), the extensive counts of :data:`EXTENSIVE` and the rates of
        :func:`derive_rates`.

    Raises
    ------
    RuleSetError
        When the cube lacks the ``date``/``commune`` dims or ``population``, or ``date`` is not
        in the cube.
    """
    for dim in ("date", "commune"):
        if dim not in cube.dims:
            raise RuleSetError(
                f"cube has dims {tuple(cube.dims)}; expected 'date' and 'commune' "
                "(build it with 'safemap build')"
            )
    if "population" not in cube.coords and "population" not in cube.data_vars:
        raise RuleSetError(
            "cube has no 'population' coordinate; expected population per commune "
            "(from the boundary set) to compute rates per 100,000"
        )
    dates = pd.DatetimeIndex(cube["date"].values)
    when = dates.max() if date is None else pd.Timestamp(date)
    if when not in dates:
        raise RuleSetError(
            f"date {when:%Y-%m-%d} is not in the cube ({dates.min():%Y-%m-%d} to "
            f"{dates.max():%Y-%m-%d}); pass --date within that range"
        )
    t = int(dates.get_loc(when))
    codes = [str(c) for c in cube["commune"].values]
    out = pd.DataFrame({"commune_code": codes, "date": when.strftime("%Y-%m-%d")})
    for coord in ("district", "commune_name"):
        if coord in cube.coords:
            out[coord] = [str(v) for v in cube[coord].values]
    out["population"] = np.asarray(cube["population"].values, dtype=float)
    if "population_adult" in cube.coords or "population_adult" in cube.data_vars:
        out["population_adult"] = np.asarray(cube["population_adult"].values, dtype=float)
    elif adult_share is not None:
        if not 0 < adult_share <= 1:
            raise RuleSetError(f"adult_share is {adult_share}; expected 0 < share <= 1")
        out["population_adult"] = out["population"] * adult_share
    else:
        out["population_adult"] = np.nan

    def window(var: str, days: int) -> np.ndarray:
        if var not in cube.data_vars or t - days + 1 < 0:
            return np.full(len(codes), np.nan)
        block = cube[var].transpose("date", "commune").values[t - days + 1 : t + 1]
        return np.asarray(block, dtype=float).sum(axis=0)

    def cumulative(var: str) -> np.ndarray:
        if var not in cube.data_vars:
            return np.full(len(codes), np.nan)
        block = cube[var].transpose("date", "commune").values[: t + 1]
        return np.asarray(block, dtype=float).sum(axis=0)

    out["cases_7d"] = window("cases", 7)
    out["cases_14d"] = window("cases", 14)
    out["community_cases_7d"] = window("cases_community", 7)
    out["community_cases_14d"] = window("cases_community", 14)
    out["cases_industrial_zone_14d"] = window("cases_industrial_zone", 14)
    out["tests_7d"] = window("tests", 7)
    out["positives_7d"] = window("positives", 7)
    out["doses_1_cum"] = cumulative("doses_1")
    out["doses_2_cum"] = cumulative("doses_2")
    for name in PASSTHROUGH:
        if name in cube.data_vars:
            var = cube[name]
            values = var.sel(date=when).values if "date" in var.dims else var.values
            out[name] = np.asarray(values, dtype=float)
    return derive_rates(out)
