"""Pure map builders: published layers in, ``folium.Map`` out.

Every script and stylesheet the map needs is served by the app itself
(``/vendor/...``, installed from the npm registry at set-up): the map is complete
with no internet. Background tiles are an optional layer, off by default.

The map carries one commune layer with every public property; ``static/safemap.js``
restyles it by mode (risk level, incidence, forecast), draws the legend, the side panel
and the search, and adds the zones, venues and H3 layers from the API. Colours, bands and
labels are defined here, once, and handed to the script by :func:`map_config`.
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
# Risk levels keep the official hues (green, yellow, orange, red) but with lightness falling
# monotonically from level 1 to 4, so they stay ordered for colour-blind readers and in grey;
# the level number is always shown with the colour.
LEVEL_COLOURS: dict[int, str] = {1: "#d9f0d3", 2: "#fed976", 3: "#fd8d3c", 4: "#a50f15"}

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

PUBLIC_PROPERTIES = (
    "commune_code",
    "commune_name",
    "district_name",
    "population",
    "cases_7d",
    "cases_14d",
    "incidence_7d_per_100k",
    "level",
    "level_name_vi",
    "level_name_en",
    "rules",
    "unverified_criteria",
    "rt_median",
    "rt_lower",
    "rt_upper",
    "forecast_7d_median",
    "forecast_7d_lower",
    "forecast_7d_upper",
    "forecast_14d_median",
    "forecast_14d_lower",
    "forecast_14d_upper",
    "forecast_7d_per_100k",
    "forecast_14d_per_100k",
)

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "mode_level": "Cấp độ nguy cơ",
        "mode_incidence": "Ca mới 7 ngày / 100.000 dân",
        "mode_forecast_7d": "Dự báo tuần tới / 100.000 dân",
        "mode_forecast_14d": "Dự báo tuần thứ hai / 100.000 dân",
        "layer_zones": "Vùng phong tỏa đã công bố",
        "layer_venues": "Địa điểm An toàn COVID",
        "layer_cells": "Ô lục giác H3: ca 14 ngày",
        "commune": "Xã/phường",
        "district": "Huyện/thành phố",
        "population": "Dân số",
        "cases_7d": "Ca mắc 7 ngày",
        "cases_14d": "Ca mắc 14 ngày",
        "incidence": "Ca / 100.000 dân / 7 ngày",
        "level": "Cấp độ",
        "rules": "Quy định",
        "unverified": "Ngưỡng chưa kiểm chứng",
        "rt": "Hệ số lây nhiễm Rt",
        "rt_insufficient": "chưa đủ dữ liệu",
        "forecast": "Dự báo số ca (trung vị, khoảng 50% và 95%)",
        "forecast_hidden": "Dự báo cho khoảng này bị ẩn vì chưa tốt hơn mô hình cơ sở.",
        "forecast_none": "Chưa có dự báo.",
        "as_of": "Dữ liệu đến",
        "search": "Tìm xã/phường…",
        "unknown": "Chưa xác định",
        "no_data": "Không có dữ liệu",
        "tiles": "Bản đồ nền OpenStreetMap (cần internet)",
        "close": "Đóng",
        "release": "Gỡ phong tỏa sớm nhất",
        "since": "Từ ngày",
        "days_to_release": "Số ngày còn lại",
        "venue_band": "Mức an toàn",
        "expired": "Quá hạn tự đánh giá",
        "week": "tuần",
        "real_title": "Bắc Ninh: số ca mắc mới thật theo tuần, 2020–2022",
        "real_source": "Nguồn: Bộ Y tế (NCSC), bản sao công khai; xem geo/data/epi/SOURCES.md.",
    },
    "en": {
        "mode_level": "Risk level",
        "mode_incidence": "New cases in 7 days per 100,000",
        "mode_forecast_7d": "Forecast, next week, per 100,000",
        "mode_forecast_14d": "Forecast, the week after, per 100,000",
        "layer_zones": "Published lockdown zones",
        "layer_venues": "COVID-safe venues",
        "layer_cells": "H3 hexagons: cases in 14 days",
        "commune": "Commune",
        "district": "District",
        "population": "Population",
        "cases_7d": "Cases in 7 days",
        "cases_14d": "Cases in 14 days",
        "incidence": "Cases / 100,000 / 7 days",
        "level": "Level",
        "rules": "Rules",
        "unverified": "Unverified thresholds",
        "rt": "Reproduction number Rt",
        "rt_insufficient": "insufficient data",
        "forecast": "Forecast cases (median, 50% and 95% intervals)",
        "forecast_hidden": "Hidden for this horizon: not yet better than the baseline model.",
        "forecast_none": "No forecast yet.",
        "as_of": "Data as of",
        "search": "Find a commune…",
        "unknown": "Unknown",
        "no_data": "No data",
        "tiles": "OpenStreetMap background (needs internet)",
        "close": "Close",
        "release": "Earliest release",
        "since": "Since",
        "days_to_release": "Days left",
        "venue_band": "Safety band",
        "expired": "Self-assessment expired",
        "week": "week",
        "real_title": "Bắc Ninh: real new cases per week, 2020-2022",
        "real_source": (
            "Source: Ministry of Health (NCSC), public copy; see geo/data/epi/SOURCES.md."
        ),
    },
}
LEVEL_NAMES = {
    "vi": {1: "Bình thường mới", 2: "Nguy cơ", 3: "Nguy cơ cao", 4: "Nguy cơ rất cao"},
    "en": {1: "New normal", 2: "At risk", 3: "High risk", 4: "Very high risk"},
}


def level_colour(level: float | None) -> str:
    """Fill colour of a risk level 1-4 (white for unknown)."""
    if level is None or not np.isfinite(level) or int(level) not in LEVEL_COLOURS:
        return NO_DATA_COLOUR
    return LEVEL_COLOURS[int(level)]


def band_label(low: float, high: float) -> str:
    """Legend label of an incidence band."""
    if low == high == 0:
        return "0"
    if high == float("inf"):
        return f"≥ {low:g}"
    return f"{low:g} – < {high:g}" if low > 0 else f"> 0 – < {high:g}"


def map_config(lang: str, *, hidden_horizons: list[str] | None = None) -> dict[str, Any]:
    """Everything ``static/safemap.js`` needs: labels, palettes, legends, hidden horizons."""
    if lang not in LABELS:
        raise ValueError(f"lang is {lang!r}; expected one of {sorted(LABELS)}")
    incidence_legend = [[band_label(lo, hi), colour] for lo, hi, colour in INCIDENCE_BINS]
    return {
        "lang": lang,
        "labels": LABELS[lang],
        "levels": {
            str(level): {"colour": colour, "name": LEVEL_NAMES[lang][level]}
            for level, colour in LEVEL_COLOURS.items()
        },
        "incidence_bins": [
            [lo, hi if np.isfinite(hi) else None, c] for lo, hi, c in INCIDENCE_BINS
        ],
        "legends": {
            "level": [
                [f"{level} – {LEVEL_NAMES[lang][level]}", colour]
                for level, colour in LEVEL_COLOURS.items()
            ]
            + [[LABELS[lang]["unknown"], NO_DATA_COLOUR]],
            "incidence": incidence_legend + [[LABELS[lang]["no_data"], NO_DATA_COLOUR]],
        },
        "no_data_colour": NO_DATA_COLOUR,
        "hidden_horizons": hidden_horizons or [],
    }


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
) -> tuple[folium.Map, folium.GeoJson]:
    """Build the public map: the commune layer, styled by risk level.

    Parameters
    ----------
    communes : GeoDataFrame
        Published commune layer (``webmap.publish``), EPSG:4326.
    lang : {"vi", "en"}
        Language of labels.
    asset_url : callable
        Maps a path under the npm assets folder to the URL the app serves it at.

    Returns
    -------
    (folium.Map, folium.GeoJson)
        The map and its commune layer (the script restyles the layer by mode).
    """
    if lang not in LABELS:
        raise ValueError(f"lang is {lang!r}; expected one of {sorted(LABELS)}")
    minx, miny, maxx, maxy = communes.total_bounds
    fmap = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_control=True,
        control_scale=True,
    )
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    columns = [c for c in PUBLIC_PROPERTIES if c in communes.reset_index().columns]
    layer = communes.reset_index()[[*columns, "geometry"]]
    geojson = folium.GeoJson(
        layer,
        name=LABELS[lang]["mode_level"],
        control=False,
        style_function=lambda feature: {
            "fillColor": level_colour(feature["properties"].get("level")),
            "color": "#555555",
            "weight": 0.8,
            "fillOpacity": 0.8,
        },
        highlight_function=lambda feature: {"weight": 2.5, "color": "#000000"},
    )
    geojson.add_to(fmap)
    # the layer switcher (background tiles, zones, venues, H3) is built by static/safemap.js
    return localize_assets(fmap, asset_url), geojson
