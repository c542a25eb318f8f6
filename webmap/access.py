"""Which routes are public. Every other route needs a login (deny by default).

``create_app`` installs :func:`require_login_unless_public` before every request, so a new
route is private until it is listed here; the privacy test requests every public route and
searches the answers for personal data.
"""

from __future__ import annotations

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "vendor",
        "public.index",
        "api.communes",
        "api.forecasts",
        "api.venues",
        "api.cells",
        "api.rules",
        "api.openapi_document",
        "zones.list_zones",
        "ogc.landing",
        "ogc.conformance",
        "ogc.collections",
        "ogc.collection",
        "ogc.items",
        "ogc.item",
        "auth.login",
        "auth.logout",
    }
)


def require_login_unless_public() -> ResponseReturnValue | None:
    """Answer 401 (API) or redirect to the login form (pages) for private routes."""
    from webmap.auth import current_user
    from webmap.errors import InvalidAPIUsage

    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_user() is not None:
        return None
    if request.path.startswith("/api/"):
        raise InvalidAPIUsage("log in first (POST /officials/login)", 401)
    return redirect(url_for("auth.login", next=request.full_path))
