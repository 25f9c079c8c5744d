// Resources: each database's status, Database update, backup and restore, and the role's
// activation (docs/databases.md). Text from the role is only ever set as textContent.
"use strict";
const size = (b) => b >= 1048576 ? (b / 1048576).toFixed(1) + " MiB" : b >= 1024 ? (b / 1024).toFixed(1) + " KiB" : b + " B";

async function refreshDatabases() {
  try {
    const s = await api("/db/status");
    $("databases").replaceChildren(...s.databases.map((d) => el("tr", {},
      el("td", {}, d.database), el("td", {}, d.file),
      el("td", {}, d.found === d.expected ? `${d.found}` : `${d.found} (this release: ${d.expected})`),
      el("td", {}, size(d.size_bytes)),
      el("td", {}, d.counts.map((c) => `${c.table} ${c.rows}`).join(", ")))));
    const op = s.operation ? `${s.operation.kind} running: ${s.operation.database} ${s.operation.step} ${s.operation.total ? Math.floor(100 * s.operation.done / s.operation.total) + "%" : ""}` : "";
    $("role-state").textContent = [s.deactivated ? "Deactivated: " + s.deactivated : "Active", op].filter(Boolean).join(" · ");
  } catch (e) { notice("page-error", e.message); }
}

/** Restores `file` after asking; says the outcome in the backup section. */
async function restore(file) {
  if (!confirm(`Replace the role's databases with ${file}? The file is checked first; the role is deactivated meanwhile.`)) return "";
  const r = await api("/db/restore", { method: "POST", body: { file, accept_foreign: $("accept-foreign").checked } });
  const updated = r.updates.map((u) => `${u.database} updated ${u.from} → ${u.to}`).join("; ");
  return `Restored the backup of ${r.manifest.created_at}${updated ? "; " + updated : ""}`;
}

/** The backups folder's files, newest first, each restorable in one click. */
async function refreshBackups() {
  try {
    const l = await api("/db/backups");
    $("backups-folder").textContent = `${l.folder}${l.more ? ` (${l.more} older files not shown)` : ""}`;
    $("backups").replaceChildren(...l.backups.map((b) => {
      const m = b.manifest;
      const button = el("button", { class: "secondary", disabled: !m }, "Restore");
      button.onclick = async () => {
        button.disabled = true;
        try { const said = await restore(b.file); if (said) $("resources-message").textContent = said; }
        catch (e) { $("resources-message").textContent = e.message; }
        finally { button.disabled = false; refreshDatabases(); }
      };
      return el("tr", {},
        el("td", {}, b.file.split("/").pop()),
        el("td", {}, m ? m.created_at : b.modified),
        el("td", {}, m ? m.product_version : ""),
        el("td", {}, m ? m.parts.map((p) => `${p.database} ${p.schema_version}`).join(", ") : b.unreadable),
        el("td", {}, size(b.bytes)),
        el("td", {}, button));
    }));
  } catch (e) { notice("page-error", e.message); }
}

/** Runs `action` from `button`, saying its outcome beside it (in `slot`), then shows the
 * databases again. */
function action(button, run, slot = "resources-message") {
  $(button).onclick = async () => {
    $(button).disabled = true;
    try { const said = await run(); if (said) $(slot).textContent = said; }
    catch (e) { $(slot).textContent = e.message; }
    finally { $(button).disabled = false; refreshDatabases(); refreshBackups(); }
  };
}

App.page = async () => {
  action("db-update", async () => {
    if (!confirm("Deactivate the role, apply pending migrations, and activate it again?")) return "";
    const r = await api("/db/update", { method: "POST" });
    return r.databases.map((d) => d.applied.length ? `${d.database}: ${d.from} → ${d.to} (${d.applied.join(", ")})` : `${d.database}: already at ${d.to}`).join("; ");
  }, "role-message");
  action("backup", async () => {
    const file = $("backup-file").value.trim();
    const r = await api("/db/backup", { method: "POST", body: file ? { file } : {} });
    return `Backup written to ${r.file} (${r.manifest.created_at})`;
  });
  action("restore", async () => {
    const file = $("backup-file").value.trim();
    if (!file) return "Give the backup file to restore, or choose one below.";
    return restore(file);
  });
  action("deactivate", async () => {
    const reason = prompt("Why? (shown in the health)", "maintenance");
    if (reason === null) return "";
    const r = await api("/role/deactivate", { method: "POST", body: { reason } });
    return r.health.reason || r.health.state;
  }, "role-message");
  action("activate", async () => (await api("/role/activate", { method: "POST" })).health.state, "role-message");
  await refreshDatabases();
  await refreshBackups();
  setInterval(refreshDatabases, 2000);
};
