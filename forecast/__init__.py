"""Forecasts: hub-format quantiles, the baseline, scoring, scenarios, lockdown zones."""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; imported on first use (keeps `import` light, no cycles)
_EXPORTS = {
    "evaluate_zone": "forecast.zones",
    "forecast_baseline": "forecast.baseline",
    "forecast_cube": "forecast.ensemble",
    "forecast_series": "forecast.models",
    "parse_spec": "forecast.scenario",
    "propose_zones": "forecast.proposals",
    "run_scenario": "forecast.scenario",
    "weighted_interval_score": "forecast.scoring",
}
__all__ = [
    "evaluate_zone",
    "forecast_baseline",
    "forecast_cube",
    "forecast_series",
    "parse_spec",
    "propose_zones",
    "run_scenario",
    "weighted_interval_score",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
