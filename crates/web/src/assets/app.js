// The Config Tool's page. Text from the role, the proxy or SiPass (names, messages) is only
// ever set as textContent, never parsed as HTML; the Content-Security-Policy refuses inline
// script besides.
const $ = (id) => document.getElementById(id);
// Kept for this browser tab only.
let token = sessionStorage.getItem("sipass-bridge-token") || "";
async function api(path, options = {}) {
  // The application header names the Config Tool in the activity trail of commands.
  const headers = { Authorization: "Bearer " + token, "X-SiPass-Bridge-Application": "Config Tool" };
  const res = await fetch("/api/v1" + path, { ...options, headers });
  if (res.status === 401) { showLogin("That token was refused."); throw new Error("unauthorized"); }
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}
function showLogin(message) {
  $("app").hidden = true; $("login").hidden = false;
  if (message) { $("login-error").textContent = message; $("login-error").hidden = false; }
}
function text(value) { return value === null || value === undefined ? "–" : String(value); }
/** An element with attributes and children (strings become text nodes). */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : text(child));
  return node;
}
function render(s) {
  $("login").hidden = true; $("app").hidden = false;
  const h = $("health"); h.textContent = s.health.state; h.className = "health " + s.health.state;
  const retry = s.health.retry_in_ms == null ? "" : "; retrying in " + Math.ceil(s.health.retry_in_ms / 1000) + " s";
  $("reason").textContent = (s.health.reason || "") + retry;
  $("proxy").textContent = s.proxy.address ? `${s.proxy.address} (${s.proxy.connected ? "connected" : "not connected"}, proxy ${s.proxy.product_version || "?"}, SiPass ${s.proxy.sipass_version || "?"})` : "not connected yet";
  const missing = (s.proxy.unavailable || []).map(u =>
    el("li", {}, el("strong", {}, u.feature), u.kinds.length ? ` (${u.kinds.join(", ")})` : "", ": ", u.reason));
  $("unavailable").replaceChildren(...missing);
  $("unavailable-section").hidden = missing.length === 0;
  const rows = Object.entries(s.kinds).map(([kind, k]) =>
    el("tr", {}, el("td", {}, kind), el("td", {}, k.synchronized), el("td", {}, text(k.eligible)),
      el("td", {}, k.digest_match === null ? "–" : k.digest_match ? "✔ equal" : "✘ differs")));
  $("kinds").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Nothing yet."))]));
  const r = s.latest_run;
  if (r) {
    const progress = Object.entries(r.progress).map(([kind, p]) =>
      el("tr", {}, el("td", {}, kind), el("td", {}, el("progress", { max: p.total || 1, value: p.done }), ` ${p.done} / ${p.total}`)));
    const summary = `${r.outcome} · ${r.trigger} · started ${r.started_at}${r.ended_at ? " · ended " + r.ended_at : ""} · ${(r.duration_ms / 1000).toFixed(1)} s${r.error ? " · " + r.error : ""}`;
    $("run").replaceChildren(el("p", {}, summary), el("table", {}, ...progress));
  }
}
async function refresh() { try { render(await api("/sync/status")); } catch (e) { if (e.message !== "unauthorized") $("reason").textContent = e.message; } }
$("login-form").onsubmit = (e) => { e.preventDefault(); token = $("token").value.trim(); sessionStorage.setItem("sipass-bridge-token", token); refresh(); };
$("refresh").onclick = refresh;
$("start").onclick = async () => { await api("/sync/start", { method: "POST" }); refresh(); };
if (token) refresh(); else showLogin();
setInterval(() => { if (token && !$("app").hidden) refresh(); }, 2000);
