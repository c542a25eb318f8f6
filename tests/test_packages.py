"""Each package's public API (literal ``__all__``) resolves to real objects."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["geo", "models", "forecast", "boundaries"])
def test_every_exported_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} exports nothing"
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError, match="has no attribute"):
        module.no_such_name  # noqa: B018
