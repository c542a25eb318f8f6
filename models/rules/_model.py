"""Rule-set data model: risk levels, bands, conditions, and parsing of a rule-set mapping."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from models.errors import RuleSetError

OPS = ("gt", "ge", "lt", "le", "eq")
METHODS = ("ordered_any", "matrix", "worst_of")
ROLLUP_METHODS = ("share_rules", "recompute")
ACTIONS = ("plus_one", "no_downgrade")


class RiskLevel(IntEnum):
    """Area risk level: 1 (lowest) to 4 (highest), plus UNKNOWN when inputs are missing."""

    UNKNOWN = 0
    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4

    @property
    def code(self) -> int | None:
        """The level as 1-4, or None for UNKNOWN."""
        return None if self is RiskLevel.UNKNOWN else int(self)


@dataclass(frozen=True)
class LevelName:
    """Display names and colour of one level in one rule set."""

    vi: str
    en: str
    colour: str = ""


@dataclass(frozen=True)
class Band:
    """One band of a criterion, with explicit inclusive/exclusive bounds."""

    value: int | str
    lower: float
    upper: float
    lower_inclusive: bool
    upper_inclusive: bool
    verified: bool
    grade: str = ""
    source: str = ""

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the band."""
        lo_ok = x >= self.lower if self.lower_inclusive else x > self.lower
        hi_ok = x <= self.upper if self.upper_inclusive else x < self.upper
        return bool(lo_ok and hi_ok)

    def label(self) -> str:
        """The band in interval notation, e.g. ``[20, 50)``."""
        lo = "[" if self.lower_inclusive else "("
        hi = "]" if self.upper_inclusive else ")"
        up = "inf" if math.isinf(self.upper) else f"{self.upper:g}"
        return f"{lo}{self.lower:g}, {up}{hi}"


@dataclass(frozen=True)
class Criterion:
    """A banded indicator."""

    name: str
    description: str
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Condition:
    """A comparison ``criterion op threshold``, or a conjunction of conditions (``all_of``)."""

    criterion: str = ""
    op: str = "gt"
    threshold: float = 0.0
    all_of: tuple[Condition, ...] = ()
    optional: bool = False
    verified: bool = True
    grade: str = ""
    source: str = ""

    def criteria(self) -> list[str]:
        """Every criterion name this condition reads."""
        if self.all_of:
            return [c for sub in self.all_of for c in sub.criteria()]
        return [self.criterion]

    def describe(self) -> str:
        """Readable form, e.g. ``share_level_ge_4 >= 0.3``."""
        if self.all_of:
            return " and ".join(c.describe() for c in self.all_of)
        sym = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "=="}[self.op]
        return f"{self.criterion} {sym} {self.threshold:g}"


@dataclass(frozen=True)
class LevelRule:
    """Level assigned when any of the conditions holds (checked top-down)."""

    level: int
    any_of: tuple[Condition, ...]


@dataclass(frozen=True)
class Adjustment:
    """A post-matrix adjustment (``plus_one`` or ``no_downgrade``) triggered by any condition."""

    id: str
    action: str
    conditions: tuple[Condition, ...]
    required: bool
    enabled: bool
    verified: bool
    skip_at_level: int | None = None
    skip_when_zero: str | None = None
    grade: str = ""
    source: str = ""


@dataclass(frozen=True)
class RuleSet:
    """A versioned rule set loaded from a TOML data file.

    Attributes
    ----------
    id, version : str
        Identifier (``"4800"``) and version of the data.
    method : str
        ``ordered_any`` (2686), ``matrix`` (4800, 218) or ``worst_of`` (CAN, CDC).
    levels : dict
        Level number -> :class:`LevelName`.
    """

    id: str
    version: str
    title_vi: str
    title_en: str
    method: str
    levels: dict[int, LevelName]
    criteria: dict[str, Criterion] = field(default_factory=dict)
    rules: tuple[LevelRule, ...] = ()
    default_level: int = 1
    matrix_rows: str = ""
    matrix_columns: str = ""
    matrix_cells: dict[tuple[int | str, int | str], int] = field(default_factory=dict)
    matrix_verified: bool = True
    adjustments: tuple[Adjustment, ...] = ()
    worst_of: tuple[str, ...] = ()
    worst_of_required: tuple[str, ...] = ()
    gate: tuple[str, int] | None = None
    rollup_method: str = "recompute"
    rollup_verified: bool = False
    rollup_district: tuple[LevelRule, ...] = ()
    rollup_province: tuple[LevelRule, ...] = ()
    effective: str = ""
    superseded_by: str = ""

    def criteria_used(self) -> list[str]:
        """Indicator columns this rule set reads, in a stable order."""
        names: list[str] = []
        if self.method == "ordered_any":
            for rule in self.rules:
                for cond in rule.any_of:
                    names.extend(cond.criteria())
        elif self.method == "matrix":
            names.extend([self.matrix_rows, self.matrix_columns])
            for adj in self.adjustments:
                if adj.enabled:
                    for cond in adj.conditions:
                        names.extend(cond.criteria())
        else:
            names.extend(self.worst_of)
        return list(dict.fromkeys(names))


def _err(rule_id: str, where: str, msg: str) -> RuleSetError:
    return RuleSetError(f"rule set {rule_id!r}, {where}: {msg}; fix the rule-set data file")


def _bool(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    return bool(raw.get(key, default))


def _condition(rule_id: str, where: str, raw: Mapping[str, Any]) -> Condition:
    meta = {
        "optional": _bool(raw, "optional", False),
        "verified": _bool(raw, "verified", True),
        "grade": str(raw.get("grade", "")),
        "source": str(raw.get("source", "")),
    }
    if "all_of" in raw:
        subs = tuple(_condition(rule_id, where, c) for c in raw["all_of"])
        return Condition(all_of=subs, **meta)  # type: ignore[arg-type]
    for key in ("criterion", "op", "threshold"):
        if key not in raw:
            raise _err(rule_id, where, f"condition {dict(raw)} lacks {key!r}")
    if raw["op"] not in OPS:
        raise _err(rule_id, where, f"op is {raw['op']!r}; expected one of {OPS}")
    return Condition(
        criterion=str(raw["criterion"]),
        op=str(raw["op"]),
        threshold=float(raw["threshold"]),
        **meta,  # type: ignore[arg-type]
    )


def _level_rules(rule_id: str, where: str, raw: Any) -> tuple[LevelRule, ...]:
    out = []
    for i, r in enumerate(raw or []):
        level = int(r["level"])
        if level not in (1, 2, 3, 4):
            raise _err(rule_id, f"{where}[{i}]", f"level is {level}; expected 1-4")
        out.append(
            LevelRule(level, tuple(_condition(rule_id, f"{where}[{i}]", c) for c in r["any_of"]))
        )
    return tuple(sorted(out, key=lambda r: -r.level))


def _band(rule_id: str, where: str, raw: Mapping[str, Any]) -> Band:
    try:
        band = Band(
            value=raw["value"],
            lower=float(raw["lower"]),
            upper=float(raw["upper"]),
            lower_inclusive=bool(raw["lower_inclusive"]),
            upper_inclusive=bool(raw["upper_inclusive"]),
            verified=bool(raw["verified"]),
            grade=str(raw.get("grade", "")),
            source=str(raw.get("source", "")),
        )
    except KeyError as exc:
        raise _err(rule_id, where, f"band {dict(raw)} lacks {exc}") from exc
    if band.lower > band.upper:
        raise _err(rule_id, where, f"band lower {band.lower} > upper {band.upper}")
    return band


def rule_set_from_dict(raw: Mapping[str, Any]) -> RuleSet:
    """Build a :class:`RuleSet` from the mapping read from a TOML rule-set file.

    Parameters
    ----------
    raw : mapping
        Parsed TOML.

    Returns
    -------
    RuleSet

    Raises
    ------
    RuleSetError
        On a missing key, an unknown method/op/action, or overlapping bands.
    """
    rule_id = str(raw.get("id", "?"))
    for key in ("id", "version", "method", "levels"):
        if key not in raw:
            raise _err(rule_id, "top level", f"missing key {key!r}")
    method = str(raw["method"])
    if method not in METHODS:
        raise _err(rule_id, "method", f"{method!r} is not one of {METHODS}")
    levels = {
        int(k): LevelName(str(v["vi"]), str(v["en"]), str(v.get("colour", "")))
        for k, v in raw["levels"].items()
    }
    criteria: dict[str, Criterion] = {}
    for name, spec in raw.get("criteria", {}).items():
        bands = tuple(
            _band(rule_id, f"criteria.{name}.bands[{i}]", b)
            for i, b in enumerate(spec.get("bands", []))
        )
        ordered = sorted(bands, key=lambda b: (b.lower, not b.lower_inclusive))
        for a, b in zip(ordered, ordered[1:], strict=False):
            overlap = a.upper > b.lower or (
                a.upper == b.lower and a.upper_inclusive and b.lower_inclusive
            )
            if overlap:
                raise _err(
                    rule_id, f"criteria.{name}", f"bands {a.label()} and {b.label()} overlap"
                )
        criteria[name] = Criterion(name, str(spec.get("description", "")), bands)
    kwargs: dict[str, Any] = {}
    if method == "ordered_any":
        kwargs["rules"] = _level_rules(rule_id, "rules", raw.get("rules"))
        kwargs["default_level"] = int(raw.get("default_level", 1))
    elif method == "matrix":
        mx = raw.get("matrix")
        if not mx:
            raise _err(rule_id, "matrix", "method 'matrix' needs a [matrix] table")
        for axis in ("rows", "columns"):
            if mx.get(axis) not in criteria:
                raise _err(rule_id, f"matrix.{axis}", f"{mx.get(axis)!r} is not a criterion")
        cells: dict[tuple[int | str, int | str], int] = {}
        for row_key, row in mx["cells"].items():
            for col_key, level in row.items():
                r: int | str = int(row_key) if str(row_key).isdigit() else str(row_key)
                c: int | str = int(col_key) if str(col_key).isdigit() else str(col_key)
                cells[(r, c)] = int(level)
        kwargs.update(
            matrix_rows=str(mx["rows"]),
            matrix_columns=str(mx["columns"]),
            matrix_cells=cells,
            matrix_verified=bool(mx.get("verified", False)),
        )
        adjustments = []
        for i, a in enumerate(raw.get("adjustments", [])):
            if a.get("action") not in ACTIONS:
                raise _err(
                    rule_id, f"adjustments[{i}]", f"action {a.get('action')!r} not in {ACTIONS}"
                )
            adjustments.append(
                Adjustment(
                    id=str(a["id"]),
                    action=str(a["action"]),
                    conditions=tuple(
                        _condition(rule_id, f"adjustments[{i}]", c) for c in a["conditions"]
                    ),
                    required=bool(a.get("required", False)),
                    enabled=bool(a.get("enabled", True)),
                    verified=bool(a.get("verified", False)),
                    skip_at_level=a.get("skip_at_level"),
                    skip_when_zero=a.get("skip_when_zero"),
                    grade=str(a.get("grade", "")),
                    source=str(a.get("source", "")),
                )
            )
        kwargs["adjustments"] = tuple(adjustments)
    else:
        spec = raw.get("worst_of") or {}
        names = tuple(str(c) for c in spec.get("criteria", []))
        unknown = [c for c in names if c not in criteria]
        if not names or unknown:
            raise _err(rule_id, "worst_of.criteria", f"unknown or empty criteria {unknown}")
        kwargs["worst_of"] = names
        kwargs["worst_of_required"] = tuple(str(c) for c in spec.get("required", []))
        if "gate" in spec:
            kwargs["gate"] = (str(spec["gate"]["criterion"]), int(spec["gate"]["max_level"]))
    rollup = raw.get("rollup", {})
    rollup_method = str(rollup.get("method", "recompute"))
    if rollup_method not in ROLLUP_METHODS:
        raise _err(rule_id, "rollup.method", f"{rollup_method!r} not in {ROLLUP_METHODS}")
    return RuleSet(
        id=rule_id,
        version=str(raw["version"]),
        title_vi=str(raw.get("title_vi", "")),
        title_en=str(raw.get("title_en", "")),
        method=method,
        levels=levels,
        criteria=criteria,
        rollup_method=rollup_method,
        rollup_verified=bool(rollup.get("verified", False)),
        rollup_district=_level_rules(rule_id, "rollup.district", rollup.get("district")),
        rollup_province=_level_rules(rule_id, "rollup.province", rollup.get("province")),
        effective=str(raw.get("effective", "")),
        superseded_by=str(raw.get("superseded_by", "")),
        **kwargs,
    )
