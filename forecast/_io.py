"""File edges of the forecast package: read tidy series and Hub CSVs, write Hub CSVs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecast.errors import ForecastInputError
from forecast.hub import HUB_COLUMNS


def _read_text_csv(path: str | Path, what: str) -> pd.DataFrame:
    try:
        # every column as text: codes keep their leading zeros, bad numbers are reported
        # by the validators with their row number instead of silently becoming NaN
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ForecastInputError(
            f"{what} file {str(path)!r} does not exist; check the path"
        ) from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ForecastInputError(
            f"{what} file {str(path)!r} is not a readable UTF-8 CSV ({exc}); export it as CSV"
        ) from exc


def read_series_csv(path: str | Path, what: str = "cases") -> pd.DataFrame:
    """Read a tidy ``date, location, value`` CSV with every column as text."""
    return _read_text_csv(path, what)


def read_hub_csv(path: str | Path, what: str = "forecasts") -> pd.DataFrame:
    """Read a Hub long-format CSV; ``quantile`` is empty on ``point`` rows."""
    return _read_text_csv(path, what)


def write_hub_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a Hub frame with ISO dates and an empty ``quantile`` on ``point`` rows."""
    out = frame.loc[:, list(HUB_COLUMNS)].copy()
    for col in ("forecast_date", "target_end_date"):
        out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, float_format="%.6g")
