"""Boundary sets: loader, topology repair, import/export, crosswalks."""

from __future__ import annotations

import importlib
from typing import Any

# name -> module that defines it; imported on first use (keeps `import` light, no cycles)
_EXPORTS = {
    "BoundaryError": "boundaries.errors",
    "build_crosswalk": "boundaries.crosswalk",
    "export_geojson": "boundaries.io",
    "list_boundary_sets": "boundaries.sets",
    "load_boundary_set": "boundaries.sets",
    "read_boundary_file": "boundaries.io",
    "reaggregate": "boundaries.crosswalk",
    "repair_topology": "boundaries.repair",
}
__all__ = [
    "BoundaryError",
    "build_crosswalk",
    "export_geojson",
    "list_boundary_sets",
    "load_boundary_set",
    "read_boundary_file",
    "reaggregate",
    "repair_topology",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
