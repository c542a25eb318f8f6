"""Pure map builders: published layers in, ``folium.Map`` out.

Every script and stylesheet the map needs is served by the app itself
(``/vendor/...``, installed from the npm registry at set-up): the map is complete
with no internet. Background tiles are an optional layer, off by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import folium
import geopandas as gpd
import numpy as np

# 7-day incidence per 100,000 bands: the Decision 4800 transmission cut-offs (0, 20, 50, 150;
# 20-50-150 are unverified, see docs/risk-rules.md). ColorBrewer YlOrRd: ordered by lightness,
# so the order survives colour-vision deficiency and greyscale printing.
INCIDENCE_BINS: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.0, "#ffffcc"),
    (0.0, 20.0, "#fed976"),
    (20.0, 50.0, "#fd8d3c"),
    (50.0, 150.0, "#e31a1c"),
    (150.0, float("inf"), "#800026"),
)
NO_DATA_COLOUR = "#ffffff"

# CDN resources folium and its plugins declare, mapped to the app's own copies.
LOCAL_ASSETS: dict[str, str] = {
    "leaflet": "leaflet/dist/leaflet.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "markerclusterjs": "leaflet.markercluster/dist/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/dist/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/dist/MarkerCluster.Default.css",
}
# folium defaults the map does not use (jQuery, Bootstrap, Font Awesome): dropped.
UNUSED_ASSETS = frozenset(
    {
        "jquery",
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "layer_incidence": "Số ca mới 7 ngày / 100.000 dân",
        "commune": "Xã/phường",
        "district": "Huyện/thành phố",
        "population": "Dân số",
        "cases_7d": "Ca mắc 7 ngày",
        "incidence": "Ca / 100.000 dân / 7 ngày",
        "tiles": "Bản đồ nền OpenStreetMap (cần internet)",
        "no_data": "Không có dữ liệu",
    },
    "en": {
        "layer_incidence": "New cases in 7 days per 100,000",
        "commune": "Commune",
        "district": "District",
        "population": "Population",
        "cases_7d": "Cases in 7 days",
        "incidence": "Cases / 100,000 / 7 days",
        "tiles": "OpenStreetMap background (needs internet)",
        "no_data": "No data",
    },
}


def incidence_colour(value: float | None) -> str:
    """Fill colour of a 7-day incidence per 100,000 (white for missing)."""
    if value is None or not np.isfinite(value):
        return NO_DATA_COLOUR
    if value <= 0:
        return INCIDENCE_BINS[0][2]
    for low, high, colour in INCIDENCE_BINS[1:]:
        if low <= value < high:
            return colour
    return INCIDENCE_BINS[-1][2]


def localize_assets(fmap: folium.Map, asset_url: Callable[[str], str]) -> folium.Map:
    """Point every script and stylesheet of ``fmap`` and its children at local copies.

    Raises
    ------
    ValueError
        When an element declares an external resource with no local copy (so a new plugin
        cannot silently bring a CDN back).
    """
    elements: list[Any] = [fmap]
    while elements:
        element = elements.pop()
        elements.extend(element._children.values())
        for attr in ("default_js", "default_css"):
            declared = getattr(element, attr, None)
            if not declared:
                continue
            kept = []
            for name, url in declared:
                if name in UNUSED_ASSETS:
                    continue
                if name not in LOCAL_ASSETS:
                    raise ValueError(
                        f"{type(element).__name__} needs {name} ({url}) and there is no local "
                        "copy; add it to webmap/assets/package.json and LOCAL_ASSETS"
                    )
                kept.append((name, asset_url(LOCAL_ASSETS[name])))
            setattr(element, attr, kept)
    return fmap


def build_safe_map(
    communes: gpd.GeoDataFrame,
    *,
    lang: str = "vi",
    asset_url: Callable[[str], str] = lambda path: f"/vendor/{path}",
) -> folium.Map:
    """Build the public map: commune choropleth of 7-day incidence per 100,000.

    Parameters
    ----------
    communes : GeoDataFrame
        Published commune layer (``webmap.publish.build_commune_layer``), EPSG:4326.
    lang : {"vi", "en"}
        Language of labels and tooltips.
    asset_url : callable
        Maps a path under the npm assets folder to the URL the app serves it at.

    Returns
    -------
    folium.Map
    """
    if lang not in LABELS:
        raise ValueError(f"lang is {lang!r}; expected one of {sorted(LABELS)}")
    text = LABELS[lang]
    minx, miny, maxx, maxy = communes.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_control=True,
        prefer_canvas=False,
        control_scale=True,
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    folium.TileLayer(
        "OpenStreetMap", name=text["tiles"], show=False, overlay=False, control=True
    ).add_to(fmap)

    layer = communes.reset_index()[
        [
            "commune_code",
            "commune_name",
            "district_name",
            "population",
            "cases_7d",
            "incidence_7d_per_100k",
            "geometry",
        ]
    ]
    folium.GeoJson(
        layer,
        name=text["layer_incidence"],
        style_function=lambda feature: {
            "fillColor": incidence_colour(feature["properties"]["incidence_7d_per_100k"]),
            "color": "#555555",
            "weight": 0.8,
            "fillOpacity": 0.8,
        },
        highlight_function=lambda feature: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["commune_name", "district_name", "cases_7d", "incidence_7d_per_100k"],
            aliases=[text["commune"], text["district"], text["cases_7d"], text["incidence"]],
            localize=True,
        ),
        popup=folium.GeoJsonPopup(
            fields=[
                "commune_name",
                "district_name",
                "population",
                "cases_7d",
                "incidence_7d_per_100k",
            ],
            aliases=[
                text["commune"],
                text["district"],
                text["population"],
                text["cases_7d"],
                text["incidence"],
            ],
            localize=True,
        ),
    ).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return localize_assets(fmap, asset_url)
