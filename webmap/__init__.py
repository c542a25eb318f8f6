"""The safemap web app: Flask application factory, blueprints, map builders."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, send_from_directory
from flask.typing import ResponseReturnValue
from flask_compress import Compress
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, NotFound

from geo.workspace import resolve_home
from webmap.access import require_login_unless_public
from webmap.errors import InvalidAPIUsage

ASSETS_DIR = Path(__file__).parent / "assets" / "node_modules"
# Only these folders of the npm install are served.
SERVED_ASSET_DIRS = (
    "leaflet/dist/",
    "leaflet.markercluster/dist/",
    "@geoman-io/leaflet-geoman-free/dist/",
)

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure an instance of the safemap web app.

    Parameters
    ----------
    test_config : dict, optional
        Settings that replace the defaults and the environment (tests pass
        ``{"TESTING": True, "WORKSPACE": tmp_path}``).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SAFEMAP_SECRET_KEY") or secrets.token_hex(32),
        WORKSPACE=str(resolve_home()),
        JSON_SORT_KEYS=False,
    )
    if test_config is not None:
        app.config.update(test_config)
    app.config.setdefault(
        "DATABASE_URL",
        os.environ.get("SAFEMAP_DATABASE_URL")
        or f"sqlite:///{Path(app.config['WORKSPACE']).resolve() / 'app.db'}",
    )
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session

    from webmap import api, auth, db, officials, scenarios, views, zones

    Path(app.config["WORKSPACE"]).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    CSRFProtect(app)
    app.config.setdefault(
        "COMPRESS_MIMETYPES",
        [
            "text/html",
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/json",
            "application/geo+json",
        ],
    )
    app.config.setdefault("COMPRESS_ALGORITHM", ["gzip"])
    # static files are streamed from disk; compressing streams leaks their file handles
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)
    app.before_request(require_login_unless_public)
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(zones.bp, url_prefix="/api")
    app.register_blueprint(auth.bp)
    app.register_blueprint(officials.bp)
    app.register_blueprint(scenarios.bp, url_prefix="/api")
    app.register_blueprint(scenarios.page_bp)
    scenarios.fail_interrupted_jobs(app)
    from webmap import ogc

    app.register_blueprint(ogc.bp)

    @app.get("/vendor/<path:filename>")
    def vendor(filename: str) -> ResponseReturnValue:
        if not filename.startswith(SERVED_ASSET_DIRS):
            raise NotFound()
        response = send_from_directory(ASSETS_DIR, filename, max_age=86400)
        return response

    @app.errorhandler(InvalidAPIUsage)
    def invalid_api_usage(exc: InvalidAPIUsage) -> ResponseReturnValue:
        return jsonify(exc.to_dict()), exc.status_code

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        message = f"{exc.description} Reload the page and try again."
        return jsonify(error=message, status=400), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        from flask import request

        if request.path.startswith(("/api/", "/ogc")):
            return jsonify(error=exc.description, status=exc.code), exc.code or 500
        return exc

    @app.before_request
    def csp_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.context_processor
    def inject_nonce() -> dict[str, str]:
        return {"csp_nonce": g.get("csp_nonce", "")}

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        # scripts: the app's own files, plus the map's inline script carrying this
        # request's nonce; styles may be inline (Leaflet positions layers with style=)
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self' 'nonce-{g.get('csp_nonce', '')}'; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: https://tile.openstreetmap.org; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
