"""I/O edge of the rule engine: reading the versioned TOML rule-set files shipped in ``data/``."""

from __future__ import annotations

import tomllib
from pathlib import Path

from models.errors import RuleSetError
from models.rules._model import RuleSet, rule_set_from_dict

DATA_DIR = Path(__file__).with_name("data")


def list_rule_sets() -> list[str]:
    """Ids of the shipped rule sets, sorted."""
    return sorted(p.stem for p in DATA_DIR.glob("*.toml"))


def load_rule_set(rule_set_id: str) -> RuleSet:
    """Load a shipped rule set by id (``2686``, ``4800``, ``218``, ``can``, ``cdc``)."""
    path = DATA_DIR / f"{rule_set_id}.toml"
    if not path.is_file():
        raise RuleSetError(f"unknown rule set {rule_set_id!r}; expected one of {list_rule_sets()}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetError(f"rule set file {path} is not valid TOML: {exc}") from exc
    return rule_set_from_dict(raw)


def rule_set_in_force(day: object) -> str:
    """Id of the official Vietnamese rule set in force on ``day`` (by each file's ``effective``).

    Only rule sets with an ``effective`` date count (the comparison sets ``can``/``cdc`` have
    none). Before the first one (2686, 2021-05-31) the first is returned, flagged by callers.
    """
    import datetime as dt

    when = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)[:10])
    dated = []
    for rule_set_id in list_rule_sets():
        raw = tomllib.loads((DATA_DIR / f"{rule_set_id}.toml").read_text(encoding="utf-8"))
        if isinstance(raw.get("effective"), dt.date):
            dated.append((raw["effective"], rule_set_id))
    dated.sort()
    in_force = [rule_set_id for effective, rule_set_id in dated if effective <= when]
    return in_force[-1] if in_force else dated[0][1]
