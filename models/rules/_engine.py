"""Pure evaluation of a rule set on indicators, and the commune -> district -> province roll-up.

Conditions are three-valued: 1.0 (holds), 0.0 (does not hold), NaN (cannot tell because an
input is missing). A level is never assigned when a required input is missing: the row is
UNKNOWN (``level`` is <NA>). Inputs a rule set marks ``optional`` count as "not met" when
missing and are listed in ``criteria_missing``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from models.errors import RuleSetError
from models.rules._indicators import EXTENSIVE, derive_rates
from models.rules._model import Condition, LevelRule, RuleSet

_OPS = {
    "gt": np.greater,
    "ge": np.greater_equal,
    "lt": np.less,
    "le": np.less_equal,
    "eq": np.equal,
}


class _Notes:
    """Per-row lists of unverified items used and criteria that were missing."""

    def __init__(self, n: int) -> None:
        self.unverified: list[list[str]] = [[] for _ in range(n)]
        self.missing: list[list[str]] = [[] for _ in range(n)]

    def add(self, kind: str, mask: np.ndarray, text: str) -> None:
        target = self.unverified if kind == "unverified" else self.missing
        for i in np.flatnonzero(mask):
            if text not in target[i]:
                target[i].append(text)


def _column(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound of a column (equal unless ``<name>_lo``/``<name>_hi`` exist)."""
    n = len(frame)
    if f"{name}_lo" in frame.columns and f"{name}_hi" in frame.columns:
        lo = pd.to_numeric(frame[f"{name}_lo"], errors="coerce").to_numpy(float, na_value=np.nan)
        hi = pd.to_numeric(frame[f"{name}_hi"], errors="coerce").to_numpy(float, na_value=np.nan)
        return lo, hi
    if name not in frame.columns:
        nan = np.full(n, np.nan)
        return nan, nan
    v = pd.to_numeric(frame[name], errors="coerce").to_numpy(float, na_value=np.nan)
    return v, v


def _leaf(frame: pd.DataFrame, cond: Condition, notes: _Notes, active: np.ndarray) -> np.ndarray:
    lo, hi = _column(frame, cond.criterion)
    op = _OPS[cond.op]
    with np.errstate(invalid="ignore"):
        r_lo = op(lo, cond.threshold)
        r_hi = op(hi, cond.threshold)
    out = np.where(r_lo == r_hi, r_lo.astype(float), np.nan)
    out[np.isnan(lo) | np.isnan(hi)] = np.nan
    if not cond.optional:
        notes.add("missing", (np.isnan(lo) | np.isnan(hi)) & active, cond.criterion)
    else:
        miss = np.isnan(out) & active
        notes.add("missing", miss, cond.criterion)
        out = np.where(np.isnan(out), 0.0, out)
    return out


def _evaluate(
    frame: pd.DataFrame, cond: Condition, notes: _Notes, active: np.ndarray
) -> np.ndarray:
    if not cond.all_of:
        out = _leaf(frame, cond, notes, active)
    else:
        parts = np.vstack([_evaluate(frame, c, notes, active) for c in cond.all_of])
        any_false = np.any(parts == 0.0, axis=0)
        any_nan = np.any(np.isnan(parts), axis=0)
        out = np.where(any_false, 0.0, np.where(any_nan, np.nan, 1.0))
        if cond.optional:
            notes.add("missing", np.isnan(out) & active, cond.describe())
            out = np.where(np.isnan(out), 0.0, out)
    if not cond.verified:
        notes.add("unverified", active, f"{cond.describe()} ({cond.grade or 'UNVERIFIED'})")
    return out


def _any_of(frame: pd.DataFrame, conds: tuple[Condition, ...], notes: _Notes, active: np.ndarray):
    parts = np.vstack([_evaluate(frame, c, notes, active) for c in conds])
    any_true = np.any(parts == 1.0, axis=0)
    any_nan = np.any(np.isnan(parts), axis=0)
    return np.where(any_true, 1.0, np.where(any_nan, np.nan, 0.0))


def _ordered(
    frame: pd.DataFrame, rules: tuple[LevelRule, ...], default: int, notes: _Notes
) -> np.ndarray:
    n = len(frame)
    level = np.full(n, np.nan)
    open_ = np.ones(n, dtype=bool)
    for rule in rules:
        res = _any_of(frame, rule.any_of, notes, open_)
        hit = open_ & (res == 1.0)
        unknown = open_ & np.isnan(res)
        level[hit] = rule.level
        open_ &= ~(hit | unknown)
    level[open_] = default
    return level


def _band_values(
    frame: pd.DataFrame, rules: RuleSet, name: str, notes: _Notes, active: np.ndarray
) -> np.ndarray:
    """Band value (level or label) per row; None where missing or outside every band."""
    crit = rules.criteria[name]
    v, _ = _column(frame, name)
    out = np.full(len(frame), None, dtype=object)
    for i in np.flatnonzero(active):
        x = v[i]
        if np.isnan(x):
            notes.missing[i].append(name)
            continue
        for band in crit.bands:
            if band.contains(float(x)):
                out[i] = band.value
                if not band.verified:
                    notes.unverified[i].append(f"{name} {band.label()} ({band.grade})")
                break
    return out


def _matrix(frame: pd.DataFrame, rules: RuleSet, notes: _Notes) -> np.ndarray:
    n = len(frame)
    everyone = np.ones(n, dtype=bool)
    rows = _band_values(frame, rules, rules.matrix_rows, notes, everyone)
    cols = _band_values(frame, rules, rules.matrix_columns, notes, everyone)
    level = np.full(n, np.nan)
    for i in range(n):
        if rows[i] is None or cols[i] is None:
            continue
        cell = rules.matrix_cells.get((rows[i], cols[i]))
        if cell is None:
            raise RuleSetError(
                f"rule set {rules.id!r}: no matrix cell for ({rows[i]!r}, {cols[i]!r}); "
                "add it to [matrix.cells] in the data file"
            )
        level[i] = cell
        if not rules.matrix_verified:
            notes.unverified[i].append(
                f"matrix {rules.matrix_rows}={rows[i]} x {rules.matrix_columns}={cols[i]} "
                "(UNVERIFIED)"
            )
    for adj in rules.adjustments:
        if not adj.enabled:
            continue
        known = ~np.isnan(level)
        res = _any_of(frame, adj.conditions, notes, known)
        undecided = known & np.isnan(res)
        if adj.required:
            level[undecided] = np.nan
        else:
            for cond in adj.conditions:
                notes.add("missing", undecided, f"{adj.id}: {cond.describe()}")
        fires = known & (res == 1.0)
        if not adj.verified:
            notes.add("unverified", known & ~np.isnan(res), f"adjustment {adj.id} ({adj.grade})")
        if adj.skip_at_level is not None:
            fires &= level != adj.skip_at_level
        if adj.skip_when_zero:
            z, _ = _column(frame, adj.skip_when_zero)
            fires &= ~(z == 0)
        if adj.action == "plus_one":
            level[fires] = np.minimum(level[fires] + 1, 4)
        else:  # no_downgrade: keep at least the previous level
            prev, _ = _column(frame, "previous_level")
            notes.add("missing", fires & np.isnan(prev), f"{adj.id}: previous_level")
            ok = fires & ~np.isnan(prev)
            level[ok] = np.maximum(level[ok], prev[ok])
    return level


def _worst_of(frame: pd.DataFrame, rules: RuleSet, notes: _Notes) -> np.ndarray:
    n = len(frame)
    everyone = np.ones(n, dtype=bool)
    parts = {}
    for name in rules.worst_of:
        vals = _band_values(frame, rules, name, notes, everyone)
        parts[name] = np.array([np.nan if v is None else float(v) for v in vals])
    stacked = np.vstack([parts[c] for c in rules.worst_of])
    worst = np.where(np.isnan(stacked), -np.inf, stacked).max(axis=0)
    level = np.where(np.isinf(worst), np.nan, worst)
    for name in rules.worst_of:
        miss = np.isnan(parts[name])
        if name in rules.worst_of_required:
            level[miss] = np.nan
        else:
            notes.add("missing", miss & ~np.isnan(level), name)
    if rules.gate is not None:
        gate_name, max_level = rules.gate
        g = parts[gate_name]
        low = ~np.isnan(g) & (g <= max_level)
        level[low] = g[low]
    return level


def _levels_frame(
    codes: pd.Series, level: np.ndarray, rules: RuleSet, notes: _Notes, values: pd.DataFrame
) -> pd.DataFrame:
    lv = pd.array([None if np.isnan(x) else int(x) for x in level], dtype="Int64")
    names = [rules.levels.get(int(x)) if not np.isnan(x) else None for x in level]
    out = pd.DataFrame(
        {
            "commune_code": codes.astype(str).to_numpy(),
            "level": lv,
            "level_name_vi": [n.vi if n else "Không xác định" for n in names],
            "level_name_en": [n.en if n else "Unknown" for n in names],
        }
    )
    for name in rules.criteria_used():
        out[name] = (
            pd.to_numeric(values[name], errors="coerce").to_numpy(float, na_value=np.nan)
            if name in values.columns
            else np.nan
        )
    out["rules"] = rules.id
    out["rules_version"] = rules.version
    out["unverified_criteria"] = notes.unverified
    out["criteria_missing"] = notes.missing
    return out


def assess_risk(indicators: pd.DataFrame, rules: RuleSet, *, date: object = None) -> pd.DataFrame:
    """Score every commune under a rule set.

    Parameters
    ----------
    indicators : pandas.DataFrame
        One row per commune (``commune_code`` column) with indicator columns named as the rule
        set's criteria (see :func:`indicators_from_cube`). A ``date`` column, when present,
        selects rows of ``date`` (default: the latest date).
    rules : RuleSet
        From :func:`load_rule_set`.
    date : date-like, optional
        Date to assess when ``indicators`` has several.

    Returns
    -------
    pandas.DataFrame
        ``commune_code, level`` (Int64, <NA> = unknown), ``level_name_vi, level_name_en``, the
        criteria values used, ``rules, rules_version``, ``unverified_criteria`` (list of the
        unverified thresholds, matrix cells and adjustments the result relied on) and
        ``criteria_missing`` (optional inputs that were absent).

    Raises
    ------
    RuleSetError
        When ``commune_code`` is missing or a commune appears twice for the date.
    """
    if "commune_code" not in indicators.columns:
        raise RuleSetError(
            f"indicators lack a 'commune_code' column (found {list(indicators.columns)}); "
            "build them with indicators_from_cube or add the column"
        )
    frame = indicators
    when = None
    if "date" in frame.columns:
        dates = pd.to_datetime(frame["date"])
        when = pd.Timestamp(date) if date is not None else dates.max()
        frame = frame.loc[(dates == when).to_numpy()]
    frame = frame.reset_index(drop=True)
    dup = frame["commune_code"].astype(str).duplicated()
    if dup.any():
        raise RuleSetError(
            f"commune {frame['commune_code'].astype(str)[dup].iloc[0]!r} appears more than once; "
            "expected one row per commune (and date)"
        )
    notes = _Notes(len(frame))
    if rules.method == "ordered_any":
        level = _ordered(frame, rules.rules, rules.default_level, notes)
    elif rules.method == "matrix":
        level = _matrix(frame, rules, notes)
    else:
        level = _worst_of(frame, rules, notes)
    out = _levels_frame(frame["commune_code"], level, rules, notes, frame)
    if when is not None:
        out.insert(1, "date", when.strftime("%Y-%m-%d"))
    return out


def _shares(levels: pd.Series, groups: pd.Series, extra: pd.DataFrame | None) -> pd.DataFrame:
    """Counts and shares of units at level >= k per group, as [lo, hi] bounds over unknowns."""
    frame = pd.DataFrame({"group": groups.to_numpy(), "level": levels.to_numpy()})
    unknown = frame["level"].isna()
    out = pd.DataFrame(index=pd.Index(sorted(frame["group"].unique()), name="unit_code"))
    out["units"] = frame.groupby("group").size()
    out["units_unknown"] = unknown.groupby(frame["group"]).sum()
    lv = frame["level"].astype("float")
    for k in (2, 3, 4):
        known_ge = (lv >= k).groupby(frame["group"]).sum()
        out[f"count_level_ge_{k}_lo"] = known_ge
        out[f"count_level_ge_{k}_hi"] = known_ge + out["units_unknown"]
        out[f"count_level_ge_{k}"] = np.where(out["units_unknown"] == 0, known_ge, np.nan)
        out[f"share_level_ge_{k}_lo"] = out[f"count_level_ge_{k}_lo"] / out["units"]
        out[f"share_level_ge_{k}_hi"] = out[f"count_level_ge_{k}_hi"] / out["units"]
        out[f"share_level_ge_{k}"] = out[f"count_level_ge_{k}"] / out["units"]
    out = out.reset_index()
    if extra is not None and len(extra):
        extra = extra.copy()
        extra["unit_code"] = extra["unit_code"].astype(str)
        out = out.merge(extra, on="unit_code", how="left")
    return out


def _unit_rows(
    unit_type: str,
    codes: pd.Series,
    level: np.ndarray,
    rules: RuleSet,
    notes: _Notes,
    values: pd.DataFrame,
    columns: list[str],
) -> pd.DataFrame:
    out = _levels_frame(codes, level, rules, notes, values).rename(
        columns={"commune_code": "unit_code"}
    )
    out.insert(0, "unit_type", unit_type)
    for c in columns:
        if c in values.columns:
            out[c] = values[c].to_numpy()
    return out


def rollup(
    levels: pd.DataFrame,
    communes_to_district: Mapping[str, str] | pd.Series,
    rules: RuleSet,
    *,
    indicators: pd.DataFrame | None = None,
    district_inputs: pd.DataFrame | None = None,
    province_code: str = "province",
) -> pd.DataFrame:
    """Roll commune levels up to districts and the province, as the rule set says.

    ``share_rules`` (2686): district levels from the shares of its communes at each level, then
    the province from the shares of districts. Unknown communes are bounded: a share condition
    holds only if it holds when every unknown commune is counted low, fails only if it fails
    when every unknown is counted high, and is unknown (so possibly the district) otherwise.
    ``recompute`` (4800, 218, CAN, CDC): the extensive indicators (counts, populations) are
    summed over the district / province, rates recomputed, and the rule set applied again.

    Parameters
    ----------
    levels : pandas.DataFrame
        Output of :func:`assess_risk` (``commune_code``, ``level``).
    communes_to_district : mapping or pandas.Series
        Commune code -> district code.
    rules : RuleSet
        The rule set that produced ``levels``.
    indicators : pandas.DataFrame, optional
        Commune indicators (needed by ``recompute`` rule sets).
    district_inputs : pandas.DataFrame, optional
        ``unit_code`` plus qualitative district inputs of 2686 (``scattered``,
        ``hard_to_control_spread_share``, ``protected_zone_adjacent_hard_source``).
    province_code : str
        Code given to the province row.

    Returns
    -------
    pandas.DataFrame
        One row per district then one for the province: ``unit_type, unit_code, level,
        level_name_vi, level_name_en``, the criteria used, ``rules, rules_version,
        unverified_criteria, criteria_missing``.

    Raises
    ------
    RuleSetError
        When a commune has no district, or ``recompute`` lacks indicators.
    """
    mapping = (
        dict(communes_to_district.items())
        if isinstance(communes_to_district, pd.Series)
        else dict(communes_to_district)
    )
    mapping = {str(k): str(v) for k, v in mapping.items()}
    codes = levels["commune_code"].astype(str)
    unmapped = sorted(set(codes) - set(mapping))
    if unmapped:
        raise RuleSetError(
            f"commune(s) {unmapped[:5]} have no district ({len(unmapped)} in all); expected "
            "every commune in communes_to_district; add them"
        )
    districts = codes.map(mapping)
    if rules.rollup_method == "share_rules":
        if not rules.rollup_district:
            raise RuleSetError(f"rule set {rules.id!r} has no [[rollup.district]] rules")
        d = _shares(levels["level"], districts, district_inputs)
        dn = _Notes(len(d))
        d_level = _ordered(d, rules.rollup_district, 1, dn)
        share_cols = [
            c
            for c in d.columns
            if c.startswith(("share_level_ge_", "count_level_ge_"))
            and not c.endswith(("_lo", "_hi"))
        ]
        d_out = _unit_rows(
            "district",
            d["unit_code"],
            d_level,
            rules,
            dn,
            d,
            ["units", "units_unknown", *share_cols],
        )
        p = _shares(
            pd.Series(d_level).where(~np.isnan(d_level)),
            pd.Series([province_code] * len(d)),
            None,
        )
        pn = _Notes(len(p))
        p_level = (
            _ordered(p, rules.rollup_province, 1, pn)
            if rules.rollup_province
            else np.full(1, np.nan)
        )
        p_out = _unit_rows(
            "province",
            p["unit_code"],
            p_level,
            rules,
            pn,
            p,
            ["units", "units_unknown", *share_cols],
        )
        return pd.concat([d_out, p_out], ignore_index=True)
    if indicators is None:
        raise RuleSetError(
            f"rule set {rules.id!r} rolls up by recomputing on totals; pass indicators= "
            "(the commune indicator table from indicators_from_cube)"
        )
    ind = indicators.copy()
    ind["commune_code"] = ind["commune_code"].astype(str)
    ind = ind[ind["commune_code"].isin(set(codes))]
    present = [c for c in EXTENSIVE if c in ind.columns]
    frames = []
    for unit_type, key in (
        ("district", ind["commune_code"].map(mapping)),
        ("province", pd.Series(province_code, index=ind.index)),
    ):
        # min_count=1 and skipna=False: a missing commune value makes the total missing
        agg = ind[present].groupby(key.to_numpy()).sum(min_count=1)
        nan_any = ind[present].isna().groupby(key.to_numpy()).any()
        agg = agg.mask(nan_any)
        if "free_beds_per_100k" in ind.columns:
            agg["free_beds_per_100k"] = ind["free_beds_per_100k"].groupby(key.to_numpy()).mean()
        agg = derive_rates(agg.rename_axis("commune_code").reset_index())
        notes_frame = assess_risk(agg, rules)
        if not rules.rollup_verified:
            for lst in notes_frame["unverified_criteria"]:
                lst.append("roll-up by recomputing on totals (UNVERIFIED)")
        notes_frame = notes_frame.rename(columns={"commune_code": "unit_code"})
        notes_frame.insert(0, "unit_type", unit_type)
        frames.append(notes_frame)
    return pd.concat(frames, ignore_index=True)
