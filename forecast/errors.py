"""Exceptions raised by the forecast package."""

from __future__ import annotations


class ForecastInputError(ValueError):
    """A series, a forecast file or a scenario spec that cannot be used."""
