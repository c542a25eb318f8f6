"""Exceptions raised by the data layer.

Every class subclasses a built-in so callers can catch ``ValueError`` without
importing safemap; messages name the row, the field, the value and the fix.
"""

from __future__ import annotations


class FeedError(ValueError):
    """A feed file as a whole cannot be used (empty, wrong encoding, missing columns)."""


class ValidationError(ValueError):
    """A value in a feed row breaks its schema."""


class AddressError(ValueError):
    """An address cannot be matched to exactly one commune."""


class AssignmentError(ValueError):
    """Points cannot be assigned (bad CRS, bad arrays, unknown boundary set)."""


class WorkspaceError(ValueError):
    """The workspace is missing, unreadable or inconsistent."""
