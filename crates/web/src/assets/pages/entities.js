// Entities: the Directory under the SiPass plugin, by type, searched on the server a page at a
// time; each entity's SiPass fields read-only; the alarm entities and custom events created
// from SiPass. Everything from SiPass is set as text (el() makes text nodes), never as HTML.
"use strict";
const PAGE = 50;
const view = { kind: null, q: "", after: null };

function head(...names) { $("list-head").replaceChildren(el("tr", {}, ...names.map((n) => el("th", {}, n)))); }
function empty(message, columns) { return el("tr", {}, el("td", { colspan: columns, class: "muted" }, message)); }
/** A field's value as text: strings as they are, anything else as JSON; cut when long. */
function shown(value) {
  const t = typeof value === "string" ? value : JSON.stringify(value);
  return t.length > 400 ? t.slice(0, 400) + "…" : t;
}

async function showTree() {
  const { kinds } = await api("/entity-kinds");
  $("tree").replaceChildren(...kinds.map((k) => {
    const button = el("button", { type: "button", class: "link", "data-kind": k.kind }, `${k.kind} (${k.count})`);
    button.onclick = () => openKind(k.kind);
    return el("li", {}, button);
  }));
}

function select(id) {
  for (const b of document.querySelectorAll(".tree button")) b.classList.toggle("selected", b.id === id || b.dataset.kind === id);
  $("details").hidden = true;
  $("more").hidden = true;
}

async function openKind(kind) {
  select(kind);
  Object.assign(view, { kind, after: null, q: $("search").value.trim() });
  $("list-title").textContent = `SiPass plugin › ${kind}`;
  $("search-form").hidden = false;
  head("Name", "SiPass id", "Revision");
  $("list").replaceChildren();
  await morePage();
}

/** The next page of the kind, matching the search when there is one. */
async function morePage() {
  const params = new URLSearchParams({ kind: view.kind, limit: String(PAGE) });
  if (view.after) params.set("after", view.after);
  if (view.q) params.set("q", view.q);
  const page = await api("/entities?" + params);
  const rows = page.entities.map((e) => {
    const row = el("tr", { "data-entity": e.id, class: "clickable" }, el("td", { class: "name" }, e.name), el("td", {}, e.id), el("td", {}, e.revision));
    row.onclick = () => showEntity(e);
    return row;
  });
  if (!view.after && rows.length === 0) rows.push(empty(view.q ? `No ${view.kind} matches “${view.q}”.` : `No ${view.kind} yet.`, 3));
  $("list").append(...rows);
  view.after = page.next_after;
  $("more").hidden = !page.next_after;
}

function showEntity(e) {
  $("details-title").textContent = `${e.name} (${e.kind} ${e.id})`;
  const facts = [["Entity type", e.kind], ["SiPass kind", e.source_kind], ["SiPass id", e.id], ["Revision", String(e.revision)]];
  const fields = e.fields && typeof e.fields === "object" ? Object.entries(e.fields) : [["fields", e.fields]];
  $("fields").replaceChildren(...facts.concat(fields).map(([name, value]) =>
    el("tr", { "data-field": name }, el("th", {}, name), el("td", {}, shown(value)))));
  $("details").hidden = false;
  $("details").scrollIntoView({ block: "nearest" });
}

async function showAlarmEntities() {
  select("view-alarm-entities");
  $("search-form").hidden = true;
  $("list-title").textContent = "Alarm entities created from SiPass alarm classes";
  head("Name", "Alarm class", "Recipients", "Partitions");
  const { entities } = await api("/alarm-entities");
  const recipient = (r) => (typeof r === "string" ? r : `${r.type}:${r.name}`);
  $("list").replaceChildren(...(entities.length ? entities.map((a) => el("tr", { "data-alarm-entity": a.id },
    el("td", { class: "name" }, a.name), el("td", {}, a.id),
    el("td", {}, a.recipients.length ? a.recipients.map(recipient).join(", ") : "nobody is notified"),
    el("td", {}, a.partitions.join(", ")))) : [empty("No alarm entity yet.", 4)]));
}

async function showCustomEvents() {
  select("view-custom-events");
  $("search-form").hidden = true;
  $("list-title").textContent = "Custom events created from SiPass event types";
  head("Custom event", "Category", "Also raised as", "");
  const { custom_events: events } = await api("/event-types");
  $("list").replaceChildren(...events.map((e) => el("tr", { "data-custom-event": e.name },
    el("td", { class: "name" }, e.name), el("td", {}, e.category),
    el("td", {}, e.native_events.join(", ") || "–"),
    el("td", { class: e.known ? "muted" : "warn" }, e.known ? "" : `not in the mapping table; ${e.seen} seen`))));
}

/** Runs `action`, showing a failure at the top of the page. */
function guarded(action) {
  return async (...args) => {
    try { notice("page-error", ""); await action(...args); } catch (e) { notice("page-error", e.message); }
  };
}

App.page = async () => {
  openKind = guarded(openKind);
  $("search-form").onsubmit = guarded(async (event) => { event.preventDefault(); await openKind(view.kind); });
  $("more").onclick = guarded(morePage);
  $("view-alarm-entities").onclick = guarded(showAlarmEntities);
  $("view-custom-events").onclick = guarded(showCustomEvents);
  await showTree();
};
