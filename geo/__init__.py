"""The data layer: feeds, ingestion, event store, spatial assignment, the cube, synthetic feeds."""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; imported on first use (keeps `import` light, no cycles)
_EXPORTS = {
    "build_cube": "geo.cube",
    "build_gazetteer": "geo.address",
    "build_point_index": "geo.assign",
    "build_workspace_cube": "geo.build",
    "ingest_file": "geo.ingest",
    "latlng_to_cells": "geo.h3cells",
    "match_addresses": "geo.address",
    "open_workspace": "geo.workspace",
    "points_to_communes": "geo.assign",
    "read_feed": "geo.store",
    "synthesize": "geo.synth",
    "validate_feed": "geo.validate",
}
__all__ = [
    "build_cube",
    "build_gazetteer",
    "build_point_index",
    "build_workspace_cube",
    "ingest_file",
    "latlng_to_cells",
    "match_addresses",
    "open_workspace",
    "points_to_communes",
    "read_feed",
    "synthesize",
    "validate_feed",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
