"""Public pages: the safe-COVID map."""

from __future__ import annotations

import folium
from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from webmap.data import get_snapshot
from webmap.maps import INCIDENCE_BINS, LABELS, build_safe_map

bp = Blueprint("public", __name__)

PAGE_TEXT = {
    "vi": {
        "title": "Bản đồ an toàn COVID – Bắc Ninh",
        "as_of": "Dữ liệu đến",
        "legend": "Ca mới 7 ngày / 100.000 dân",
        "switch": "English",
        "synthetic": "Dữ liệu trình diễn (tổng hợp), không phải số liệu thật.",
        "attribution": "Nguồn ranh giới",
    },
    "en": {
        "title": "Safe-COVID map – Bắc Ninh",
        "as_of": "Data as of",
        "legend": "New cases in 7 days per 100,000",
        "switch": "Tiếng Việt",
        "synthetic": "Demonstration data (synthetic), not real figures.",
        "attribution": "Boundaries",
    },
}


def _lang() -> str:
    lang = request.args.get("lang", "vi")
    return lang if lang in PAGE_TEXT else "vi"


@bp.get("/")
def index() -> ResponseReturnValue:
    """Render the public map page."""
    lang = _lang()
    snapshot = get_snapshot()
    fmap = build_safe_map(
        snapshot.communes,
        lang=lang,
        asset_url=lambda path: url_for("vendor", filename=path),
    )
    root = fmap.get_root()
    assert isinstance(root, folium.Figure)
    root.render()
    legend = [(colour, _band_label(low, high, lang)) for low, high, colour in INCIDENCE_BINS] + [
        ("#ffffff", LABELS[lang]["no_data"])
    ]
    return render_template(
        "index.html",
        lang=lang,
        other_lang="en" if lang == "vi" else "vi",
        text=PAGE_TEXT[lang],
        meta=snapshot.meta,
        legend=legend,
        map_header=root.header.render(),
        map_html=root.html.render(),
        map_script=root.script.render(),
    )


def _band_label(low: float, high: float, lang: str) -> str:
    if low == high == 0:
        return "0"
    if high == float("inf"):
        return f"≥ {low:g}"
    return f"{low:g} – < {high:g}" if low > 0 else f"> 0 – < {high:g}"
