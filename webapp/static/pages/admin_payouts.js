// The payout queue (finance, admins): each request as its finance card shows it — amount, fee
// and net, the destination (new or known), the trader's history, the risk flags, who approved —
// with Approve / Reject (asks for the reason the trader reads) / Retry / Paid by hand, as the
// answer's `actions` allows. Every decision is asked first through Telegram's popup and names
// the revision the card showed; a refusal shows the service's own words ("decided already by
// …", "changed since you opened it").
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const list = $("payout-queue");
  const totalBox = $("payout-total");
  const message = $("payout-message");
  const reloadButton = $("payout-reload");
  const ACTIONS = ["approve", "reject", "retry", "paid"];
  let pending = null; // {id, action, revision, words, key}: sent and unanswered (a retry reuses it)
  let sending = false;

  function say(text, kind) {
    message.hidden = !text;
    message.textContent = text || "";
    message.className = kind === "error" ? "error" : "success";
  }

  function userLink(trader) {
    const base = C.config.urls.admin_user || "";
    const joiner = base.includes("?") ? "&" : "?";
    return el("a", { href: `${base}${joiner}id=${encodeURIComponent(trader.id)}`,
      testid: "payout-trader" }, trader.name || String(trader.id));
  }

  function badgeKind(status) {
    if (status === "error" || status === "unknown") return "bad";
    if (status === "awaiting_approval") return "wait";
    return "good";
  }

  // The reason (reject) or the hash (paid by hand), typed into the card before it is sent.
  function wordsForm(item, action) {
    const field = action === "reject" ? "reason" : "tx_hash";
    const input = el(action === "reject" ? "textarea" : "input", {
      id: `payout-${field}-${item.id}`, testid: `payout-${field}`, maxlength: action === "reject"
        ? 500 : 128, rows: action === "reject" ? 2 : null, autocomplete: "off" });
    const error = el("p", { class: "error", testid: "payout-words-error", role: "alert",
      hidden: true });
    const form = el("form", { class: "form payout-words", testid: `payout-${action}-form`,
      novalidate: true, hidden: true },
    el("label", { for: input.id }, t(`admin.payouts.ask.${action}`, { id: item.id })),
    input, error,
    el("div", { class: "row-buttons" },
      el("button", { type: "submit", class: action === "reject" ? "button danger" : "button",
        testid: `payout-${action}-send` }, t(`admin.payouts.send.${action}`)),
      el("button", { type: "button", class: "button secondary", testid: "payout-words-cancel",
        onClick: () => { form.hidden = true; } }, t("admin.payouts.cancel"))));
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      const words = input.value.trim();
      C.markField(input, !words);
      error.hidden = Boolean(words);
      error.textContent = words ? "" : t(`admin.payouts.missing.${action}`);
      if (words) decide(item, action, words);
    });
    return form;
  }

  function card(item) {
    const buttons = [];
    const forms = {};
    for (const action of ACTIONS) {
      if (!item.actions[action]) continue;
      if (action === "reject" || action === "paid") forms[action] = wordsForm(item, action);
      const kind = { approve: "button", reject: "button danger", retry: "button",
        paid: "button secondary" }[action];
      buttons.push(el("button", { type: "button", class: kind, testid: `payout-${action}`,
        onClick: () => {
          if (!forms[action]) { decide(item, action, null); return; }
          for (const form of Object.values(forms)) form.hidden = form !== forms[action];
          forms[action].querySelector("input, textarea").focus();
        } }, t(`admin.payouts.button.${action}`)));
    }
    const w = item;
    return el("li", { class: `card payout status-${w.status}`, testid: `payout-${w.id}`,
      dataset: { id: String(w.id), status: w.status, revision: String(w.revision) } },
    el("div", { class: "card-head" },
      el("h2", {}, t("admin.payouts.title_one", { id: w.id })),
      el("span", { class: `badge ${badgeKind(w.status)}`, testid: "payout-status" },
        w.status_text),
      w.auto ? el("span", { class: "badge" }, t("admin.payouts.auto")) : null),
    el("dl", { class: "pairs admin-pairs" },
      el("dt", {}, t("admin.payouts.amount")),
      el("dd", { testid: "payout-amount" }, `${C.money(w.amount)} ${w.asset}`),
      el("dt", {}, t("admin.payouts.fee")), el("dd", { testid: "payout-fee" }, C.money(w.fee)),
      el("dt", {}, t("admin.payouts.net")), el("dd", { testid: "payout-net" }, C.money(w.net)),
      el("dt", {}, t("admin.payouts.trader")),
      el("dd", {}, userLink(w.trader), " ", el("span", { class: "muted small" },
        t("admin.payouts.since", { when: C.when(w.trader.joined) }))),
      el("dt", {}, t("admin.payouts.requested")), el("dd", {}, C.when(w.created_at))),
    el("p", { class: "payout-destination", testid: "payout-destination",
      dataset: { known: String(w.destination_known) } }, w.destination_text),
    el("p", { class: "muted small", testid: "payout-history" }, w.trader.history_text),
    w.flags.length ? el("p", { class: "payout-flags", testid: "payout-flags" },
      w.flags.map((flag) => el("span", { class: "badge bad", dataset: { flag: flag.code } },
        flag.text))) : null,
    w.approvals.need ? el("p", { testid: "payout-approvals" }, w.approvals.text) : null,
    w.reason ? el("p", { class: "reason", testid: "payout-why" }, w.reason) : null,
    w.tx_hash ? el("p", { class: "small" }, el("code", { class: "uid" }, w.tx_hash)) : null,
    w.decided && w.status !== "awaiting_approval" ? el("p", { class: "muted small",
      testid: "payout-decided" }, t("admin.payouts.decided",
      { name: w.decided.name, when: C.when(w.decided.at) })) : null,
    buttons.length ? el("div", { class: "row-buttons" }, buttons) : null,
    Object.values(forms),
    el("p", { class: "error", testid: "payout-refusal", role: "alert", hidden: true }));
  }

  function render(data) {
    totalBox.textContent = data.total ? t("admin.payouts.total", { count: data.total })
      : t("admin.payouts.empty");
    if (data.items.length) C.fill(list, data.items.map(card));
    else C.fill(list);
    list.removeAttribute("aria-busy");
  }

  async function load() {
    C.pageBusy(true);
    try {
      render(await C.api("GET", "/api/admin/payouts/queue"));
      C.hideNotice();
    } catch (error) {
      totalBox.textContent = "";
      C.fail(error, load);
    } finally {
      C.pageBusy(false);
    }
  }

  function replace(item) {
    const old = list.querySelector(`[data-testid="payout-${item.id}"]`);
    if (old) old.replaceWith(card(item));
  }

  async function decide(item, action, words, again) {
    if (sending) return;
    if (!again) {
      say(null);
      C.haptic("medium");
      const asked = t(`admin.payouts.confirm.${action}`, { id: item.id,
        amount: `${C.money(item.amount)} ${item.asset}`, name: item.trader.name });
      if (!await C.confirm(asked)) return;
      // The same decision after a lost answer keeps its key: it is made once.
      const same = pending && pending.id === item.id && pending.action === action
        && pending.revision === item.revision && pending.words === words;
      pending = same ? pending : { id: item.id, action, revision: item.revision, words,
        key: C.newKey() };
    }
    const body = { revision: pending.revision };
    if (action === "reject") body.reason = pending.words;
    if (action === "paid") body.tx_hash = pending.words;
    sending = true;
    const box = list.querySelector(`[data-testid="payout-${item.id}"]`);
    const buttons = box ? [...box.querySelectorAll("button")] : [];
    buttons.forEach((button) => C.busy(button, true));
    try {
      const answer = await C.api("POST",
        `/api/admin/payouts/${encodeURIComponent(item.id)}/${action}`,
        { key: pending.key, body });
      pending = null;
      C.hideNotice();
      replace(answer.item);
      say(answer.message);
      C.haptic("success");
    } catch (error) {
      const lost = !(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500;
      C.haptic("error");
      if (lost) {
        C.fail(error, () => decide(item, action, words, true));
        return;
      }
      pending = null; // refused: another attempt is another decision
      const field = error.field && box
        && box.querySelector(`form [data-testid="payout-${error.field}"]`);
      if (field) {
        C.markField(field, true);
        const note = field.parentNode.querySelector('[data-testid="payout-words-error"]');
        note.textContent = error.message;
        note.hidden = false;
        return;
      }
      // Decided or changed meanwhile: the queue as it is now, with the service's words.
      await load();
      say(error.message, "error");
      const refusal = list.querySelector(`[data-testid="payout-${item.id}"] [data-testid="payout-refusal"]`);
      if (refusal) { refusal.textContent = error.message; refusal.hidden = false; }
    } finally {
      sending = false;
      buttons.forEach((button) => C.busy(button, false));
    }
  }

  reloadButton.addEventListener("click", () => { say(null); load(); });
  C.ready.then((me) => { if (me) load(); });
})();
