"""Exceptions raised by boundary loading, import, repair and crosswalks."""

from __future__ import annotations


class BoundaryError(ValueError):
    """A boundary file or set is unusable: missing CRS, bad ids, invalid polygons, unknown set."""
