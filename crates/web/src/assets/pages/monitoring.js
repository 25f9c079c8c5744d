// Monitoring: the stored SiPass events as they arrive (an operator sees those of its
// partitions only; the API decides), and the cardholders it may see. The alarm and command
// features add their sections to this page.
"use strict";
const SHOWN = 50;
function eventRow(e) {
  return el("tr", { "data-event": e.id },
    el("td", {}, e.occurred_at), el("td", {}, e.sipass_type, e.message ? el("div", { class: "hint" }, e.message) : ""),
    el("td", {}, e.entities.map((x) => `${x.kind}: ${x.name}`).join("; ")));
}
function addEvents(events) {
  const body = $("events");
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
  addEvents(events.slice(-SHOWN));
  const live = new EventSource("/api/v1/events/live");
  live.addEventListener("stored", (m) => addEvents([JSON.parse(m.data)]));
  live.addEventListener("lagged", () => { live.close(); notice("page-error", "The live feed fell behind; reload the page."); });
  live.onerror = () => { live.close(); notice("page-error", "The live feed stopped; reload the page to follow it again."); };
}
async function loadCardholders() {
  const page = await api("/entities?kind=cardholder&limit=100");
  $("cardholders").replaceChildren(...(page.entities.length
    ? page.entities.map((c) => el("tr", { "data-entity": c.id }, el("td", {}, c.id), el("td", { class: "name" }, c.name)))
    : [el("tr", {}, el("td", { colspan: 2, class: "muted" }, "No cardholder you may see."))]));
}
function alarmState(a) {
  if (a.acknowledged) return `acknowledged by ${a.acknowledged_by}${a.ack_comment ? ": " + a.ack_comment : ""}${a.ack_pending ? " (SiPass not told yet)" : ""}`;
  return a.cleared ? "cleared, not acknowledged" : "new";
}
async function loadAlarms() {
  const page = await api("/alarms?active=true&limit=100");
  $("alarms").replaceChildren(...(page.alarms.length ? page.alarms.map((a) => {
    const comment = el("input", { type: "text", placeholder: "Comment", "aria-label": "Comment", maxlength: 500 });
    const ack = el("button", { type: "button", class: "secondary" }, "Acknowledge");
    ack.onclick = async () => {
      try { await api(`/alarms/${a.id}/acknowledge`, { method: "POST", body: { comment: comment.value } }); await loadAlarms(); }
      catch (e) { notice("page-error", e.message); }
    };
    return el("tr", { "data-alarm": a.id },
      el("td", {}, a.triggered_at), el("td", {}, a.class_name, a.message ? el("div", { class: "hint" }, a.message) : ""),
      el("td", {}, a.priority), el("td", { class: "state" }, alarmState(a)),
      el("td", {}, a.acknowledged ? "" : el("span", {}, comment, " ", ack)));
  }) : [el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No active alarm you may see."))]));
}
App.page = async () => {
  await Promise.all([
    loadCardholders(),
    loadAlarms().catch((e) => notice("page-error", e.message)),
    loadEvents().catch((e) => notice("page-error", e.message)),
  ]);
  // Not while a comment is being written: the rows would be replaced under it.
  setInterval(() => {
    const writing = [...document.querySelectorAll("#alarms input")].some((i) => i.value || i === document.activeElement);
    if (!writing) loadAlarms().catch(() => {});
  }, 5000);
};
