"""Quantile arrays -> Hub long-format frames."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from forecast.hub import (
    HUB_COLUMNS,
    QUANTILE_LEVELS,
    day_target,
    forecast_date_to_target_end,
    week_target,
)

MEDIAN_INDEX = QUANTILE_LEVELS.index(0.5)


def quantiles_to_hub(
    q: np.ndarray, locations: Sequence[str], forecast_date: date, targets: Sequence[str]
) -> pd.DataFrame:
    """``q`` has shape (location, target, level); one point row (the median) per cell."""
    n_loc, n_tgt, n_lev = q.shape
    levels = np.asarray(QUANTILE_LEVELS)
    ends = [pd.Timestamp(forecast_date_to_target_end(forecast_date, t)) for t in targets]
    loc_idx = np.repeat(np.arange(n_loc), n_tgt * (n_lev + 1))
    tgt_idx = np.tile(np.repeat(np.arange(n_tgt), n_lev + 1), n_loc)
    quant = np.tile(np.append(levels, np.nan), n_loc * n_tgt)
    values = np.concatenate([q, q[:, :, MEDIAN_INDEX : MEDIAN_INDEX + 1]], axis=2).reshape(-1)
    frame = pd.DataFrame(
        {
            "forecast_date": pd.Timestamp(forecast_date),
            "target": np.asarray(targets, dtype=object)[tgt_idx],
            "target_end_date": np.asarray(ends, dtype="datetime64[ns]")[tgt_idx],
            "location": np.asarray(locations, dtype=object)[loc_idx],
            "type": np.where(np.isnan(quant), "point", "quantile"),
            "quantile": quant,
            "value": np.maximum(values, 0.0),
        }
    )
    frame["target"] = frame["target"].astype("str")
    frame["location"] = frame["location"].astype("str")
    return frame.loc[:, list(HUB_COLUMNS)]


def weekly_quantiles_to_hub(
    q: np.ndarray, locations: Sequence[str], forecast_date: date
) -> pd.DataFrame:
    """Weekly targets ``1..H wk ahead inc case`` from a (location, horizon, level) array."""
    targets = [week_target(h) for h in range(1, q.shape[1] + 1)]
    return quantiles_to_hub(q, locations, forecast_date, targets)


def daily_quantiles_to_hub(
    q: np.ndarray, locations: Sequence[str], forecast_date: date
) -> pd.DataFrame:
    """Daily targets ``1..N day ahead inc case`` from a (location, horizon, level) array."""
    targets = [day_target(h) for h in range(1, q.shape[1] + 1)]
    return quantiles_to_hub(q, locations, forecast_date, targets)
