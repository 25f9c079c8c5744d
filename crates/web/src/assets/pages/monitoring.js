// Monitoring: alarms with acknowledge and history, the doors, intrusion areas and outputs
// with their commands, the activity trail, the stored SiPass events as they arrive and the
// cardholders. What an operator sees is what the API gives it (its partitions only). Every
// name and message comes from SiPass and is set as text by el(), never parsed as HTML.
"use strict";
const SHOWN = 50;
/** Devices listed per kind: the first ones of the Directory (the CLI lists them all). */
const DEVICES_SHOWN = 200;
const DEVICE_KINDS = [
  { kind: "door", body: "doors", noun: "door" },
  { kind: "intrusion-detection-area", body: "areas", noun: "intrusion area" },
  { kind: "output", body: "outputs", noun: "output" },
];
let historyOf = null;

function eventRow(e) {
  return el("tr", { "data-event": e.id },
    el("td", { class: "time" }, e.occurred_at), el("td", {}, e.sipass_type, e.message ? el("div", { class: "hint" }, e.message) : ""),
    el("td", {}, e.entities.map((x) => `${x.kind}: ${x.name}`).join("; ")));
}
function addEvents(events) {
  const body = $("events");
  if (events.length) body.querySelector("tr.none")?.remove();
  for (const e of events) body.prepend(eventRow(e));
  while (body.children.length > SHOWN) body.lastElementChild.remove();
}
async function loadEvents() {
  const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  let page = await api(`/events?since=${encodeURIComponent(since)}&limit=1000`);
  let events = page.events;
  while (page.next_after && events.length < 10000) {
    page = await api(`/events?since=${encodeURIComponent(since)}&limit=1000&after=${page.next_after}`);
    events = events.concat(page.events);
  }
  if (!events.length) $("events").replaceChildren(el("tr", { class: "none" }, el("td", { colspan: 3, class: "muted" }, "No event you may see in the last 24 hours.")));
  addEvents(events.slice(-SHOWN));
  const refused = await liveRefusal();
  if (refused) { $("events").append(emptyRow(3, "No live events: " + refused)); return; }
  const live = new EventSource("/api/v1/events/live");
  live.addEventListener("stored", (m) => addEvents([JSON.parse(m.data)]));
  live.addEventListener("lagged", () => { live.close(); notice("page-error", "The live feed fell behind; reload the page."); });
  live.addEventListener("revoked", (m) => { live.close(); notice("page-error", "The live feed ended: " + m.data); });
  live.onerror = () => { live.close(); notice("page-error", "The live feed stopped; reload the page to follow it again."); };
}
/** Why the live feed would be refused (an operator outside the entity partitions), or null.
 *  EventSource hides the answer's status, so one request asks first and is cut at once. */
async function liveRefusal() {
  const probe = new AbortController();
  const res = await fetch("/api/v1/events/live", { signal: probe.signal, credentials: "same-origin", headers: { Accept: "text/event-stream" } });
  if (res.ok) { probe.abort(); return null; }
  const data = await res.json().catch(() => null);
  return (data && data.message) || res.statusText;
}
function emptyRow(columns, message) {
  return el("tr", {}, el("td", { colspan: columns, class: "muted" }, message));
}
async function loadCardholders() {
  const page = await api("/entities?kind=cardholder&limit=100");
  $("cardholders").replaceChildren(...(page.entities.length
    ? page.entities.map((c) => el("tr", { "data-entity": c.id }, el("td", {}, c.id), el("td", { class: "name" }, c.name)))
    : [emptyRow(2, "No cardholder you may see.")]));
}

function alarmState(a) {
  if (a.acknowledged) return `acknowledged by ${a.acknowledged_by}${a.ack_comment ? ": " + a.ack_comment : ""}${a.ack_pending ? " (SiPass not told yet)" : ""}${a.cleared ? ", cleared" : ""}`;
  return a.cleared ? "cleared, not acknowledged" : "new";
}
function alarmRow(a) {
  const comment = el("input", { type: "text", placeholder: "Comment", "aria-label": "Comment", maxlength: 500 });
  const ack = el("button", { type: "button", class: "secondary ack" }, "Acknowledge");
  ack.onclick = async () => {
    try { await api(`/alarms/${a.id}/acknowledge`, { method: "POST", body: { comment: comment.value } }); await loadAlarms(); }
    catch (e) { notice("page-error", e.message); }
  };
  const history = el("button", { type: "button", class: "secondary history" }, "History");
  history.onclick = () => showHistory(a.id).catch((e) => notice("page-error", e.message));
  return el("tr", { "data-alarm": a.id },
    el("td", { class: "time" }, a.triggered_at), el("td", {}, a.class_name, a.message ? el("div", { class: "hint" }, a.message) : ""),
    el("td", {}, a.priority), el("td", { class: "state" }, alarmState(a)),
    el("td", {}, a.acknowledged ? "" : el("span", {}, comment, " ", ack)), el("td", {}, history));
}
async function loadAlarms() {
  const active = $("alarms-all").checked ? "" : "active=true&";
  const page = await api(`/alarms?${active}limit=100`);
  $("alarms").replaceChildren(...(page.alarms.length ? page.alarms.map(alarmRow)
    : [emptyRow(6, "No alarm you may see.")]));
  if (historyOf !== null) await showHistory(historyOf);
}
/** Who did it: the user here, the SiPass operator, or SiPass by itself. */
function actor(h) { return h.by || (h.origin === "sipass" ? "SiPass (by itself)" : "–"); }
async function showHistory(id) {
  const answer = await api(`/alarms/${id}/history`);
  historyOf = id;
  const a = answer.alarm;
  $("alarm-history-title").textContent = `${a.class_name} (alarm ${a.id}, SiPass ${a.sipass_id})`;
  $("alarm-history").replaceChildren(...answer.history.map((h) => el("tr", { "data-history": h.id },
    el("td", { class: "time" }, h.at), el("td", { class: "action" }, h.action), el("td", { class: "by" }, actor(h)),
    el("td", { class: "comment" }, h.comment), el("td", {}, h.origin === "here" ? "Config Tool, CLI or API" : "SiPass"))));
  $("alarm-history-section").hidden = false;
}

/** SiPass's answer to a command, or the refusal, above the device tables. */
function commandResult(message, ok) {
  const slot = $("command-result");
  slot.textContent = message; slot.className = ok ? "ok" : "form-error"; slot.hidden = false;
}
async function sendCommand(device, kind, command) {
  const what = `${command.output_behaviour || command.label} on ${device.name || device.id}`;
  try {
    const answer = await api(`/entities/${encodeURIComponent(device.id)}/commands`, { method: "POST", body: { action: command.name, kind } });
    commandResult(`${what}: ${answer.result}${answer.message ? " (" + answer.message + ")" : ""}`, answer.result === "Succeeded");
  } catch (e) {
    commandResult(`${what}: ${e.message}`, false);
  }
  await loadActivity().catch((e) => notice("page-error", e.message));
}
function deviceRow(device, kind, commands) {
  const buttons = commands.map((c) => {
    const b = el("button", { type: "button", class: "secondary", "data-command": c.name, title: c.label }, c.output_behaviour || c.label);
    b.onclick = () => sendCommand(device, kind, c);
    return b;
  });
  return el("tr", { "data-device": device.id, "data-kind": kind },
    el("td", { class: "name" }, device.name || device.id, el("div", { class: "hint" }, `id ${device.id}`)),
    el("td", { class: "commands" }, ...buttons.flatMap((b) => [b, " "])));
}
/** Names as people read them: "Door 0002" before "Door 0010", "Out 2" before "Out 10" (the
 * API pages in id text order, where id 10 comes before id 2). */
function byName(a, b) {
  const key = (d) => d.name || d.id;
  return key(a).localeCompare(key(b), undefined, { numeric: true }) || a.id.localeCompare(b.id, undefined, { numeric: true });
}
/** One kind's devices; the commands of a kind are the same for all of them (asked once). */
async function loadDevices({ kind, body, noun }) {
  const page = await api(`/entities?kind=${kind}&limit=${DEVICES_SHOWN}`);
  if (!page.entities.length) { $(body).replaceChildren(emptyRow(2, `No ${noun} you may see.`)); return; }
  const first = page.entities[0];
  const offered = await api(`/entities/${encodeURIComponent(first.id)}/commands?kind=${kind}`);
  const commands = offered.entities.length ? offered.entities[0].commands : [];
  const rows = page.entities.sort(byName).map((d) => deviceRow(d, kind, commands));
  if (page.next_after) rows.push(emptyRow(2, `The first ${DEVICES_SHOWN} shown; \`sipass-bridge entities list --kind ${kind}\` lists them all.`));
  $(body).replaceChildren(...rows);
}
async function loadActivity() {
  const page = await api("/activity?limit=" + SHOWN);
  $("activity").replaceChildren(...(page.activities.length ? page.activities.map((a) => el("tr", { "data-activity": a.id },
    el("td", { "data-field": "at", class: "time" }, a.at),
    el("td", { "data-field": "entity" }, a.entity_name, el("div", { class: "hint" }, `${a.entity_kind} ${a.entity_id}`)),
    el("td", { "data-field": "activity" }, a.activity_label),
    el("td", { "data-field": "application" }, a.application),
    el("td", { "data-field": "version" }, a.application_version),
    el("td", { "data-field": "machine" }, a.machine),
    el("td", { "data-field": "user" }, a.user),
    el("td", { "data-field": "outcome" }, a.outcome, a.message ? el("div", { class: "hint" }, a.message) : "")))
    : [emptyRow(8, "No command sent to an entity you may see.")]));
}

App.page = async () => {
  const shown = (p) => p.catch((e) => notice("page-error", e.message));
  $("alarms-all").onchange = () => shown(loadAlarms());
  $("alarm-history-close").onclick = () => { historyOf = null; $("alarm-history-section").hidden = true; };
  await Promise.all([
    shown(loadCardholders()), shown(loadAlarms()), shown(loadEvents()), shown(loadActivity()),
    ...DEVICE_KINDS.map((k) => shown(loadDevices(k))),
  ]);
  // Not while a comment is being written: the rows would be replaced under it.
  setInterval(() => {
    const writing = [...document.querySelectorAll("#alarms input")].some((i) => i.value || i === document.activeElement);
    if (!writing) loadAlarms().catch(() => {});
    loadActivity().catch(() => {});
  }, 5000);
};
