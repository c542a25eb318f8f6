"""Errors of the web layer: API errors are JSON with a status code and a fix."""

from __future__ import annotations

from typing import Any


class InvalidAPIUsage(ValueError):
    """A request the API cannot answer; rendered as ``{"error": ..., "status": ...}``."""

    def __init__(self, message: str, status_code: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body of the error response."""
        return {"error": self.message, "status": self.status_code, **self.extra}


class DatabaseSchemaError(ValueError):
    """The app database is not at the schema this code expects (run ``safemap db upgrade``)."""
