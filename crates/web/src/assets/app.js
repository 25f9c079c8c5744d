// The Config Tool's shared script: the API client, the layout (navigation, health, who is
// signed in) and small helpers. Text from the role, the proxy or SiPass (names, messages) is
// only ever set as textContent, never parsed as HTML; the Content-Security-Policy refuses
// inline script besides. Each page's own script sets App.page, run once signed in.
"use strict";
const $ = (id) => document.getElementById(id);
const App = { session: null, page: null, pageId: document.body.dataset.page };

function text(value) { return value === null || value === undefined ? "–" : String(value); }
/** An element with attributes and children (strings become text nodes). */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : text(child));
  return node;
}

/** Calls the API; a refusal throws an Error with the API's code, message and field. */
async function api(path, { method = "GET", body } = {}) {
  // The application header names the Config Tool in the activity trail of commands.
  const headers = { Accept: "application/json", "X-SiPass-Bridge-Application": "Config Tool" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && App.session && App.session.csrf_token) headers["X-CSRF-Token"] = App.session.csrf_token;
  const res = await fetch("/api/v1" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 && App.pageId !== "signin") {
    location.assign("/signin?next=" + encodeURIComponent(location.pathname));
    throw new Error("not signed in");
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const error = new Error((data && data.message) || res.statusText);
    error.code = data && data.code; error.field = data && data.field; error.status = res.status;
    throw error;
  }
  return data;
}

/** Shows `message` in the element marked data-error-for=field (or the form's general one). */
function showError(form, error) {
  const slot = (error.field && form.querySelector(`[data-error-for="${CSS.escape(error.field)}"]`)) ||
    form.querySelector("[data-error-for='']");
  if (slot) { slot.textContent = error.message; slot.hidden = false; slot.scrollIntoView({ block: "center" }); } else alert(error.message);
}
function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) { slot.textContent = ""; slot.hidden = true; }
}
function notice(id, message) { const n = $(id); if (n) { n.textContent = message; n.hidden = !message; } }

async function showHealth() {
  try {
    const res = await fetch("/health", { headers: { Accept: "application/json" } });
    const h = await res.json();
    $("health").textContent = String(h.state).replace("_", " ");
    $("health").className = "health " + h.state;
    const retry = h.retry_in_ms == null ? "" : "; retrying in " + Math.ceil(h.retry_in_ms / 1000) + " s";
    // Every state comes with its reason; one missing is said rather than left blank.
    const reason = (h.reason || "the role gave no reason") + retry;
    $("health-reason").textContent = reason;
    $("health").title = reason;
  } catch (e) {
    $("health").textContent = "unreachable"; $("health").className = "health error";
    $("health-reason").textContent = "The Config Tool cannot be reached: " + e.message;
  }
}

function showNavigation(session) {
  const entries = JSON.parse(document.body.dataset.nav || "[]");
  const links = entries
    .filter(([, , adminOnly]) => !adminOnly || session.role === "administrator")
    .map(([id, title]) => el("a", { href: "/" + id, "aria-current": id === App.pageId ? "page" : false }, title));
  $("nav").replaceChildren(...links);
  $("who").textContent = `${session.user} (${session.role})`;
  $("signout").hidden = false;
  $("signout").onclick = async () => { await api("/session", { method: "DELETE" }).catch(() => {}); location.assign("/signin"); };
}

/** An administrators' page opened by an operator: said once in place of the page, rather
 * than empty forms that look like the settings and an error above them. */
function refusedToOperator(session) {
  const entries = JSON.parse(document.body.dataset.nav || "[]");
  const entry = entries.find(([id]) => id === App.pageId);
  if (!entry || !entry[2] || session.role === "administrator") return false;
  const refusal = el("p", { id: "page-error", class: "form-error" },
    `${session.user} is an operator; only an administrator may use ${entry[1]}.`);
  $("main").replaceChildren($("main").querySelector("h2"), refusal);
  return true;
}

async function boot() {
  showHealth();
  setInterval(showHealth, 3000);
  if (App.pageId === "signin") { if (App.page) App.page(null); return; }
  const session = await api("/session");
  if (session.must_change_password) { location.assign("/signin?change=1"); return; }
  App.session = session;
  showNavigation(session);
  if (refusedToOperator(session)) return;
  if (App.page) await App.page(session);
}
document.addEventListener("DOMContentLoaded", () => boot().catch((e) => notice("page-error", e.message)));
