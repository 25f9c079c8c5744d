// Resources: each database's status, Database update, backup and restore. The database
// feature fills #databases from its API (GET /api/v1/databases); until a role serves it,
// the page says so instead of showing anything made up.
"use strict";
App.page = async () => {
  try {
    const databases = await api("/databases");
    $("databases").replaceChildren(...databases.map((d) => el("p", {}, JSON.stringify(d))));
  } catch (e) {
    $("databases").replaceChildren(el("p", { class: "muted" },
      e.status === 404 ? "This role does not report its databases yet." : e.message));
  }
};
