// The Config Tool's Resources section: the databases (update, backup, restore) and the role's
// activation (docs/databases.md). Like app.js, text from the role is only ever set as
// textContent, never parsed as HTML.
(() => {
  const app = document.getElementById("app");
  if (!app) return;
  const token = () => sessionStorage.getItem("sipass-bridge-token") || "";
  async function call(path, method = "GET", body) {
    const options = { method, headers: { Authorization: "Bearer " + token() } };
    if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    const res = await fetch("/api/v1" + path, options);
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(answer.message || res.statusText);
    return answer;
  }
  function node(tag, attributes, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes || {})) n.setAttribute(k, String(v));
    for (const c of children) n.append(c instanceof Node ? c : String(c ?? "–"));
    return n;
  }
  const size = (b) => b >= 1048576 ? (b / 1048576).toFixed(1) + " MiB" : b >= 1024 ? (b / 1024).toFixed(1) + " KiB" : b + " B";
  const tbody = node("tbody");
  const state = node("p", { class: "muted" });
  const message = node("p", { class: "muted" });
  const file = node("input", { type: "text", placeholder: "Backup file on the role's machine, e.g. /var/backups/site.sipass-backup" });
  const foreign = node("input", { type: "checkbox" });
  const button = (label, action, secondary) => {
    const b = node("button", secondary ? { class: "secondary" } : {}, label);
    b.onclick = async () => {
      b.disabled = true;
      try { message.textContent = await action(); } catch (e) { message.textContent = e.message; } finally { b.disabled = false; refresh(); }
    };
    return b;
  };
  const update = button("Database update", async () => {
    if (!confirm("Deactivate the role, apply pending migrations, and activate it again?")) return "";
    const r = await call("/db/update", "POST");
    return r.databases.map(d => d.applied.length ? `${d.database}: ${d.from} → ${d.to} (${d.applied.join(", ")})` : `${d.database}: already at ${d.to}`).join("; ");
  });
  const backup = button("Back up now", async () => {
    const r = await call("/db/backup", "POST", file.value.trim() ? { file: file.value.trim() } : {});
    return `Backup written to ${r.file} (${r.manifest.created_at})`;
  }, true);
  const restore = button("Restore", async () => {
    const path = file.value.trim();
    if (!path) return "Give the backup file to restore.";
    if (!confirm(`Replace the role's databases with ${path}? The file is checked first; the role is deactivated meanwhile.`)) return "";
    const r = await call("/db/restore", "POST", { file: path, accept_foreign: foreign.checked });
    const updated = r.updates.map(u => `${u.database} updated ${u.from} → ${u.to}`).join("; ");
    return `Restored the backup of ${r.manifest.created_at}${updated ? "; " + updated : ""}`;
  }, true);
  const deactivate = button("Deactivate", async () => {
    const reason = prompt("Why? (shown in the health)", "maintenance");
    if (reason === null) return "";
    const r = await call("/role/deactivate", "POST", { reason });
    return r.health.reason || r.health.state;
  }, true);
  const activate = button("Activate", async () => (await call("/role/activate", "POST")).health.state, true);
  app.append(node("section", {},
    node("h2", {}, "Resources"),
    state,
    node("table", {}, node("thead", {}, node("tr", {}, ...["Database", "File", "Schema", "Size", "Rows"].map(h => node("th", {}, h)))), tbody),
    node("p", {}, update, " ", deactivate, " ", activate),
    node("p", {}, file),
    node("p", {}, backup, " ", restore, " ", node("label", {}, foreign, " accept another role's backup")),
    message));
  async function refresh() {
    if (!token() || app.hidden) return;
    try {
      const s = await call("/db/status");
      tbody.replaceChildren(...s.databases.map(d => node("tr", {},
        node("td", {}, d.database), node("td", {}, d.file),
        node("td", {}, d.found === d.expected ? `${d.found}` : `${d.found} (this release: ${d.expected})`),
        node("td", {}, size(d.size_bytes)),
        node("td", {}, d.counts.map(c => `${c.table} ${c.rows}`).join(", ")))));
      const op = s.operation ? `${s.operation.kind} running: ${s.operation.database} ${s.operation.step} ${s.operation.total ? Math.floor(100 * s.operation.done / s.operation.total) + "%" : ""}` : "";
      state.textContent = [s.deactivated ? "Deactivated: " + s.deactivated : "Active", op].filter(Boolean).join(" · ");
    } catch (e) { state.textContent = e.message; }
  }
  refresh();
  setInterval(refresh, 2000);
})();
