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
App.page = async () => {
  await Promise.all([loadCardholders(), loadEvents().catch((e) => notice("page-error", e.message))]);
};
