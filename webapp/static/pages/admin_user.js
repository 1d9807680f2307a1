// A user (operators): the profile, the exchange accounts, the balance, the ledger operations
// that moved their money (each with all its postings: account → amount), withdrawals, events;
// Ban / Unban, the role and the rate group, offered only where the answer's `actions` allows.
// Every change is asked first, and the page is drawn again from the API's answer.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const userId = new URLSearchParams(location.search).get("id") || "";
  const nameBox = $("user-name");
  const stateBox = $("user-state");
  const profile = document.getElementById("user-profile");
  const actions = $("admin-actions");
  const banButton = $("admin-ban");
  const unbanButton = $("admin-unban");
  const roleForm = document.getElementById("role-form");
  const roleSelect = $("admin-role-select");
  const roleButton = $("admin-role-apply");
  const message = $("admin-action-message");
  const group = {
    box: $("admin-group"), form: document.getElementById("group-form"),
    select: $("admin-group-select"), from: $("admin-group-from"), button: $("admin-group-save"),
    error: $("admin-group-error"), message: $("admin-group-message"),
    current: $("admin-group-current"), upcoming: $("admin-group-upcoming"),
  };
  const lists = {
    accounts: document.getElementById("user-accounts"),
    operations: document.getElementById("user-operations"),
    withdrawals: document.getElementById("user-withdrawals"),
    events: document.getElementById("user-events"),
  };
  const BALANCES = ["available", "held", "paid_out", "total_earned"];
  let shown = null; // the last answer drawn
  let pending = null; // {what, role, key}: the last action sent unanswered (a retry reuses its key)
  let groupPending = null; // {body, key}: the same for the rate group
  let sending = false;

  // Back to the directory as it was left (its filters are in its address).
  function backLink() {
    try {
      const from = new URL(document.referrer);
      const directory = new URL(C.config.urls.admin_users, location.href);
      if (from.origin === location.origin && from.pathname === directory.pathname) {
        $("admin-back").href = `${from.pathname}${from.search}`;
      }
    } catch (_) { /* no referrer */ }
  }

  function word(prefix, code) {
    const key = `${prefix}.${code}`;
    const text = t(key);
    return text === key ? code : text;
  }

  function pair(label, value, testid) {
    return [el("dt", {}, label), el("dd", { testid }, value)];
  }

  function showProfile(user) {
    nameBox.textContent = user.name || t("admin.no_name");
    C.fill(stateBox, el("span", { class: user.banned ? "badge bad" : "badge good",
      testid: "user-banned", dataset: { banned: String(user.banned) } },
    t(user.banned ? "admin.state.banned" : "admin.state.active")));
    document.title = `${user.name || user.id} · ${document.title.split(" · ").pop()}`;
    C.fill(profile,
      pair(t("admin.user.username"), user.username ? `@${user.username}` : "—", "user-username"),
      pair(t("admin.user.id"), el("code", {}, String(user.id)), "user-id"),
      pair(t("admin.user.role"), user.role_text, "user-role"),
      pair(t("admin.user.source"), word("admin.source", user.source), "user-source"),
      pair(t("admin.user.since"), C.when(user.created_at), "user-since"),
      pair(t("admin.user.locale"), user.locale || "—", "user-locale"));
  }

  function showActions(data) {
    const can = data.actions || {};
    banButton.hidden = !can.ban;
    unbanButton.hidden = !can.unban;
    roleForm.hidden = !can.role;
    if (can.role) {
      C.fill(roleSelect, (data.roles || []).map((role) => el("option",
        { value: role.code, selected: role.code === data.user.role }, role.name)));
      roleButton.disabled = true; // until another role is chosen
    }
    actions.hidden = !(can.ban || can.unban || can.role);
  }

  function groupName(item) {
    return item ? item.name : t("admin.user.group_none");
  }

  // The rate group: in force today, the next change set for a later day, and the choices.
  function showGroup(data) {
    const can = Boolean(data.actions && data.actions.group);
    group.box.hidden = !can;
    if (!can) return;
    group.current.textContent = t("admin.user.group_current", { group: groupName(data.group) });
    const next = data.group_upcoming;
    group.upcoming.hidden = !next;
    group.upcoming.textContent = next ? t("admin.user.group_upcoming",
      { day: next.valid_from, group: groupName(next.group) }) : "";
    const current = data.group ? String(data.group.id) : "";
    C.fill(group.select, el("option", { value: "", selected: !current }, t("admin.user.group_none")),
      (data.groups || []).map((item) => el("option",
        { value: String(item.id), selected: String(item.id) === current }, item.name)));
    groupButtonState();
  }

  // Save is offered for another group, or for the same one from a chosen day.
  function groupButtonState() {
    const current = shown && shown.group ? String(shown.group.id) : "";
    group.button.disabled = group.select.value === current && !group.from.value;
  }

  function showBalance(balance) {
    for (const name of BALANCES) $(`admin-balance-${name}`).textContent = C.money(balance[name]);
  }

  function empty(list, testid) {
    C.fill(list, el(list.tagName === "UL" ? "li" : "p", { class: "muted", testid }, t("admin.user.none")));
  }

  function account(item) {
    return el("li", { class: `row account status-${item.status}`, testid: "admin-account",
      dataset: { exchange: item.exchange_id, status: item.status } },
    el("div", { class: "row-main" }, el("strong", {}, item.exchange_name), " ",
      el("code", { class: "uid" }, item.uid)),
    el("span", { class: `badge ${item.status}` }, item.status_text),
    item.reason ? el("p", { class: "reason" }, item.reason) : null);
  }

  // One ledger entry as a small table: what it was, when, and every posting (both sides).
  function operation(item) {
    return el("table", { class: "postings", testid: `operation-${item.id}`,
      dataset: { kind: item.kind } },
    el("caption", {},
      el("span", { class: "op-head" }, el("strong", {}, `#${item.id}`), " ",
        el("code", {}, item.kind), " · ", el("span", { class: "muted" }, C.when(item.at))),
      item.memo ? el("span", { class: "op-memo muted" }, item.memo) : null),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("admin.user.account")),
      el("th", { scope: "col", class: "num" }, t("admin.user.amount")))),
    el("tbody", {}, item.postings.map((posting) => {
      const negative = String(posting.amount && posting.amount.amount).startsWith("-");
      return el("tr", { testid: "posting", dataset: { account: posting.account } },
        el("td", { class: "account" }, el("code", {}, posting.account)),
        el("td", { class: ["num", negative ? "debit" : "credit"] }, C.money(posting.amount)));
    })));
  }

  function withdrawal(item) {
    return el("li", { class: "row", testid: `admin-withdrawal-${item.id}` },
      el("div", { class: "row-main" }, el("strong", {}, `#${item.id}`), " ",
        C.money(item.amount), " USDT"),
      el("span", { class: "badge wait", dataset: { status: item.status } }, item.status_text),
      el("p", { class: "muted small" }, C.when(item.created_at)));
  }

  function event(item) {
    return el("li", { testid: "admin-event" }, el("code", {}, item.name), " ",
      el("span", { class: "muted small" }, C.when(item.at)));
  }

  function showList(name, items, draw) {
    if (items && items.length) C.fill(lists[name], items.map(draw));
    else empty(lists[name], `admin-${name}-empty`);
  }

  function render(data) {
    shown = data;
    showProfile(data.user);
    showActions(data);
    showGroup(data);
    showBalance(data.balance);
    showList("accounts", data.accounts, account);
    showList("operations", data.operations, operation);
    showList("withdrawals", data.withdrawals, withdrawal);
    showList("events", data.events, event);
  }

  async function load() {
    C.pageBusy(true);
    try {
      const data = await C.api("GET", `/api/admin/users/${encodeURIComponent(userId)}`);
      C.hideNotice();
      render(data);
    } catch (error) {
      nameBox.textContent = "";
      C.fail(error, load);
    } finally {
      C.pageBusy(false);
    }
  }

  const ACTIONS = {
    ban: { method: "POST", path: "ban", confirm: "admin.user.ban_confirm", done: "admin.user.banned" },
    unban: { method: "POST", path: "unban", confirm: "admin.user.unban_confirm",
      done: "admin.user.unbanned" },
    role: { method: "PUT", path: "role", confirm: "admin.user.role_confirm",
      done: "admin.user.role_changed" },
  };

  function say(text) {
    message.hidden = !text;
    message.textContent = text || "";
  }

  async function act(what, again) {
    if (sending) return;
    const action = ACTIONS[what];
    const button = { ban: banButton, unban: unbanButton, role: roleButton }[what];
    const role = again ? pending.role : roleSelect.value;
    if (!again) {
      say(null);
      const option = roleSelect.selectedOptions[0];
      const name = shown.user.name || String(shown.user.id);
      C.haptic("medium");
      if (!await C.confirm(t(action.confirm, { name, role: option ? option.text : role }))) return;
      // The same action after a lost answer: the same key, so it is done once.
      const same = pending && pending.what === what && pending.role === role;
      pending = same ? pending : { what, role, key: C.newKey() };
    }
    sending = true;
    C.busy(button, true);
    try {
      const data = await C.api(action.method,
        `/api/admin/users/${encodeURIComponent(userId)}/${action.path}`,
        { key: pending.key, body: what === "role" ? { role } : undefined });
      pending = null;
      C.hideNotice();
      render(data);
      C.haptic("success");
      say(t(action.done, { role: data.user.role_text }));
    } catch (error) {
      const lost = !(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500;
      if (!lost) pending = null; // refused: another attempt is another action
      C.haptic("error");
      C.fail(error, () => act(what, true));
    } finally {
      sending = false;
      C.busy(button, false);
      if (what === "role" && shown) roleButton.disabled = roleSelect.value === shown.user.role;
    }
  }

  function groupSay(text) {
    group.message.hidden = !text;
    group.message.textContent = text || "";
  }

  // A refusal under the field it names (the group or the day).
  function groupRefuse(text, field) {
    group.error.hidden = !text;
    group.error.textContent = text || "";
    C.markField(group.select, Boolean(text) && field !== "valid_from");
    C.markField(group.from, field === "valid_from");
  }

  async function saveGroup(again) {
    if (sending) return;
    if (!again) {
      const body = { group_id: group.select.value ? Number(group.select.value) : null };
      if (group.from.value) body.valid_from = group.from.value;
      groupSay(null);
      groupRefuse(null);
      const name = shown.user.name || String(shown.user.id);
      const day = body.valid_from || t("admin.user.group_today");
      const option = group.select.selectedOptions[0];
      C.haptic("medium");
      const ask = body.group_id === null ? t("admin.user.group_confirm_none", { name, day })
        : t("admin.user.group_confirm", { name, day, group: option ? option.text : "" });
      if (!await C.confirm(ask)) return;
      // The same change after a lost answer: the same key, so it is done once.
      const same = groupPending && JSON.stringify(groupPending.body) === JSON.stringify(body);
      groupPending = same ? groupPending : { body, key: C.newKey(),
        saved: t("admin.user.group_saved", { day, group: option ? option.text : "" }) };
    }
    sending = true;
    C.busy(group.button, true);
    try {
      const data = await C.api("PUT", `/api/admin/users/${encodeURIComponent(userId)}/group`,
        { key: groupPending.key, body: groupPending.body });
      const saved = groupPending.saved;
      groupPending = null;
      C.hideNotice();
      group.from.value = "";
      render(data);
      C.haptic("success");
      groupSay(saved);
    } catch (error) {
      const lost = !(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500;
      if (!lost) groupPending = null; // refused: another attempt is another change
      C.haptic("error");
      if (lost || error.status === 401) C.fail(error, () => saveGroup(true));
      else groupRefuse(error.message, error.field);
    } finally {
      sending = false;
      C.busy(group.button, false);
      if (shown) groupButtonState();
    }
  }

  group.select.addEventListener("change", () => {
    C.haptic("selection");
    groupButtonState();
  });
  group.from.addEventListener("input", groupButtonState);
  group.form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    if (!group.button.disabled) saveGroup();
  });
  banButton.addEventListener("click", () => act("ban"));
  unbanButton.addEventListener("click", () => act("unban"));
  roleSelect.addEventListener("change", () => {
    C.haptic("selection");
    roleButton.disabled = !shown || roleSelect.value === shown.user.role;
  });
  roleForm.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    if (!roleButton.disabled) act("role");
  });
  backLink();
  // For admin_adjust.js (this page's second script): draw the page again, and who it shows.
  C.adminUser = { reload: load, user: () => (shown ? shown.user : null) };
  C.ready.then((me) => {
    if (!me) return;
    if (!/^\d{1,19}$/.test(userId)) {
      nameBox.textContent = "";
      C.notice(t("admin.user.no_id"), { kind: "error",
        link: { href: C.config.urls.admin_users, text: t("admin.user.back") } });
      return;
    }
    load();
  });
})();
