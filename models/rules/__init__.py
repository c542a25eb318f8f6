"""The official risk rule engine: versioned rule sets (data) applied to commune indicators.

Rule sets live in ``models/rules/data/<id>.toml``: 2686/QĐ-BCĐQG, 4800/QĐ-BYT, 218/QĐ-BYT,
and Covid Act Now (``can``) and CDC transmission levels (``cdc``) for comparison. Every
threshold carries ``verified`` and a grade; results list the unverified items they used.
"""

from __future__ import annotations

from models.rules._engine import assess_risk, rollup
from models.rules._indicators import derive_rates, indicators_from_cube
from models.rules._load import list_rule_sets, load_rule_set, rule_set_in_force
from models.rules._model import Band, RiskLevel, RuleSet, rule_set_from_dict

__all__ = [
    "Band",
    "RiskLevel",
    "RuleSet",
    "assess_risk",
    "derive_rates",
    "indicators_from_cube",
    "list_rule_sets",
    "load_rule_set",
    "rollup",
    "rule_set_from_dict",
    "rule_set_in_force",
]
