// Manual adjustments (operators), the second script of two pages. On a user's page (after
// admin_user.js): the form (credit or debit, amount, reason, document reference), asked first
// through Telegram's confirmation, then applied at once or left waiting for a second admin;
// and this user's adjustments, with Approve / Reject for another admin and Withdraw for the
// one who asked; the page is drawn again after a change (C.adminUser.reload(): the balance
// and the ledger's operations). On the directory (no form there): the adjustments waiting for
// a second admin, each linking to its user, shown only when there are some. Every figure is
// the API's text.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const form = document.getElementById("adjust-form");
  const onUser = Boolean(form); // else the directory's queue
  const userId = onUser ? new URLSearchParams(location.search).get("id") || "" : "";
  const box = $("admin-adjust");
  const direction = $("adjust-direction");
  const fields = { amount: $("adjust-amount"), reason: $("adjust-reason"),
    document_ref: $("adjust-document") };
  const threshold = $("adjust-threshold");
  const error = $("adjust-error");
  const submit = $("adjust-submit");
  const message = $("adjust-message");
  const list = $("adjust-list");
  let pending = null; // {what, body, key}: the last write sent unanswered (a retry reuses its key)
  let sending = false;

  function say(text) {
    message.hidden = !text;
    message.textContent = text || "";
  }

  function refuse(text, field) {
    error.hidden = !text;
    error.textContent = text || "";
    for (const [name, input] of Object.entries(fields)) C.markField(input, name === field);
  }

  function userName() {
    const user = C.adminUser && C.adminUser.user();
    return user ? user.name || String(user.id) : userId;
  }

  function item(a) {
    const buttons = [];
    for (const action of ["approve", "reject", "cancel"]) {
      if (!a.actions[action]) continue;
      buttons.push(el("button", { type: "button", testid: `adjustment-${action}`,
        class: ["button", "small", action === "approve" ? null : "secondary"],
        onClick: (clicked) => decide(a, action, clicked.currentTarget) },
      t(`admin.adjust.${action}`)));
    }
    const waiting = a.status === "awaiting_second";
    return el("li", { class: "row", testid: `adjustment-${a.id}`,
      dataset: { status: a.status, direction: a.direction } },
    el("div", { class: "row-main" }, el("strong", {}, a.direction_text), " ",
      el("span", { testid: "adjustment-amount" }, `${C.money(a.amount)} USDT`),
      onUser ? null : [" · ", el("a", { href: userLink(a.user_id), testid: "adjustment-user" },
        a.user_name || String(a.user_id))]),
    el("span", { class: ["badge", waiting ? "wait" : a.status === "applied" ? "good" : "done"],
      testid: "adjustment-status" }, a.status_text),
    el("p", { testid: "adjustment-reason" }, a.reason),
    a.document_ref ? el("p", { class: "muted small" },
      t("admin.adjust.document", { ref: a.document_ref })) : null,
    el("p", { class: "muted small" },
      t("admin.adjust.requested_by", { name: a.requested_by_name || String(a.requested_by) }),
      " · ", C.when(a.created_at),
      a.entry_id ? ` · ${t("admin.adjust.entry", { id: a.entry_id })}` : ""),
    buttons.length ? el("div", { class: "row-buttons" }, buttons) : null);
  }

  function userLink(id) {
    const url = new URL(C.config.urls.admin_user, location.href);
    url.searchParams.set("id", id);
    return `${url.pathname}${url.search}`;
  }

  function render(data) {
    box.hidden = !onUser && !data.adjustments.length && message.hidden;
    if (!onUser) {
      C.fill(list, data.adjustments.map(item));
      return;
    }
    form.hidden = !data.can_request;
    threshold.textContent = t("admin.adjust.threshold", { amount: C.money(data.second_admin_above) });
    if (data.adjustments.length) C.fill(list, data.adjustments.map(item));
    else C.fill(list, el("li", { class: "muted", testid: "adjust-none" }, t("admin.adjust.none")));
  }

  async function load() {
    try {
      render(await C.api("GET", "/api/admin/adjustments",
        { query: onUser ? { user: userId } : { status: "awaiting_second" } }));
    } catch (failure) {
      box.hidden = true; // admin_user.js shows why the page could not be read
    }
  }

  async function changed(text) {
    C.haptic("success");
    say(text);
    await Promise.all([load(), C.adminUser ? C.adminUser.reload() : null]);
  }

  async function send(what, path, body, button, again) {
    if (sending) return null;
    if (!again) {
      const same = pending && pending.what === what && JSON.stringify(pending.body) === JSON.stringify(body);
      pending = same ? pending : { what, body, key: C.newKey() };
    }
    sending = true;
    C.busy(button, true);
    try {
      const answer = await C.api("POST", path, { key: pending.key, body });
      pending = null;
      C.hideNotice();
      return answer;
    } catch (failure) {
      const lost = !(failure instanceof C.ApiFailure) || failure.status === 0 || failure.status >= 500;
      if (!lost) pending = null; // refused: another attempt is another action
      C.haptic("error");
      if (lost) C.fail(failure, () => send(what, path, body, button, true).then((a) => a && load()));
      else if (what === "create") refuse(failure.message, failure.field);
      else C.fail(failure);
      return null;
    } finally {
      sending = false;
      C.busy(button, false);
    }
  }

  async function request() {
    say(null);
    refuse(null);
    const body = { direction: direction.value, amount: fields.amount.value.trim(),
      reason: fields.reason.value.trim(), document_ref: fields.document_ref.value.trim() || null };
    C.haptic("medium");
    const ask = t(`admin.adjust.confirm_${body.direction}`,
      { amount: body.amount, name: userName(), reason: body.reason });
    if (!await C.confirm(ask)) return;
    const answer = await send("create", `/api/admin/users/${encodeURIComponent(userId)}/adjustments`,
      body, submit);
    if (!answer) return;
    const made = answer.adjustment;
    fields.amount.value = "";
    fields.reason.value = "";
    fields.document_ref.value = "";
    const amount = C.money(made.amount);
    await changed(made.status === "applied" ? t(`admin.adjust.done_${made.direction}`, { amount })
      : t("admin.adjust.awaiting", { amount }));
  }

  async function decide(a, action, button) {
    say(null);
    C.haptic("medium");
    const ask = t(`admin.adjust.${action}_confirm`, { amount: C.money(a.amount),
      direction: a.direction_text, name: a.user_name || String(a.user_id) });
    if (!await C.confirm(ask)) return;
    const answer = await send(action, `/api/admin/adjustments/${a.id}/${action}`,
      { revision: a.revision }, button);
    if (!answer) {
      load(); // refused (decided meanwhile, changed): show it as it is now
      return;
    }
    await changed(t({ approve: "admin.adjust.approved", reject: "admin.adjust.rejected",
      cancel: "admin.adjust.cancelled" }[action]));
  }

  if (form) {
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      request();
    });
  }
  C.ready.then((me) => {
    if (me && (!onUser || /^\d{1,19}$/.test(userId))) load();
  });
})();
