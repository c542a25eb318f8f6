// Modelers: submit a scenario spec, follow the background jobs (they survive a reload).
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const body = document.querySelector("#jobs tbody");
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  async function refresh() {
    const response = await fetch("/api/scenarios", { credentials: "same-origin" });
    if (!response.ok) { return; }
    const jobs = await response.json();
    body.replaceChildren(...jobs.map((job) => {
      const tr = document.createElement("tr");
      tr.dataset.status = job.status;
      const result = document.createElement("td");
      if (job.result_url) {
        const a = document.createElement("a"); a.href = job.result_url; a.textContent = "result.nc";
        const b = document.createElement("a"); b.href = job.summary_url; b.textContent = "summary.csv";
        result.append(a, " · ", b);
      } else if (job.error) { result.textContent = job.error; result.className = "error"; }
      tr.append(cell(job.id), cell(job.name || ""), cell(job.status),
        cell(Math.round(job.progress * 100) + "%"), result);
      return tr;
    }));
    if (jobs.some((j) => j.status === "queued" || j.status === "running")) { setTimeout(refresh, 1500); }
  }
  document.getElementById("run").addEventListener("click", async () => {
    const error = document.getElementById("run-error");
    error.textContent = "";
    const response = await fetch("/api/scenarios", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/toml", "X-CSRFToken": csrf },
      body: document.getElementById("spec").value });
    if (!response.ok) { error.textContent = (await response.json()).error; return; }
    refresh();
  });
  refresh();
})();
