// Properties: every setting the role keeps, applied as a whole. The server validates every
// field before changing any; a refused one is shown beside its field and nothing changes.
"use strict";
const LIST_FIELDS = ["entity_partitions", "events_not_logged", "alarm_partitions"];
let loaded = {};
function fill(settings) {
  loaded = settings;
  $("host").value = settings.host || "";
  $("not-configured").hidden = !!settings.host;
  $("port").value = settings.port;
  $("sync_credentials").checked = !!settings.sync_credentials;
  for (const f of LIST_FIELDS) if (settings[f] !== undefined) $(f).value = settings[f].join(", ");
  $("events_ignored").value = (settings.events_ignored || []).join("\n");
  // The alarm fields appear once the role keeps alarm settings.
  const alarms = settings.alarm_recipients !== undefined || settings.alarm_partitions !== undefined;
  $("alarms-section").hidden = !alarms;
  if (settings.alarm_recipients !== undefined) {
    const names = settings.alarm_recipients.map((r) => (typeof r === "string" ? r : `${r.type}:${r.name}`));
    $("alarm_recipients").value = names.join(", ");
    $("no-recipients").hidden = names.length > 0;
  }
  if (settings.alarm_webhook_url !== undefined) $("alarm_webhook_url").value = settings.alarm_webhook_url;
  const behaviours = settings.output_behaviours;
  $("outputs-section").hidden = behaviours === undefined;
  if (behaviours !== undefined) {
    $("output-behaviours").replaceChildren(...Object.entries(behaviours).map(([pattern, behaviour]) =>
      el("tr", {}, el("th", {}, el("label", { for: "behaviour-" + pattern, class: "inline" }, pattern)),
        el("td", {}, el("input", { id: "behaviour-" + pattern, type: "text", "data-pattern": pattern, value: behaviour })))));
  }
}
function listOf(value, separator) { return value.split(separator).map((s) => s.trim()).filter((s) => s); }
function change() {
  const c = {
    port: $("port").value.trim(),
    sync_credentials: $("sync_credentials").checked,
    entity_partitions: listOf($("entity_partitions").value, ","),
    events_not_logged: listOf($("events_not_logged").value, ","),
    events_ignored: listOf($("events_ignored").value, "\n"),
  };
  // An empty host means "not configured yet": it is left as it is.
  if ($("host").value.trim()) c.host = $("host").value.trim();
  if (!$("alarms-section").hidden) {
    c.alarm_recipients = listOf($("alarm_recipients").value, ",");
    // Setting alarm partitions reapplies them to every alarm entity: only when changed.
    const partitions = listOf($("alarm_partitions").value, ",");
    if (JSON.stringify(partitions) !== JSON.stringify(loaded.alarm_partitions || [])) c.alarm_partitions = partitions;
    c.alarm_webhook_url = $("alarm_webhook_url").value.trim();
  }
  if (!$("outputs-section").hidden) {
    const changed = {};
    for (const input of document.querySelectorAll("#output-behaviours input")) {
      if (input.value.trim() !== loaded.output_behaviours[input.dataset.pattern]) changed[input.dataset.pattern] = input.value.trim();
    }
    if (Object.keys(changed).length) c.output_behaviours = changed;
  }
  return c;
}
App.page = async () => {
  const form = $("properties");
  fill(await api("/config"));
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearErrors(form);
    notice("applied", "");
    try {
      const before = `${loaded.host}:${loaded.port}`;
      fill(await api("/config", { method: "PUT", body: change() }));
      const after = `${loaded.host}:${loaded.port}`;
      // A new proxy address: the role connects at once and its first connection synchronizes.
      notice("applied", loaded.host && before !== after
        ? `Applied: connecting to the proxy at ${after}; the synchronization starts once connected.`
        : "Applied.");
    } catch (e) { showError(form, e); }
  };
};
