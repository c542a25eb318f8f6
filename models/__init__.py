"""Models: Rt, SEIR metapopulation, calibration, regression risk models, official rules."""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; imported on first use (keeps `import` light, no cycles)
_EXPORTS = {
    "NextWeekCasesModel": "models.regression",
    "NextWeekCountModel": "models.regression",
    "SEIRParams": "models.seir",
    "UpturnClassifier": "models.regression",
    "assess_risk": "models.rules",
    "calibrate_transmission": "models.calibration",
    "disease_timing": "models.presets",
    "commune_features": "models.features",
    "estimate_rt": "models.rt",
    "load_rule_set": "models.rules",
    "simulate": "models.seir",
    "venue_bands": "models.venues",
}
__all__ = [
    "NextWeekCasesModel",
    "NextWeekCountModel",
    "SEIRParams",
    "UpturnClassifier",
    "assess_risk",
    "calibrate_transmission",
    "commune_features",
    "disease_timing",
    "estimate_rt",
    "load_rule_set",
    "simulate",
    "venue_bands",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
