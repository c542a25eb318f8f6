"""Exceptions raised by the models package."""

from __future__ import annotations


class ModelInputError(ValueError):
    """Input data or parameters that a model cannot use."""


class RuleSetError(ValueError):
    """An unknown or malformed risk rule set."""
