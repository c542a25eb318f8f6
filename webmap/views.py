"""Public pages: the safe-COVID map."""

from __future__ import annotations

import json

import folium
from flask import Blueprint, g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from webmap.api import cached_value
from webmap.data import get_snapshot
from webmap.maps import build_safe_map, map_config

bp = Blueprint("public", __name__)

PAGE_TEXT = {
    "vi": {
        "title": "Bản đồ an toàn COVID – Bắc Ninh",
        "as_of": "Dữ liệu đến",
        "switch": "English",
        "synthetic": "Dữ liệu trình diễn (tổng hợp), không phải số liệu thật.",
        "attribution": "Nguồn ranh giới",
        "modes": "Hiển thị",
        "legend": "Chú giải",
        "real": "Số liệu thật",
        "search": "Tìm xã/phường",
    },
    "en": {
        "title": "Safe-COVID map – Bắc Ninh",
        "as_of": "Data as of",
        "switch": "Tiếng Việt",
        "synthetic": "Demonstration data (synthetic), not real figures.",
        "attribution": "Boundaries",
        "modes": "Show",
        "legend": "Legend",
        "real": "Real data",
        "search": "Find a commune",
    },
}


def _lang() -> str:
    lang = request.args.get("lang", "vi")
    return lang if lang in PAGE_TEXT else "vi"


def _map_parts(lang: str) -> dict[str, str]:
    """The folium map's header, body, script and the page config for one language.

    Built once per snapshot and language (rendering the map costs ~0.1 s of CPU) and shared
    by every request; the per-request CSP nonce is added by :func:`index`.
    """
    snapshot = get_snapshot()
    fmap, layer = build_safe_map(
        snapshot.communes,
        lang=lang,
        asset_url=lambda path: url_for("vendor", filename=path),
    )
    root = fmap.get_root()
    assert isinstance(root, folium.Figure)
    root.render()
    config = map_config(lang, hidden_horizons=snapshot.meta.get("hidden_horizons"))
    real = snapshot.tables.get("real_province_weekly")
    config.update(
        {
            "real_weekly": [] if real is None else real.to_dict("records"),
            "map": fmap.get_name(),
            "layer": layer.get_name(),
            "has_forecast": "forecast_7d_per_100k" in snapshot.communes.columns,
            "api": {
                "zones": url_for("zones.list_zones"),
                "venues": "/api/venues",
                "cells": "/api/cells",
                "forecasts": "/api/forecasts",
            },
        }
    )
    return {
        "config_json": json.dumps(config, ensure_ascii=False),
        "map_header": root.header.render(),
        "map_html": root.html.render(),
        "map_script": root.script.render(),
    }


@bp.get("/")
def index() -> ResponseReturnValue:
    """Render the public map page."""
    lang = _lang()
    snapshot = get_snapshot()
    parts = cached_value(snapshot, ("index", lang), lambda: _map_parts(lang))
    return render_template(
        "index.html",
        lang=lang,
        other_lang="en" if lang == "vi" else "vi",
        text=PAGE_TEXT[lang],
        meta=snapshot.meta,
        config_json=parts["config_json"],
        map_header=parts["map_header"].replace("<script>", f'<script nonce="{g.csp_nonce}">'),
        map_html=parts["map_html"],
        map_script=parts["map_script"],
    )
