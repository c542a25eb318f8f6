// The zone planner: draw or pick communes, evaluate, save a draft, publish, release.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const mapDiv = document.getElementById("planner-map");
  const map = L.map(mapDiv, { zoomControl: true });
  map.fitBounds(JSON.parse(mapDiv.dataset.bounds));
  map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false,
    drawPolyline: false, drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false });

  let drawn = null;            // the polygon being planned
  const picked = new Set();    // or the communes picked
  const zoneLayer = L.geoJSON(null, { style: (f) => ({ color: f.properties.status === "published" ? "#b10026" : "#555",
    weight: 3, dashArray: f.properties.status === "draft" ? "6 4" : null, fillOpacity: 0.1 }) }).addTo(map);

  function communeStyle(feature) {
    const on = picked.has(feature.properties.commune_code);
    const cases = feature.properties.cases_7d || 0;
    const fill = on ? "#2c7fb8" : cases >= 5 ? "#e31a1c" : cases > 0 ? "#fd8d3c" : "#ffffff";
    return { color: "#444", weight: 0.8, fillColor: fill, fillOpacity: on ? 0.6 : 0.45 };
  }
  const communes = L.geoJSON(null, {
    style: communeStyle,
    onEachFeature: (feature, layer) => {
      layer.bindTooltip(feature.properties.commune_name + " (" + feature.properties.cases_7d + " F0/7 ngày)");
      layer.on("click", () => {
        const code = feature.properties.commune_code;
        if (picked.has(code)) { picked.delete(code); } else { picked.add(code); }
        communes.setStyle(communeStyle);
      });
    },
  }).addTo(map);

  map.on("pm:create", (event) => {
    if (drawn) { map.removeLayer(drawn); }
    drawn = event.layer;
    picked.clear();
    communes.setStyle(communeStyle);
  });

  async function api(method, url, body) {
    const response = await fetch(url, { method, headers: { "Content-Type": "application/json",
      "X-CSRFToken": csrf }, body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
    const data = await response.json();
    if (!response.ok) { throw new Error(data.error || response.statusText); }
    return data;
  }

  function currentZone() {
    if (drawn) { return { geometry: drawn.toGeoJSON().geometry }; }
    if (picked.size) { return { communes: Array.from(picked) }; }
    throw new Error("Vẽ một vùng hoặc chọn xã/phường trước.");
  }

  function showEvaluation(ev) {
    const venues = Object.entries(ev.venues_by_type || {}).map(([k, v]) => k + ": " + v).join(", ") || "0";
    const rows = [["Diện tích (km²)", ev.area_km2], ["Dân số trong vùng", ev.population],
      ["Xã/phường", ev.communes.length], ["Địa điểm", venues],
      ["Công nhân cư trú", ev.workers_resident ?? "–"], ["Công nhân làm việc", ev.workers_employed ?? "–"],
      ["F0 14 ngày", ev.cases_14d ?? "–"], ["Gợi ý gỡ bỏ sau", ev.suggested_release_rule_days + " ngày"]];
    const dl = document.createElement("dl");
    dl.id = "evaluation-result";
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      dl.append(dt, dd);
    }
    document.getElementById("evaluation").replaceChildren(dl);
  }

  function showError(error) {
    const p = document.createElement("p"); p.className = "error"; p.textContent = error.message;
    document.getElementById("evaluation").replaceChildren(p);
  }

  let pollTimer = null;
  async function loadZones() {
    let pending = false;
    const data = await api("GET", "/api/zones?status=all");
    zoneLayer.clearLayers(); zoneLayer.addData(data);
    const list = document.getElementById("zones");
    list.replaceChildren();
    for (const f of data.features) {
      const li = document.createElement("li");
      li.dataset.zoneId = f.id;
      const p = f.properties;
      li.textContent = "#" + f.id + " " + p.name + " – " + p.status + " – " + (p.population ?? "?") + " người ";
      if (p.cases_averted_14d !== null && p.cases_averted_14d !== undefined) {
        li.textContent += "· tránh được ~" + p.cases_averted_14d + " ca/14 ngày (90%: "
          + p.cases_averted_14d_90[0] + "–" + p.cases_averted_14d_90[1] + ") ";
      } else if (p.cases_averted_error) {
        li.textContent += "· chưa tính được số ca tránh được ";
      } else if (p.status === "draft") {
        li.textContent += "· đang tính số ca tránh được… ";
        pending = true;
      }
      if (p.status === "published" && p.earliest_release) {
        li.textContent += "(gỡ sớm nhất " + p.earliest_release + ") ";
      }
      const action = p.status === "draft" ? ["publish", "Công bố"] : p.status === "published" ? ["release", "Gỡ bỏ"] : null;
      if (action) {
        const b = document.createElement("button");
        b.textContent = action[1]; b.className = action[0];
        b.addEventListener("click", async () => {
          try { await api("POST", "/api/zones/" + f.id + "/" + action[0]); await loadZones(); }
          catch (e) { showError(e); }
        });
        li.append(b);
      }
      list.append(li);
    }
    clearTimeout(pollTimer);
    if (pending) { pollTimer = setTimeout(loadZones, 4000); }
  }

  document.getElementById("evaluate").addEventListener("click", async () => {
    try { showEvaluation(await api("POST", "/api/zones/evaluate", currentZone())); } catch (e) { showError(e); }
  });
  document.getElementById("save").addEventListener("click", async () => {
    try {
      const body = currentZone();
      body.name = document.getElementById("zone-name").value;
      const rule = document.getElementById("zone-rule").value;
      if (rule) { body.release_rule_days = Number(rule); }
      const saved = await api("POST", "/api/zones", body);
      showEvaluation(saved.properties.evaluation || {});
      await loadZones();
    } catch (e) { showError(e); }
  });
  document.getElementById("clear").addEventListener("click", () => {
    if (drawn) { map.removeLayer(drawn); drawn = null; }
    picked.clear(); communes.setStyle(communeStyle);
    document.getElementById("evaluation").replaceChildren();
  });

  // proposals: communes whose forecast 14-day incidence passes the threshold, merged
  const proposalLayer = L.geoJSON(null, { style: { color: "#6a3d9a", weight: 2, dashArray: "3 5", fillOpacity: 0.05 } }).addTo(map);
  async function loadProposals() {
    const data = await api("GET", "/officials/proposals.geojson");
    proposalLayer.clearLayers(); proposalLayer.addData(data);
    const list = document.getElementById("proposals");
    list.replaceChildren();
    if (!data.features.length) { list.append("Không có đề xuất (dự báo dưới ngưỡng)."); }
    for (const f of data.features) {
      const p = f.properties;
      const codes = String(p.commune_codes || "").split(/[;,]\s*/).filter(Boolean);
      const averted = p.cases_averted_14d_q50 === undefined || p.cases_averted_14d_q50 === null ? ""
        : " · tránh được ~" + p.cases_averted_14d_q50 + " ca/14 ngày (90%: " + p.cases_averted_14d_q05 + "–" + p.cases_averted_14d_q95 + ")";
      const li = document.createElement("li");
      li.textContent = (p.commune_names || codes.join(", ")) + " – " + (p.population ?? "?") + " người, dự báo "
        + p.forecast_cases_14d + " ca/14 ngày" + averted + ", gỡ sau " + p.release_rule_days + " ngày ";
      const b = document.createElement("button");
      b.textContent = "Lưu làm nháp"; b.className = "from-proposal";
      b.addEventListener("click", async () => {
        try {
          await api("POST", "/api/zones", { name: "Đề xuất: " + (p.commune_names || codes.join(", ")),
            communes: codes, release_rule_days: p.release_rule_days });
          await loadZones();
        } catch (e) { showError(e); }
      });
      li.append(b);
      list.append(li);
    }
  }
  fetch("/api/communes").then((r) => r.json()).then((data) => communes.addData(data));
  loadZones();
  loadProposals().catch(showError);
})();
