// The withdraw page (templates/app/withdraw.html), the request: method → network → address →
// amount, a live quote from the server, Telegram's own confirmation, then the request (one
// Idempotency-Key per confirmed action, the same key again when that action is retried after a
// network failure). The request's status and the trader's withdrawals are withdrawals.js's,
// loaded after this file: it plugs into the namespace this one exposes, C.withdraw. Every
// figure shown is the API's `text`: this script never formats money or moments.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  if (!C) return;

  const QUOTE_DELAY_MS = 350;
  const $ = (id) => document.getElementById(id);
  // The page's words: the catalog's app.withdraw.* (the core's config.texts).
  const t = (key, params) => C.t(`withdraw.${key}`, params);

  const short = (address) => (address.length <= 14 ? address : `${address.slice(0, 6)}…${address.slice(-4)}`);
  const show = (node, on) => { node.hidden = !on; };
  const say = (node, text) => { node.textContent = text || ""; node.hidden = !text; };

  const state = {
    options: null,
    method: null, // "internal" | "onchain"
    exchangeId: null,
    networkId: null,
    addressId: null,
    quote: null, // the last good quote, for `quotedAmount`
    quotedAmount: null,
    quoteSeq: 0,
    quoteTimer: null,
    pending: null, // {body, key}: a confirmed request whose answer never came
    pendingAddress: null,
    busy: false,
    confirming: false,
    mainLabel: null,
    main: null,
  };

  // --- the destination -------------------------------------------------------------------
  function destination() {
    if (state.method === "internal" && state.exchangeId) {
      return { method: "internal", exchange_id: state.exchangeId };
    }
    if (state.method === "onchain" && state.networkId && state.addressId !== null) {
      return { method: "onchain", network_id: state.networkId, address_id: state.addressId };
    }
    return null;
  }

  function networkName(id) {
    const found = state.options.networks.find((n) => n.id === id);
    return found ? found.name : id || "";
  }

  function exchangeName(id) {
    const found = state.options.internal.find((x) => x.exchange_id === id);
    return found ? found.exchange_name : id || "";
  }

  function destinationText() {
    if (state.method === "internal") {
      const account = state.options.internal.find((x) => x.exchange_id === state.exchangeId);
      return t("to_internal", { uid: account.uid, name: account.exchange_name });
    }
    const address = state.options.addresses.find((a) => a.id === state.addressId);
    return t("to_address", { address: short(address.address), network: networkName(state.networkId) });
  }

  function choice(testid, selected, onClick, label, note, disabled) {
    return C.el("button", {
      type: "button", class: ["w-choice", selected && "selected"], testid, role: "radio",
      "aria-checked": selected ? "true" : "false", disabled: Boolean(disabled), onClick,
    }, C.el("span", { class: "w-choice-label" }, label),
    note ? C.el("span", { class: "w-choice-note muted" }, note) : null);
  }

  function renderMethods() {
    const { internal, networks } = state.options;
    const methods = [];
    if (internal.length) {
      const label = internal.length === 1
        ? t("method_internal_one", { name: internal[0].exchange_name, uid: internal[0].uid })
        : t("method_internal");
      methods.push(choice("method-internal", state.method === "internal",
        () => pickMethod("internal"), label, t("method_internal_note")));
    }
    if (networks.length) {
      methods.push(choice("method-onchain", state.method === "onchain",
        () => pickMethod("onchain"), t("method_onchain")));
    }
    C.fill($("w-methods"), methods);
    const several = state.method === "internal" && internal.length > 1;
    show($("w-exchanges"), several);
    if (several) {
      C.fill($("w-exchanges"), internal.map((x) => choice(`exchange-${x.exchange_id}`,
        state.exchangeId === x.exchange_id, () => pickExchange(x.exchange_id),
        t("exchange_choice", { name: x.exchange_name, uid: x.uid }))));
    }
    show($("w-network-step"), state.method === "onchain");
    if (state.method === "onchain") renderNetworks();
    show($("w-address-step"), state.method === "onchain" && Boolean(state.networkId));
    if (state.method === "onchain" && state.networkId) renderAddresses();
    show($("w-amount-step"), destination() !== null);
  }

  function renderNetworks() {
    C.fill($("w-networks"), state.options.networks.map((n) => choice(`network-${n.id}`,
      state.networkId === n.id, () => pickNetwork(n.id), n.name,
      t("network_choice", { min: n.min.text, max: n.max.text, fee: n.fee_text }))));
  }

  function renderAddresses() {
    const mine = state.options.addresses.filter((a) => a.network_id === state.networkId);
    C.fill($("w-addresses"), mine.map((a) => choice(`address-${a.id}`, state.addressId === a.id,
      () => pickAddress(a.id), a.label ? `${a.label} · ${short(a.address)}` : short(a.address),
      a.usable ? null : t("address_cooling", { at: C.when(a.usable_from) }), !a.usable)));
    say($("w-address-none"), mine.length ? "" : t("address_none"));
    $("w-address-input").setAttribute("aria-label", networkName(state.networkId));
  }

  function pickMethod(method) {
    C.haptic("selection");
    state.method = method;
    if (method === "internal") {
      state.exchangeId = state.exchangeId || state.options.internal[0].exchange_id;
    } else if (!state.networkId && state.options.networks.length === 1) {
      state.networkId = state.options.networks[0].id;
      state.addressId = firstUsable(state.networkId);
    }
    destinationChanged();
  }

  function pickExchange(id) {
    C.haptic("selection");
    state.exchangeId = id;
    destinationChanged();
  }

  function pickNetwork(id) {
    C.haptic("selection");
    if (state.networkId !== id) state.addressId = firstUsable(id);
    state.networkId = id;
    destinationChanged();
  }

  function pickAddress(id) {
    C.haptic("selection");
    state.addressId = id;
    destinationChanged();
  }

  function firstUsable(networkId) {
    const found = state.options.addresses.find((a) => a.network_id === networkId && a.usable);
    return found ? found.id : null;
  }

  function destinationChanged() {
    clearErrors();
    renderMethods();
    dropQuote();
    if ($("w-amount").value.trim()) scheduleQuote(0);
    updateActions();
  }

  // --- errors ----------------------------------------------------------------------------
  function clearErrors() {
    say($("w-amount-error"), "");
    say($("w-error"), "");
    say($("w-address-error"), "");
    C.markField($("w-amount"), false);
    C.markField($("w-address-input"), false);
  }

  // A refusal is shown beside the field it is about (the API names it); a network failure or
  // a server error as "try again" under the button.
  function showFailure(error, where) {
    if (!(error instanceof C.ApiFailure)) {
      console.error(error); // eslint-disable-line no-console
      say($("w-error"), t("error"));
      return;
    }
    if (error.status === 401) return; // the core's notice says how to sign in
    if (error.status === 0 || error.status >= 500) {
      say(where === "address" ? $("w-address-error") : $("w-error"), t("offline"));
      return;
    }
    if (error.field === "amount") {
      say($("w-amount-error"), error.message);
      C.markField($("w-amount"), true);
    } else if (where === "address" || (error.field && error.field.startsWith("address"))) {
      say($("w-address-error"), error.message);
      C.markField($("w-address-input"), where === "address");
    } else {
      say($("w-error"), error.message);
    }
  }

  // --- the quote -------------------------------------------------------------------------
  function dropQuote() {
    state.quote = null;
    state.quotedAmount = null;
    state.quoteSeq += 1;
    clearTimeout(state.quoteTimer);
    show($("w-quote"), false);
    show($("w-quoting"), false);
  }

  function scheduleQuote(delay, amount) {
    clearTimeout(state.quoteTimer);
    state.quoteTimer = setTimeout(() => requestQuote(amount), delay);
  }

  function quoteIsCurrent() {
    return state.quote !== null && state.quotedAmount === $("w-amount").value.trim();
  }

  // `amount` "all": the server works out all that can be paid now; the field then shows it.
  async function requestQuote(amount) {
    const where = destination();
    const asked = amount || $("w-amount").value.trim();
    if (!where || !asked) { dropQuote(); updateActions(); return null; }
    state.quoteSeq += 1;
    const seq = state.quoteSeq;
    show($("w-quoting"), true);
    let offer;
    try {
      offer = await C.api("POST", "/api/withdraw/quote", { body: { ...where, amount: asked } });
    } catch (error) {
      if (seq !== state.quoteSeq) return null;
      show($("w-quoting"), false);
      state.quote = null;
      show($("w-quote"), false);
      clearErrors();
      showFailure(error);
      updateActions();
      return null;
    }
    if (seq !== state.quoteSeq) return null;
    show($("w-quoting"), false);
    clearErrors();
    if (amount === "all") $("w-amount").value = offer.amount.amount;
    state.quote = offer;
    state.quotedAmount = $("w-amount").value.trim();
    $("w-quote-fee").textContent = t("amount_usdt", { amount: offer.fee.text });
    $("w-quote-net").textContent = t("amount_usdt", { amount: offer.net.text });
    $("w-quote-arrival").textContent = offer.arrival_text;
    say($("w-quote-approval"), offer.approval_needed ? t("approval_note") : "");
    show($("w-quote"), true);
    updateActions();
    return offer;
  }

  // --- the primary action: Continue (get a quote) → Withdraw (confirm and request) -----------
  function updateActions() {
    const ready = destination() !== null;
    const label = quoteIsCurrent() ? t("submit") : t("continue");
    const button = $("w-submit");
    button.textContent = label;
    button.disabled = !ready || state.busy;
    if (!ready || $("w-form").hidden) {
      if (state.mainLabel !== null) C.mainButton(null);
      state.mainLabel = null;
      state.main = null;
      return;
    }
    if (state.mainLabel !== label) {
      state.main = C.mainButton(label, primary);
      state.mainLabel = label;
    }
    if (state.busy) state.main.disable(); else state.main.enable();
  }

  function setBusy(on) {
    state.busy = on;
    C.busy($("w-submit"), on);
    if (state.main) state.main.progress(on);
    updateActions();
  }

  async function primary() {
    if (state.busy || state.confirming || !destination()) return;
    if (!$("w-amount").value.trim()) {
      $("w-amount").focus();
      return;
    }
    if (!quoteIsCurrent()) {
      clearTimeout(state.quoteTimer);
      const offer = await requestQuote();
      if (!offer) C.haptic("error");
      return;
    }
    const offer = state.quote;
    state.confirming = true; // a second press while the popup is open asks nothing more
    let ok;
    try {
      ok = await C.confirm(t("confirm", {
        amount: offer.amount.text, fee: offer.fee.text, net: offer.net.text,
        destination: destinationText(),
      }));
    } finally {
      state.confirming = false;
    }
    if (!ok) return;
    const body = { ...destination(), amount: offer.amount.amount, expected_fee: offer.fee.amount };
    const signature = JSON.stringify(body);
    if (!state.pending || state.pending.body !== signature) {
      state.pending = { body: signature, key: C.newKey() };
    }
    clearErrors();
    setBusy(true);
    try {
      const answer = await C.api("POST", "/api/withdrawals", { body, key: state.pending.key });
      state.pending = null;
      C.haptic("success");
      placed(answer.withdrawal);
    } catch (error) {
      const retryable = error instanceof C.ApiFailure && (error.status === 0 || error.status >= 500);
      if (!retryable) state.pending = null; // that action is over: a new one gets a new key
      C.haptic("error");
      showFailure(error);
      if (error instanceof C.ApiFailure && error.code === "fee_changed") {
        dropQuote();
        scheduleQuote(0);
      }
    } finally {
      setBusy(false);
    }
  }

  function placed(withdrawal) {
    W.listing.placed(withdrawal);
    $("w-amount").value = "";
    dropQuote();
    load(true);
  }

  // --- a new address ---------------------------------------------------------------------
  function toggleAddressForm() {
    const form = $("w-address-form");
    show(form, form.hidden);
    $("w-address-new").setAttribute("aria-expanded", String(!form.hidden));
    say($("w-address-message"), "");
    if (!form.hidden) $("w-address-input").focus();
  }

  async function saveAddress() {
    const text = $("w-address-input").value.trim();
    if (!text || !state.networkId) { $("w-address-input").focus(); return; }
    const body = { network_id: state.networkId, address: text, label: $("w-address-name").value.trim() };
    const signature = JSON.stringify(body);
    if (!state.pendingAddress || state.pendingAddress.body !== signature) {
      state.pendingAddress = { body: signature, key: C.newKey() };
    }
    say($("w-address-error"), "");
    C.markField($("w-address-input"), false);
    const button = $("w-address-save");
    C.busy(button, true);
    try {
      const answer = await C.api("POST", "/api/addresses", { body, key: state.pendingAddress.key });
      state.pendingAddress = null;
      const saved = answer.address;
      state.options.addresses = state.options.addresses.filter((a) => a.id !== saved.id).concat(saved);
      if (saved.usable) state.addressId = saved.id;
      $("w-address-input").value = "";
      $("w-address-name").value = "";
      // Saved: the form folds away (left open, its empty fields read as asking for another).
      show($("w-address-form"), false);
      $("w-address-new").setAttribute("aria-expanded", "false");
      $("w-address-new").focus();
      C.haptic("success");
      renderMethods();
      say($("w-address-message"), saved.usable ? "" : t("address_saved", { at: C.when(saved.usable_from) }));
      updateActions();
    } catch (error) {
      if (!(error instanceof C.ApiFailure) || (error.status !== 0 && error.status < 500)) {
        state.pendingAddress = null;
      }
      C.haptic("error");
      showFailure(error, "address");
    } finally {
      C.busy(button, false);
    }
  }

  // --- loading ---------------------------------------------------------------------------
  async function load(again) {
    let options;
    try {
      options = await C.api("GET", "/api/withdraw/options");
    } catch (error) {
      show($("w-loading"), false);
      C.fail(error, () => load(again));
      return;
    }
    state.options = options;
    show($("w-loading"), false);
    $("content").removeAttribute("aria-busy");
    say($("w-available"), t("available", { amount: options.available.text }));
    const offered = options.internal.length + options.networks.length > 0;
    const empty = !offered ? t("no_methods") : options.available.amount === "0" ? t("nothing") : "";
    say($("w-empty"), empty);
    show($("w-form"), !empty);
    if (!again && !empty) {
      // A transfer to the trader's own verified UID costs no network fee: offered first.
      if (options.internal.length) {
        state.method = "internal";
        state.exchangeId = options.internal[0].exchange_id;
      } else if (options.networks.length === 1) {
        state.method = "onchain";
        state.networkId = options.networks[0].id;
        state.addressId = firstUsable(state.networkId);
      }
    }
    if (!empty) renderMethods();
    W.listing.show(options.withdrawals);
    updateActions();
  }

  function wire() {
    const amount = $("w-amount");
    amount.addEventListener("input", () => {
      dropQuote();
      say($("w-amount-error"), "");
      C.markField(amount, false);
      if (amount.value.trim()) scheduleQuote(QUOTE_DELAY_MS);
      updateActions();
    });
    $("w-all").addEventListener("click", () => {
      C.haptic("selection");
      dropQuote();
      scheduleQuote(0, "all");
    });
    $("w-form").addEventListener("submit", (event) => {
      event.preventDefault();
      primary();
    });
    $("w-address-new").addEventListener("click", toggleAddressForm);
    $("w-address-save").addEventListener("click", saveAddress);
    for (const id of ["w-address-input", "w-address-name"]) {
      $(id).addEventListener("keydown", (event) => {
        if (event.key === "Enter") { event.preventDefault(); saveAddress(); }
      });
    }
  }

  // What withdrawals.js uses; it replaces `listing` (a no-op until then) with its own.
  const W = {
    $, t, say, show, short, networkName, exchangeName,
    reload: () => load(true),
    listing: { show() {}, placed() {} },
  };
  C.withdraw = W;

  wire();
  // The first load waits for DOMContentLoaded, which comes after every deferred script: the
  // listing's script is in place by then however fast /api/me answers.
  const parsed = document.readyState === "loading"
    ? new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, { once: true }))
    : null;
  Promise.all([C.ready, parsed]).then(([me]) => {
    if (me) load(false); else show($("w-loading"), false);
  });
})();
