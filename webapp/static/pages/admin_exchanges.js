// Exchanges (operators): one card per exchange with its status, share and API key (its hint
// and expiry only: the API never sends a key back). Opening a card loads its settings, share,
// key form and sync history; the forms appear where the answer's `actions` allow. Every change
// is asked first (Telegram's popup), sent once per action (a retry after a lost answer reuses
// its Idempotency-Key) and the card is drawn again from the API's answer.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const list = $("exchange-list");
  const message = $("exchanges-message");
  const rotateBox = $("exchanges-rotate");
  const rotateButton = $("rotate-button");
  const readOnly = $("exchanges-read-only");
  const open = new Set(); // exchanges whose details are open
  const pending = {}; // action → {body, key}: the last one sent unanswered
  let sending = false;

  function say(text) {
    message.hidden = !text;
    message.textContent = text || "";
  }

  function badge(ex) {
    const kind = { ok: "good", lag: "wait", error: "bad", not_configured: "bad" }[ex.status] || "done";
    return el("span", { class: `badge ${kind}`, testid: "exchange-status",
      dataset: { status: ex.status } }, ex.status_text);
  }

  function keyLine(ex) {
    const cred = ex.credential;
    const source = cred.source_text;
    const parts = [cred.hint ? t("admin.exchanges.key_line", { hint: cred.hint, source })
      : t("admin.exchanges.key_source", { source })];
    if (cred.source === "db") {
      parts.push(cred.expires_on ? t("admin.exchanges.key_expires", { day: cred.expires_on.text })
        : t("admin.exchanges.key_no_expiry"));
    }
    return el("li", { testid: "exchange-key", dataset: { source: cred.source } }, parts.join(" · "),
      cred.expired ? [" ", el("span", { class: "badge bad", testid: "key-expired" },
        t("admin.exchanges.key_expired"))] : null,
      cred.expiring ? [" ", el("span", { class: "badge wait", testid: "key-expiring" },
        t("admin.exchanges.key_expiring"))] : null,
      cred.unreadable ? el("p", { class: "reason" }, t("admin.exchanges.key_unreadable")) : null);
  }

  function shareLine(ex) {
    const share = ex.share;
    const bits = [t("admin.exchanges.share_now", { share: share.text })];
    if (share.since) bits.push(t("admin.exchanges.share_since", { day: share.since.text }));
    for (const next of share.upcoming) {
      bits.push(t("admin.exchanges.share_upcoming", { share: next.text, day: next.from.text }));
    }
    return el("li", { testid: "exchange-share" }, bits.join(" · "));
  }

  function field(label, input, hint) {
    const id = `f-${Math.random().toString(36).slice(2)}`;
    input.id = id;
    return [el("label", { for: id }, label), input, hint ? el("p", { class: "hint" }, hint) : null];
  }

  function settingsForm(ex, file) {
    const enabled = el("input", { type: "checkbox", checked: ex.enabled, testid: "field-enabled" });
    const link = el("input", { type: "url", value: ex.link_template, maxlength: "512",
      testid: "field-link", autocomplete: "off", spellcheck: "false" });
    const interval = el("input", { type: "number", inputmode: "numeric",
      value: String(ex.sync_interval_minutes), min: String(file.limits.interval_min),
      max: String(file.limits.interval_max), step: "1", testid: "field-interval" });
    const form = el("form", { class: "exchange-form", novalidate: true, testid: "settings-form" },
      el("label", { class: "check" }, enabled, t("admin.exchanges.enabled")),
      el("p", { class: "hint" }, t("admin.exchanges.enabled_hint")),
      field(t("admin.exchanges.link_template"), link, t("admin.exchanges.link_hint")),
      field(t("admin.exchanges.interval"), interval, t("admin.exchanges.interval_hint",
        { low: file.limits.interval_min, high: file.limits.interval_max })),
      el("button", { type: "submit", class: "button", testid: "settings-save" },
        t("admin.exchanges.save")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {};
      if (enabled.checked !== ex.enabled) body.enabled = enabled.checked;
      if (link.value.trim() !== ex.link_template) body.link_template = link.value.trim();
      const minutes = Number(interval.value);
      if (minutes !== ex.sync_interval_minutes) {
        body.sync_interval_minutes = Number.isInteger(minutes) ? minutes : interval.value;
      }
      send(ex, "settings", "PATCH", "", body, t("admin.exchanges.save_confirm", { name: ex.name }),
        () => t("admin.exchanges.saved"), form);
    });
    return form;
  }

  function shareForm(ex) {
    const percent = el("input", { type: "text", inputmode: "decimal", value: ex.share.percent,
      maxlength: "6", testid: "field-share", autocomplete: "off" });
    const from = el("input", { type: "date", testid: "field-share-from" });
    const form = el("form", { class: "exchange-form", novalidate: true, testid: "share-form" },
      el("h3", {}, t("admin.exchanges.share")),
      field(t("admin.exchanges.share_percent"), percent),
      field(t("admin.exchanges.share_from"), from),
      el("button", { type: "submit", class: "button secondary", testid: "share-save" },
        t("admin.exchanges.share_apply")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { share_percent: percent.value.trim().replace(",", ".") };
      if (from.value) body.valid_from = from.value;
      const day = from.value || t("admin.exchanges.today");
      send(ex, "share", "PUT", "/share", body, t("admin.exchanges.share_confirm",
        { name: ex.name, share: body.share_percent, day }), () => t("admin.exchanges.share_set"), form);
    });
    return form;
  }

  function secret(label, testid, autocomplete) {
    return field(label, el("input", { type: "password", testid, autocomplete, spellcheck: "false",
      maxlength: "512", value: "" }));
  }

  function credentialsForm(ex) {
    const [keyLabel, key] = secret(t("admin.exchanges.api_key"), "field-api-key", "off");
    const [secretLabel, apiSecret] = secret(t("admin.exchanges.api_secret"), "field-api-secret", "new-password");
    const [passLabel, passphrase] = secret(t("admin.exchanges.api_password"), "field-api-password", "new-password");
    const expires = el("input", { type: "date", testid: "field-expires" });
    const remove = ex.credential.source === "db" ? el("button", { type: "button",
      class: "button danger", testid: "credentials-remove" }, t("admin.exchanges.credentials_remove")) : null;
    const form = el("form", { class: "exchange-form", novalidate: true, testid: "credentials-form",
      autocomplete: "off" },
    el("h3", {}, t("admin.exchanges.credentials")),
    el("p", { class: "hint" }, t("admin.exchanges.credentials_note")),
    keyLabel, key, secretLabel, apiSecret, passLabel, passphrase,
    field(t("admin.exchanges.expires_on"), expires),
    el("div", { class: "row-buttons" }, el("button", { type: "submit", class: "button",
      testid: "credentials-save" }, t("admin.exchanges.credentials_save")), remove));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { api_key: key.value.trim(), api_secret: apiSecret.value.trim() };
      if (passphrase.value.trim()) body.api_password = passphrase.value.trim();
      if (expires.value) body.expires_on = expires.value;
      send(ex, "credentials", "PUT", "/credentials", body,
        t("admin.exchanges.credentials_confirm", { name: ex.name }), (data) => {
          for (const input of [key, apiSecret, passphrase]) input.value = ""; // never kept
          return t("admin.exchanges.credentials_saved", { hint: data.exchange.credential.hint || "" });
        }, form);
    });
    if (remove) {
      remove.addEventListener("click", () => send(ex, "remove", "DELETE", "/credentials", undefined,
        t("admin.exchanges.remove_confirm", { name: ex.name }),
        () => t("admin.exchanges.credentials_removed"), form));
    }
    return form;
  }

  function run(item) {
    const records = t("admin.exchanges.run_records", { seen: item.seen, new: item.new,
      changed: item.changed });
    return el("li", { testid: "exchange-run", dataset: { status: item.status } },
      el("span", { class: `badge ${item.status === "failed" ? "bad" : item.status === "ok" ? "good" : "wait"}` },
        item.status_text), " ", C.when(item.started_at), " · ", el("code", {}, item.trigger),
      item.status === "ok" ? el("p", { class: "muted small" }, records) : null,
      item.error_words ? el("p", { class: "reason", testid: "run-error-words" }, item.error_words) : null,
      item.error ? el("p", { class: "muted small" }, el("code", { testid: "run-error" }, item.error)) : null);
  }

  function details(ex, file) {
    const parts = [];
    if (file.actions.edit) parts.push(settingsForm(ex, file));
    if (file.actions.share) parts.push(shareForm(ex));
    if (file.actions.edit) parts.push(credentialsForm(ex));
    parts.push(el("h3", {}, t("admin.exchanges.history")));
    parts.push(file.runs.length ? el("ul", { class: "exchange-runs", testid: "exchange-runs" },
      file.runs.map(run)) : el("p", { class: "muted", testid: "exchange-no-runs" },
      t("admin.exchanges.no_runs")));
    return parts;
  }

  function card(ex, file) {
    const body = el("div", { class: "exchange-details", testid: "exchange-details" },
      file ? details(file.exchange, file) : el("p", { class: "muted" }, t("common.loading")));
    const box = el("details", { open: open.has(ex.id) },
      el("summary", { testid: "exchange-open" }, t("admin.exchanges.details")), body);
    box.addEventListener("toggle", () => {
      if (box.open) { open.add(ex.id); if (!file) loadOne(ex.id); } else open.delete(ex.id);
    });
    return el("li", { class: "card exchange-card", testid: `exchange-${ex.id}`,
      dataset: { exchange: ex.id, enabled: String(ex.enabled) } },
    el("div", { class: "card-head" }, el("h2", {}, ex.name), badge(ex)),
    el("ul", { class: "exchange-lines" },
      el("li", { class: "muted", testid: "exchange-sync" }, ex.sync_text),
      shareLine(ex), keyLine(ex),
      ex.last_error ? el("li", { class: "reason", testid: "exchange-error" },
        `${t("admin.exchanges.last_error")}: ${ex.last_error}`) : null),
    box);
  }

  function replace(ex, file) {
    const old = $(`exchange-${ex.id}`);
    const fresh = card(ex, file);
    if (old) old.replaceWith(fresh); else list.append(fresh);
  }

  async function loadOne(id) {
    try {
      const file = await C.api("GET", `/api/admin/exchanges/${encodeURIComponent(id)}`);
      replace(file.exchange, file);
    } catch (error) {
      C.fail(error, () => loadOne(id));
    }
  }

  async function load() {
    C.pageBusy(true);
    try {
      const data = await C.api("GET", "/api/admin/exchanges");
      C.hideNotice();
      C.fill(list, data.exchanges.map((ex) => card(ex, null)));
      readOnly.hidden = data.actions.edit;
      rotateBox.hidden = !data.actions.edit;
    } catch (error) {
      C.fail(error, load);
    } finally {
      C.pageBusy(false);
    }
  }

  async function send(ex, action, method, suffix, body, question, done, form, again) {
    if (sending) return;
    const fingerprint = JSON.stringify(body === undefined ? null : body);
    if (!again) {
      say(null);
      C.haptic("medium");
      if (!await C.confirm(question)) return;
      const same = pending[action] && pending[action].fingerprint === fingerprint;
      pending[action] = same ? pending[action] : { fingerprint, key: C.newKey() };
    }
    const buttons = form ? [...form.querySelectorAll("button")] : [];
    sending = true;
    buttons.forEach((button) => C.busy(button, true));
    for (const input of form ? form.querySelectorAll("input") : []) C.markField(input, false);
    try {
      const file = await C.api(method, `/api/admin/exchanges/${encodeURIComponent(ex.id)}${suffix}`,
        { key: pending[action].key, body });
      delete pending[action];
      C.hideNotice();
      const text = done(file);
      open.add(ex.id);
      replace(file.exchange, file);
      C.haptic("success");
      say(text);
    } catch (error) {
      const lost = !(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500;
      if (!lost) delete pending[action]; // refused: another attempt is another action
      if (error instanceof C.ApiFailure && error.field && form) {
        C.markField(form.querySelector(`[data-testid="${FIELD_IDS[error.field]}"]`), true);
      }
      C.haptic("error");
      C.fail(error, () => send(ex, action, method, suffix, body, question, done, form, true));
    } finally {
      sending = false;
      buttons.forEach((button) => C.busy(button, false));
    }
  }

  const FIELD_IDS = { enabled: "field-enabled", link_template: "field-link",
    sync_interval_minutes: "field-interval", share_percent: "field-share",
    valid_from: "field-share-from", api_key: "field-api-key", api_secret: "field-api-secret",
    api_password: "field-api-password", expires_on: "field-expires" };

  rotateButton.addEventListener("click", async () => {
    if (sending) return;
    say(null);
    if (!await C.confirm(t("admin.exchanges.rotate_confirm"))) return;
    pending.rotate = pending.rotate || { key: C.newKey() };
    sending = true;
    C.busy(rotateButton, true);
    try {
      const answer = await C.api("POST", "/api/admin/credentials/rotate", { key: pending.rotate.key });
      delete pending.rotate;
      say(answer.message);
    } catch (error) {
      if (error instanceof C.ApiFailure && error.status > 0 && error.status < 500) delete pending.rotate;
      C.fail(error);
    } finally {
      sending = false;
      C.busy(rotateButton, false);
    }
  });

  C.ready.then((me) => { if (me) load(); });
})();
