// The public safe-COVID map: modes, legend, commune panel with Rt and forecast fan chart,
// search without diacritics, and the zones / venues / H3 layers loaded from the API.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("safemap-config").textContent);
  const L_ = cfg.labels;
  const map = window[cfg.map];
  const communes = window[cfg.layer];
  map.setMaxZoom(18); // marker clustering needs a maximum zoom (folium sets none without tiles)
  const byCode = new Map();
  communes.eachLayer((layer) => byCode.set(layer.feature.properties.commune_code, layer));

  // ---- formatting -------------------------------------------------------------------------
  const nf = new Intl.NumberFormat(cfg.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 1 });
  const fmt = (v) => (v === null || v === undefined || Number.isNaN(v) ? "–" : nf.format(v));
  const norm = (s) => String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase().replace(/\s+/g, " ").trim();
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "style") { node.setAttribute("style", v); } else { node[k] = v; }
    }
    for (const child of children) { node.append(child); }
    return node;
  }

  // ---- modes and legend -------------------------------------------------------------------
  function incidenceColour(v) {
    if (v === null || v === undefined || Number.isNaN(v)) { return cfg.no_data_colour; }
    if (v <= 0) { return cfg.incidence_bins[0][2]; }
    for (const [lo, hi, colour] of cfg.incidence_bins.slice(1)) {
      if (v >= lo && (hi === null || v < hi)) { return colour; }
    }
    return cfg.incidence_bins[cfg.incidence_bins.length - 1][2];
  }
  function levelColour(level) {
    const entry = cfg.levels[String(level)];
    return entry ? entry.colour : cfg.no_data_colour;
  }
  const modes = [
    { id: "level", label: L_.mode_level, legend: cfg.legends.level, colour: (p) => levelColour(p.level) },
    { id: "incidence", label: L_.mode_incidence, legend: cfg.legends.incidence,
      colour: (p) => incidenceColour(p.incidence_7d_per_100k) },
  ];
  if (cfg.has_forecast) {
    for (const days of [7, 14]) {
      const target = days === 7 ? "1 wk ahead inc case" : "2 wk ahead inc case";
      if (cfg.hidden_horizons.includes(target)) { continue; }
      modes.push({ id: "forecast_" + days, label: L_["mode_forecast_" + days + "d"],
        legend: cfg.legends.incidence, colour: (p) => incidenceColour(p["forecast_" + days + "d_per_100k"]) });
    }
  }
  let mode = modes[0];
  function style(feature) {
    const p = feature.properties;
    const unknown = mode.id === "level" && (p.level === null || p.level === undefined);
    return { fillColor: mode.colour(p), color: unknown ? "#777" : "#555", weight: unknown ? 1.2 : 0.8,
      dashArray: unknown ? "4 3" : null, fillOpacity: 0.8 };
  }
  function drawLegend() {
    document.getElementById("legend-title").textContent = mode.label;
    const items = document.getElementById("legend-items");
    items.replaceChildren(...mode.legend.map(([label, colour]) =>
      el("li", {}, el("span", { className: "swatch", style: "background:" + colour }), label)));
  }
  const modeBox = document.getElementById("modes");
  for (const m of modes) {
    const input = el("input", { type: "radio", name: "mode", value: m.id, checked: m === mode });
    input.addEventListener("change", () => { mode = m; communes.setStyle(style); drawLegend(); });
    modeBox.append(el("label", { id: "mode-" + m.id }, input, " " + m.label));
  }
  communes.setStyle(style);
  drawLegend();
  // on a phone the legend starts folded so the map stays visible
  if (window.matchMedia("(max-width: 600px)").matches) { document.getElementById("legend").open = false; }

  // ---- commune panel ----------------------------------------------------------------------
  const panel = document.getElementById("panel");
  function row(dl, term, value) { dl.append(el("dt", {}, term), el("dd", {}, value)); }
  function showPanel(p) {
    communes.setStyle(style);
    const selected = byCode.get(p.commune_code);
    if (selected) { selected.setStyle({ weight: 3, color: "#000", dashArray: null }); selected.bringToFront(); }
    const dl = el("dl");
    const levelText = p.level === null || p.level === undefined ? L_.unknown
      : p.level + " – " + (cfg.levels[String(p.level)] || {}).name;
    row(dl, L_.level, el("span", { className: "level" },
      el("span", { className: "swatch", style: "background:" + levelColour(p.level) }), levelText));
    row(dl, L_.district, p.district_name || "–");
    row(dl, L_.population, fmt(p.population));
    row(dl, L_.cases_7d, fmt(p.cases_7d));
    row(dl, L_.cases_14d, fmt(p.cases_14d));
    row(dl, L_.incidence, fmt(p.incidence_7d_per_100k));
    const rt = p.rt_median === null || p.rt_median === undefined ? L_.rt_insufficient
      : fmt(p.rt_median) + " (95%: " + fmt(p.rt_lower) + "–" + fmt(p.rt_upper) + ")";
    row(dl, L_.rt, rt);
    row(dl, L_.rules, p.rules || "–");
    const closeButton = el("button", { className: "close", type: "button", title: L_.close }, "×");
    closeButton.addEventListener("click", () => { panel.hidden = true; });
    const parts = [closeButton, el("h2", {}, p.commune_name), dl];
    if (p.unverified_criteria) {
      parts.push(el("p", { className: "note" }, L_.unverified + ": " + p.unverified_criteria));
    }
    const chart = el("div", { id: "fan-chart" }, el("h3", { style: "font-size:.9rem;margin:.4rem 0" }, L_.forecast));
    parts.push(chart, el("p", { className: "note" }, L_.as_of + ": " + document.getElementById("as-of").textContent.split(": ").pop()));
    panel.replaceChildren(...parts);
    panel.hidden = false;
    loadForecast(p.commune_code, chart);
  }
  communes.eachLayer((layer) => layer.on("click", () => showPanel(layer.feature.properties)));

  function fanChart(rows) {
    // rows: hub rows of one location; weekly targets "N wk ahead inc case"
    const weeks = [1, 2, 3, 4].map((n) => ({ n, target: n + " wk ahead inc case" }));
    const q = (target, level) => {
      const hit = rows.find((r) => r.target === target && r.type === "quantile" && Math.abs(r.quantile - level) < 1e-9);
      return hit ? hit.value : null;
    };
    const shown = weeks.filter((w) => !cfg.hidden_horizons.includes(w.target) && q(w.target, 0.5) !== null);
    if (!shown.length) { return null; }
    const W = 300, H = 150, pad = 28;
    const top = Math.max(1, ...shown.map((w) => q(w.target, 0.975) || 0));
    const x = (i) => pad + (i * (W - 2 * pad)) / Math.max(1, shown.length - 1);
    const y = (v) => H - pad + 4 - ((H - pad - 10) * v) / top;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("role", "img");
    const band = (lo, hi, fill) => {
      const pts = shown.map((w, i) => x(i) + "," + y(q(w.target, hi)))
        .concat(shown.slice().reverse().map((w, j) => x(shown.length - 1 - j) + "," + y(q(w.target, lo))));
      const poly = document.createElementNS(ns, "polygon");
      poly.setAttribute("points", pts.join(" ")); poly.setAttribute("fill", fill);
      svg.append(poly);
    };
    band(0.025, 0.975, "#fcbba1");
    band(0.25, 0.75, "#fb6a4a");
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", shown.map((w, i) => x(i) + "," + y(q(w.target, 0.5))).join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", "#67000d"); line.setAttribute("stroke-width", "2");
    svg.append(line);
    shown.forEach((w, i) => {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", x(i)); t.setAttribute("y", H - 4); t.setAttribute("font-size", "10");
      t.setAttribute("text-anchor", "middle"); t.textContent = L_.week + " " + w.n;
      svg.append(t);
    });
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", 2); label.setAttribute("y", 10); label.setAttribute("font-size", "10");
    label.textContent = fmt(top);
    svg.append(label);
    return svg;
  }
  function loadForecast(code, container) {
    fetch(cfg.api.forecasts + "?commune=" + encodeURIComponent(code))
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        const rows = data ? (data.forecasts || data.rows || data) : null;
        const svg = Array.isArray(rows) ? fanChart(rows) : null;
        container.append(svg || el("p", { className: "note" }, L_.forecast_none));
        if (cfg.hidden_horizons.length) { container.append(el("p", { className: "note" }, L_.forecast_hidden)); }
      })
      .catch(() => container.append(el("p", { className: "note" }, L_.forecast_none)));
  }

  // ---- the real province series (the demo's feeds are synthetic; these counts are not) ------
  function realChart(rows) {
    const W = 320, H = 150, pad = 18, ns = "http://www.w3.org/2000/svg";
    const top = Math.max(1, ...rows.map((r) => r.cases));
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("role", "img");
    const bw = (W - 2 * pad) / rows.length;
    rows.forEach((r, i) => {
      const h = ((H - 2 * pad) * r.cases) / top;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", pad + i * bw); rect.setAttribute("y", H - pad - h);
      rect.setAttribute("width", Math.max(bw - 0.5, 0.5)); rect.setAttribute("height", h);
      rect.setAttribute("fill", "#b10026");
      const title = document.createElementNS(ns, "title"); title.textContent = r.week_end + ": " + r.cases;
      rect.append(title); svg.append(rect);
    });
    const text = (x, y, s, anchor) => { const t = document.createElementNS(ns, "text");
      t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", "9");
      t.setAttribute("text-anchor", anchor); t.textContent = s; svg.append(t); };
    text(pad, H - 4, rows[0].week_end, "start"); text(W - pad, H - 4, rows[rows.length - 1].week_end, "end");
    text(2, 10, fmt(top), "start");
    return svg;
  }
  document.getElementById("real-data").addEventListener("click", () => {
    if (!cfg.real_weekly.length) { return; }
    const closeButton = el("button", { className: "close", type: "button", title: L_.close }, "×");
    closeButton.addEventListener("click", () => { panel.hidden = true; });
    panel.replaceChildren(closeButton, el("h2", {}, L_.real_title), realChart(cfg.real_weekly),
      el("p", { className: "note" }, L_.real_source));
    panel.hidden = false;
  });

  // ---- search -----------------------------------------------------------------------------
  const names = [];
  communes.eachLayer((layer) => {
    const p = layer.feature.properties;
    names.push({ key: norm(p.commune_name), full: norm(p.commune_name + " " + p.district_name), layer,
      label: p.commune_name + " (" + p.district_name + ")" });
  });
  document.getElementById("commune-names").replaceChildren(...names.map((n) => el("option", { value: n.label })));
  const search = document.getElementById("search");
  function find(text) {
    const key = norm(text.replace(/\s*\(.*\)\s*$/, ""));
    const full = norm(text.replace(/[()]/g, " "));
    return names.find((n) => n.full === full) || names.find((n) => n.key === key)
      || names.find((n) => n.key.startsWith(key) && key.length >= 3);
  }
  function go() {
    const hit = find(search.value);
    if (!hit) { return; }
    map.fitBounds(hit.layer.getBounds(), { maxZoom: 12, padding: [40, 40] });
    showPanel(hit.layer.feature.properties);
  }
  search.addEventListener("change", go);
  document.getElementById("search-form").addEventListener("submit", (e) => { e.preventDefault(); go(); });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); go(); } });

  // ---- overlays from the API --------------------------------------------------------------
  const overlays = {};
  const tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    { maxZoom: 18, attribution: "© OpenStreetMap contributors" });
  const control = L.control.layers({}, { [L_.tiles]: tiles }, { collapsed: true, position: "topright" }).addTo(map);
  function addOverlay(name, layer, show) {
    overlays[name] = layer;
    control.addOverlay(layer, name);
    if (show) { layer.addTo(map); }
  }
  const getJSON = (url) => fetch(url).then((r) => (r.ok ? r.json() : null));

  getJSON(cfg.api.zones).then((data) => {
    if (!data) { return; }
    const layer = L.geoJSON(data, {
      style: { color: "#000", weight: 3, dashArray: "8 4", fillColor: "#000", fillOpacity: 0.08 },
      onEachFeature: (f, l) => {
        const p = f.properties;
        l.bindPopup(el("div", {}, el("strong", {}, p.name), el("br"),
          L_.since + ": " + (p.start_date || "–"), el("br"),
          L_.release + ": " + (p.earliest_release || "–"), el("br"),
          L_.days_to_release + ": " + fmt(p.days_to_release)));
      },
    });
    layer.options.className = "zones-layer";
    addOverlay(L_.layer_zones, layer, true);
  });
  // venues and H3 cells are loaded the first time their layer is switched on (first load stays small)
  function lazyOverlay(name, url, fill) {
    const group = L.layerGroup();
    let loaded = false;
    addOverlay(name, group, false);
    map.on("overlayadd", (event) => {
      if (event.layer !== group || loaded) { return; }
      loaded = true;
      getJSON(url).then((data) => { if (data) { fill(group, data); } });
    });
  }
  lazyOverlay(L_.layer_venues, cfg.api.venues, (group, data) => {
    const colours = { green: "#1a9850", yellow: "#fee08b", red: "#d73027", grey: "#999999" };
    const cluster = L.markerClusterGroup ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 45 })
      : L.layerGroup();
    L.geoJSON(data, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 6, weight: 1, color: "#333",
        fillColor: colours[f.properties.colour] || colours.grey, fillOpacity: 0.9 }),
      onEachFeature: (f, l) => {
        const p = f.properties;
        const band = p.band === null || p.band === undefined ? "–"
          : p.band + " – " + (cfg.lang === "vi" ? p.band_name_vi : p.band_name_en);
        l.bindPopup(el("div", {}, el("strong", {}, p.name), el("br"), p.venue_type, el("br"),
          L_.venue_band + ": " + band, p.expired ? el("div", { className: "note" }, L_.expired) : ""));
      },
    }).eachLayer((l) => cluster.addLayer(l));
    group.addLayer(cluster);
  });
  lazyOverlay(L_.layer_cells, cfg.api.cells, (group, data) => {
    group.addLayer(L.geoJSON(data, {
      style: { color: "#08519c", weight: 1, fillColor: "#3182bd", fillOpacity: 0.35 },
      onEachFeature: (f, l) => l.bindTooltip(String(f.properties.cases), { permanent: false }),
    }));
  });
})();
