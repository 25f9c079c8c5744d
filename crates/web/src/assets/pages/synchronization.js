// Synchronization: per entity type, synchronized against eligible with the digest verdict;
// Start synchronization; the latest run with live progress per type.
"use strict";
function showStatus(s) {
  $("proxy").textContent = s.proxy.address
    ? `${s.proxy.address} (${s.proxy.connected ? "connected" : "not connected"}, proxy ${s.proxy.product_version || "?"}, SiPass ${s.proxy.sipass_version || "?"})`
    : "not connected yet";
  const missing = (s.proxy.unavailable || []).map((u) =>
    el("li", {}, el("strong", {}, u.feature), u.kinds.length ? ` (${u.kinds.join(", ")})` : "", ": ", u.reason));
  $("unavailable").replaceChildren(...missing);
  $("unavailable-section").hidden = missing.length === 0;
  const rows = Object.entries(s.kinds).map(([kind, k]) =>
    el("tr", { "data-kind": kind }, el("td", {}, kind), el("td", {}, k.synchronized), el("td", {}, text(k.eligible)),
      el("td", {}, k.digest_match === null ? "–" : k.digest_match ? "✔ equal" : "✘ differs")));
  $("kinds").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Nothing yet."))]));
  const r = s.latest_run;
  if (!r) return;
  const progress = Object.entries(r.progress).map(([kind, p]) =>
    el("tr", {}, el("td", {}, kind), el("td", {}, el("progress", { max: p.total || 1, value: p.done }), ` ${p.done} / ${p.total}`)));
  const facts = [
    ["Outcome", r.outcome], ["Trigger", r.trigger], ["Started", r.started_at], ["Ended", r.ended_at],
    ["Duration", (r.duration_ms / 1000).toFixed(1) + " s"], ["Errors", r.error || "none"],
  ].map(([name, value]) => el("tr", {}, el("th", {}, name), el("td", { "data-fact": name.toLowerCase() }, value)));
  $("run").className = "";
  $("run").replaceChildren(el("table", { id: "run-facts" }, ...facts), el("h3", {}, "Progress per entity type"), el("table", {}, ...progress));
}
function showHistory(runs) {
  $("history").replaceChildren(...(runs.length ? runs.map((r) => el("tr", { "data-run": r.id },
    el("td", {}, r.started_at), el("td", {}, r.trigger), el("td", {}, r.outcome),
    el("td", {}, (r.duration_ms / 1000).toFixed(1) + " s"), el("td", {}, r.error || "")))
    : [el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No synchronization yet."))]));
}
/** This release, the proxy's and SiPass's versions, and whether the pair is supported. */
function showCompatibility(v) {
  const p = v.proxy;
  const facts = [
    ["SiPass Bridge", `${v.product_version} (bridge protocol ${v.protocol_version})`],
    ["Proxy", p ? `${p.product_version} at ${p.address} (bridge protocol ${p.protocol_version})` : "unknown: no proxy has answered yet"],
    ["SiPass", p ? p.sipass_version : "unknown"],
    ["Supported SiPass versions", v.supported_sipass_versions.join(", ")],
    ["Verdict", `${v.verdict}: ${v.reason}`],
  ];
  $("compatibility").replaceChildren(...facts.map(([name, value]) =>
    el("tr", {}, el("th", {}, name), el("td", { "data-version": name.toLowerCase().replaceAll(" ", "-"), class: name === "Verdict" ? (v.verdict === "supported" ? "ok" : "warn") : false }, value))));
}
async function refreshStatus() {
  try {
    const [status, runs, version] = await Promise.all([api("/sync/status"), api("/sync/runs?limit=20"), api("/version")]);
    showStatus(status); showHistory(runs); showCompatibility(version); notice("page-error", "");
  } catch (e) { notice("page-error", e.message); }
}
App.page = async (session) => {
  $("refresh").onclick = refreshStatus;
  if (session.role === "administrator") {
    $("start").hidden = false;
    $("start").onclick = async () => {
      try {
        const answer = await api("/sync/start", { method: "POST" });
        notice("start-notice", answer.message);
        refreshStatus();
      } catch (e) { notice("page-error", e.message); }
    };
  }
  await refreshStatus();
  setInterval(refreshStatus, 1000);
};
