// Sign-in, and the password change a one-time password asks for.
"use strict";
App.page = async () => {
  const params = new URLSearchParams(location.search);
  const next = (params.get("next") || "").startsWith("/") && !(params.get("next") || "").startsWith("//") ? params.get("next") : "/synchronization";
  const go = () => location.assign(next);
  const askForPassword = () => { $("signin-section").hidden = true; $("change-section").hidden = false; $("current").focus(); };
  if (params.get("change")) {
    try { App.session = await api("/session"); askForPassword(); } catch (e) { /* not signed in: sign in first */ }
  }
  $("signin-form").onsubmit = async (event) => {
    event.preventDefault();
    clearErrors($("signin-form"));
    try {
      App.session = await api("/session", { method: "POST", body: { user: $("user").value.trim(), password: $("password").value } });
      if (App.session.must_change_password) { $("current").value = $("password").value; askForPassword(); } else go();
    } catch (e) { showError($("signin-form"), e); }
  };
  $("change-form").onsubmit = async (event) => {
    event.preventDefault();
    clearErrors($("change-form"));
    try {
      await api("/session/password", { method: "POST", body: { current: $("current").value, new: $("new").value } });
      go();
    } catch (e) { showError($("change-form"), e); }
  };
};
