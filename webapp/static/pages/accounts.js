// Accounts: the linked UIDs with their status (and the reason of a refusal), and the form that
// links a new one through the bot's own checks (POST /api/accounts: its message is shown).
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const list = document.getElementById("account-list");
  const form = document.getElementById("link-form");
  const exchange = $("link-exchange");
  const uid = $("link-uid");
  const submit = $("link-submit");
  const errorBox = $("link-error");
  const messageBox = $("link-message");
  let key = null; // one Idempotency-Key per attempt, kept while the same form is retried
  let sending = false;
  let main = C.mainButton.idle;

  function row(account) {
    return el("li", { class: `row account status-${account.status}`, testid: `account-${account.id}`,
      dataset: { status: account.status } },
      el("div", { class: "row-main" },
        el("strong", { text: account.exchange_name }), " ",
        el("code", { class: "uid", text: account.uid })),
      el("div", { class: "row-side" },
        el("span", { class: `badge ${account.status}`, testid: "status-text" },
          account.status_text)),
      account.reason
        ? el("p", { class: "reason", testid: "reason-text" },
          t("accounts.reason", { reason: account.reason }))
        : null,
      el("p", { class: "muted small" }, t("accounts.linked_at", { when: C.when(account.linked_at) })));
  }

  function showAccounts(accounts) {
    if (accounts.length) C.fill(list, accounts.map(row));
    else C.fill(list, el("li", { class: "muted", testid: "accounts-empty" }, t("accounts.empty")));
  }

  function showExchanges(exchanges) {
    const chosen = exchange.value;
    C.fill(exchange, el("option", { value: "" }, t("accounts.choose")),
      exchanges.map((x) => el("option", { value: x.id, selected: x.id === chosen }, x.name)));
  }

  function say(box, text) {
    for (const other of [errorBox, messageBox]) other.hidden = other !== box || !text;
    if (box) box.textContent = text || "";
  }

  // The MainButton says "Link" once both fields are filled.
  function refreshMain() {
    const filled = exchange.value !== "" && uid.value.trim() !== "";
    if (filled && main === C.mainButton.idle) main = C.mainButton(t("accounts.submit"), send);
    else if (!filled && main !== C.mainButton.idle) { main.hide(); main = C.mainButton.idle; }
  }

  function edited(event) {
    key = null;
    C.markField(event.target, false);
    refreshMain();
  }

  async function send() {
    if (sending) return;
    C.markField(exchange, false);
    C.markField(uid, false);
    if (!exchange.value) {
      C.markField(exchange, true);
      say(errorBox, t("accounts.need_exchange"));
      exchange.focus();
      return;
    }
    if (!uid.value.trim()) {
      C.markField(uid, true);
      say(errorBox, t("accounts.need_uid"));
      uid.focus();
      return;
    }
    key = key || C.newKey();
    sending = true;
    C.busy(submit, true);
    main.progress(true);
    try {
      const result = await C.api("POST", "/api/accounts",
        { body: { exchange_id: exchange.value, uid: uid.value.trim() }, key });
      key = null;
      C.haptic("success");
      say(messageBox, result.message);
      uid.value = "";
      refreshMain();
      const fresh = await C.api("GET", "/api/accounts");
      showAccounts(fresh.accounts);
    } catch (error) {
      if (!(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500) {
        C.fail(error, send); // the same key: a retry is the same attempt
        say(null);
      } else {
        key = null;
        C.haptic("error");
        say(errorBox, error.message);
        const field = error.field === "exchange_id" ? exchange : uid;
        if (error.field) { C.markField(field, true); field.focus(); }
      }
    } finally {
      sending = false;
      C.busy(submit, false);
      main.progress(false);
    }
  }

  async function load() {
    C.pageBusy(true);
    try {
      const data = await C.api("GET", "/api/accounts");
      C.hideNotice();
      showAccounts(data.accounts);
      showExchanges(data.exchanges);
    } catch (error) {
      C.fill(list);
      C.fail(error, load);
    } finally {
      list.removeAttribute("aria-busy");
      C.pageBusy(false);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); send(); });
  exchange.addEventListener("change", edited);
  uid.addEventListener("input", edited);
  C.ready.then((me) => {
    if (me) load();
    else C.fill(list);
  });
})();
