// The withdraw page's second script (after withdraw.js, both `defer`): the request's status line
// and the trader's withdrawals — each row's status, its transaction link and its cancel button
// (asked first, one Idempotency-Key per cancellation, the same key when it is retried) — looked
// at again every 15 s while one is not final. It plugs into withdraw.js's namespace
// (C.withdraw): withdraw.js calls `listing.show(withdrawals)` after each load and
// `listing.placed(withdrawal)` when a request is made; this script calls `reload()` after a
// cancellation. Every figure shown is the API's `text`.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  if (!C || !C.withdraw) return;
  const W = C.withdraw;
  const { $, t, say, show, short } = W;

  const TONES = { completed: "good", rejected: "bad", failed: "bad", cancelled: "done" };
  const FINAL = new Set(["completed", "rejected", "cancelled", "failed"]);
  const FOLLOW_MS = 15000;
  const pendingCancels = new Map(); // withdrawal id → the key of a cancel whose answer never came
  let following = null;

  // --- the request's status ---------------------------------------------------------------
  function showPlaced(withdrawal) {
    say($("w-status"), t("placed", {
      id: withdrawal.id, amount: withdrawal.amount.text, status: withdrawal.status_text,
    }));
    $("w-status").dataset.id = String(withdrawal.id);
    $("w-status").dataset.status = withdrawal.status;
  }

  // --- the listing -----------------------------------------------------------------------
  function rowDestination(w) {
    if (w.method === "internal") return t("to_internal", { uid: w.destination, name: W.exchangeName(w.exchange_id) });
    if (w.method === "onchain") return t("to_address", { address: short(w.destination), network: W.networkName(w.network_id) });
    return w.destination;
  }

  function renderListing(withdrawals) {
    show($("w-history"), true);
    say($("w-history-empty"), withdrawals.length ? "" : t("list_empty"));
    C.fill($("w-list"), withdrawals.map((w) => C.el("li", {
      class: "row", testid: `withdrawal-${w.id}`, dataset: { status: w.status },
    },
    C.el("div", { class: "row-main" },
      C.el("div", { class: "strong" }, t("amount_usdt", { amount: w.amount.text })),
      C.el("div", { class: "hint" }, t("line", { at: C.when(w.created_at), destination: rowDestination(w) })),
      w.reason ? C.el("div", { class: "reason" }, w.reason) : null),
    C.el("div", { class: "row-side" },
      C.el("span", { class: ["badge", TONES[w.status] || "wait"], testid: `withdrawal-status-${w.id}` },
        w.status_text),
      w.explorer_url ? C.el("a", {
        href: w.explorer_url, target: "_blank", rel: "noopener noreferrer", testid: `tx-${w.id}`,
        onClick: (event) => openLink(event, w.explorer_url),
      }, t("tx")) : null,
      w.cancellable ? C.el("button", {
        type: "button", class: "button danger small", testid: `cancel-${w.id}`,
        onClick: (event) => cancel(w, event.currentTarget),
      }, t("cancel")) : null))));
  }

  function openLink(event, url) {
    if (C.inTelegram && C.tg && C.tg.openLink) {
      event.preventDefault();
      C.tg.openLink(url);
    }
  }

  async function cancel(withdrawal, button) {
    if (!(await C.confirm(t("cancel_confirm")))) return;
    const key = pendingCancels.get(withdrawal.id) || C.newKey();
    pendingCancels.set(withdrawal.id, key);
    C.busy(button, true);
    try {
      const answer = await C.api("POST", `/api/withdrawals/${withdrawal.id}/cancel`, { key });
      pendingCancels.delete(withdrawal.id);
      C.haptic("success");
      say($("w-status"), t("cancelled"));
      $("w-status").dataset.id = String(answer.withdrawal.id);
      $("w-status").dataset.status = answer.withdrawal.status;
      await W.reload();
    } catch (error) {
      if (!(error instanceof C.ApiFailure) || (error.status !== 0 && error.status < 500)) {
        pendingCancels.delete(withdrawal.id);
      }
      C.haptic("error");
      C.busy(button, false);
      if (error instanceof C.ApiFailure && error.status !== 0 && error.status < 500) {
        C.notice(error.message, { kind: "error" });
      } else {
        C.fail(error, () => cancel(withdrawal, button));
      }
    }
  }

  // --- following a request until it is final ---------------------------------------------
  function follow(withdrawals) {
    clearTimeout(following);
    following = null;
    if (!withdrawals.some((w) => !FINAL.has(w.status))) return;
    following = setTimeout(async () => {
      if (document.hidden) { follow(withdrawals); return; }
      try {
        const answer = await C.api("GET", "/api/withdrawals");
        const recent = answer.withdrawals.slice(0, withdrawals.length || 10);
        renderListing(recent);
        const shown = $("w-status").dataset.id;
        const current = recent.find((w) => String(w.id) === shown);
        if (current && current.status !== $("w-status").dataset.status) showPlaced(current);
        follow(recent);
      } catch (_) {
        follow(withdrawals); // a failed look is tried again later; the page keeps what it shows
      }
    }, FOLLOW_MS);
  }

  W.listing = {
    show(withdrawals) {
      renderListing(withdrawals);
      follow(withdrawals);
    },
    placed: showPlaced,
  };
})();
