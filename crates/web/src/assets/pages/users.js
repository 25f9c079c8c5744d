// Users, user groups and partitions: create, edit, delete, reset a password.
"use strict";
const names = (value) => value.split(",").map((s) => s.trim()).filter((s) => s);
const path = (kind, name) => `/${kind}/${encodeURIComponent(name)}`;
let editingUser = null, editingGroup = null;

function showSecret(credentials) {
  if (!credentials || !credentials.one_time_password) return;
  $("secret-user").textContent = credentials.user;
  $("secret").textContent = credentials.one_time_password;
  $("secret-notice").hidden = false;
}
function button(label, onclick, cls = "secondary") {
  const b = el("button", { type: "button", class: cls }, label);
  b.onclick = () => onclick().catch((e) => notice("page-error", e.message));
  return b;
}
async function load() {
  const [users, groups, partitions, tokens] = await Promise.all([api("/users"), api("/groups"), api("/partitions"), api("/tokens")]);
  $("tokens").replaceChildren(...tokens.map((t) => el("tr", { "data-token": t.id },
    el("td", {}, t.id), el("td", {}, t.user), el("td", {}, t.label),
    el("td", {}, button("Revoke", async () => {
      if (confirm(`Revoke the token '${t.label}' of ${t.user}? Scripts using it are refused from now on.`)) { await api("/tokens/" + encodeURIComponent(t.id), { method: "DELETE" }); await load(); }
    }, "danger")))));
  $("users").replaceChildren(...users.map((u) => el("tr", { "data-user": u.name },
    el("td", {}, u.name, u.must_change_password ? el("span", { class: "muted" }, " (one-time password)") : ""),
    el("td", {}, u.role), el("td", {}, u.groups.join(", ")), el("td", {}, u.partitions.join(", ")),
    el("td", {},
      button("Edit", async () => {
        editingUser = u.name;
        $("user-form-title").textContent = "Edit " + u.name;
        $("user-name").value = u.name; $("user-name").disabled = true;
        $("user-role").value = u.role; $("user-partitions").value = u.partitions.join(", ");
        $("user-save").textContent = "Save"; $("user-cancel").hidden = false;
      }), " ",
      button("Reset password", async () => {
        if (confirm(`Give ${u.name} a new one-time password? Its sessions end.`)) showSecret(await api(path("users", u.name) + "/password", { method: "POST" }));
        await load();
      }), " ",
      button("Delete", async () => {
        if (confirm(`Delete user ${u.name}?`)) { await api(path("users", u.name), { method: "DELETE" }); await load(); }
      }, "danger")))));
  $("groups").replaceChildren(...groups.map((g) => el("tr", { "data-group": g.name },
    el("td", {}, g.name), el("td", {}, g.members.join(", ")), el("td", {}, g.partitions.join(", ")),
    el("td", {},
      button("Edit", async () => {
        editingGroup = g.name;
        $("group-form-title").textContent = "Edit " + g.name;
        $("group-name").value = g.name; $("group-name").disabled = true;
        $("group-members").value = g.members.join(", "); $("group-partitions").value = g.partitions.join(", ");
        $("group-save").textContent = "Save"; $("group-cancel").hidden = false;
      }), " ",
      button("Delete", async () => {
        if (confirm(`Delete group ${g.name}?`)) { await api(path("groups", g.name), { method: "DELETE" }); await load(); }
      }, "danger")))));
  $("partitions").replaceChildren(...partitions.map((p) => el("tr", { "data-partition": p.name },
    el("td", {}, p.name),
    el("td", {}, button("Delete", async () => {
      if (confirm(`Delete partition ${p.name}? Users and groups lose it.`)) { await api(path("partitions", p.name), { method: "DELETE" }); await load(); }
    }, "danger")))));
}
function resetUserForm() {
  editingUser = null; $("user-form").reset(); $("user-name").disabled = false;
  $("user-form-title").textContent = "New user"; $("user-save").textContent = "Create user"; $("user-cancel").hidden = true;
}
function resetGroupForm() {
  editingGroup = null; $("group-form").reset(); $("group-name").disabled = false;
  $("group-form-title").textContent = "New group"; $("group-save").textContent = "Create group"; $("group-cancel").hidden = true;
}
function submit(form, action) {
  form.onsubmit = async (event) => {
    event.preventDefault();
    clearErrors(form);
    try { await action(); await load(); } catch (e) { showError(form, e); }
  };
}
App.page = async () => {
  submit($("user-form"), async () => {
    const body = { role: $("user-role").value, partitions: names($("user-partitions").value) };
    if (editingUser) await api(path("users", editingUser), { method: "PUT", body });
    else showSecret(await api("/users", { method: "POST", body: { name: $("user-name").value, ...body } }));
    resetUserForm();
  });
  submit($("group-form"), async () => {
    const body = { members: names($("group-members").value), partitions: names($("group-partitions").value) };
    if (editingGroup) await api(path("groups", editingGroup), { method: "PUT", body });
    else await api("/groups", { method: "POST", body: { name: $("group-name").value, ...body } });
    resetGroupForm();
  });
  submit($("partition-form"), async () => {
    await api("/partitions", { method: "POST", body: { name: $("partition-name").value } });
    $("partition-form").reset();
  });
  submit($("token-form"), async () => {
    const made = await api(path("users", $("token-for").value.trim()) + "/tokens", { method: "POST", body: { label: $("token-label").value } });
    $("token-user").textContent = made.user; $("token-secret").textContent = made.token; $("token-notice").hidden = false;
    $("token-form").reset();
  });
  $("user-cancel").onclick = resetUserForm;
  $("group-cancel").onclick = resetGroupForm;
  await load();
};
