// Payout networks and limits (admins change them; finance reads): a form for the payout-wide
// thresholds and one per network. The inputs hold the exact values the API sends (`amount`),
// each with the server's own text of the value in force beside it; only the fields changed
// are sent, after Telegram's confirmation, and the page is drawn again from the answer. A
// refusal is shown under the form, its field marked.
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const generalForm = $("settings-form");
  const networkBox = $("network-forms");
  const message = $("settings-message");
  const readonly = $("settings-readonly");
  const NETWORK_FIELDS = ["min_amount", "max_amount", "fee_percent", "fee_min", "fee_max",
    "limit_24h", "limit_72h"];
  const SETTINGS_FIELDS = ["approval_threshold", "dual_approval_threshold",
    "internal_min_amount", "internal_limit_24h", "internal_limit_72h"];
  let shown = null;
  let pending = null; // {target, changes, key}: sent and unanswered (a retry reuses its key)
  let sending = false;

  function say(text) {
    message.hidden = !text;
    message.textContent = text || "";
  }

  function input(formId, name, value, now, editable, attrs) {
    const id = `${formId}-${name}`;
    return el("div", { class: "field" },
      el("label", { for: id }, t(`admin.payout_settings.field.${name}`)),
      el("input", { id, name, testid: `${formId}-${name}`, value, disabled: !editable,
        autocomplete: "off", ...attrs }),
      now === null ? null : el("span", { class: "hint small", testid: `${formId}-${name}-now` },
        t("admin.payout_settings.now", { value: now })));
  }

  function money(formId, name, value, editable) {
    return input(formId, name, value.amount, value.text, editable,
      { type: "text", inputmode: "decimal", maxlength: 24 });
  }

  function toggle(formId, name, on, editable) {
    const id = `${formId}-${name}`;
    return el("div", { class: "field check" },
      el("label", { for: id },
        el("input", { id, name, type: "checkbox", testid: id, checked: on,
          disabled: !editable }), " ", t(`admin.payout_settings.field.${name}`)));
  }

  function frame(formId, fields, editable) {
    return [
      el("div", { class: "payout-fields" }, fields),
      el("p", { class: "error", testid: `${formId}-error`, role: "alert", hidden: true }),
      editable ? el("button", { type: "submit", class: "button", testid: `${formId}-save` },
        t("admin.payout_settings.save")) : null,
    ];
  }

  function networkForm(network, editable) {
    const formId = `network-${network.id}`;
    const form = el("form", { class: "card payout-form", testid: formId, novalidate: true,
      dataset: { network: network.id } },
    el("div", { class: "card-head" }, el("h3", {}, network.name),
      el("span", { class: `badge ${network.enabled ? "good" : "bad"}` },
        t(network.enabled ? "admin.payout_settings.on" : "admin.payout_settings.off"))),
    el("p", { class: "muted small" }, t("admin.payout_settings.paid_from",
      { exchange: network.payout_exchange_id })),
    frame(formId, [
      toggle(formId, "enabled", network.enabled, editable),
      NETWORK_FIELDS.map((name) => (name === "fee_percent"
        ? input(formId, name, network.fee_percent.amount, network.fee_percent.text, editable,
          { type: "text", inputmode: "decimal", maxlength: 12 })
        : money(formId, name, network[name], editable))),
      input(formId, "explorer_tx_url", network.explorer_tx_url, null, editable,
        { type: "url", maxlength: 255, class: "wide" }),
    ], editable));
    form.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      save({ kind: "network", id: network.id, name: network.name }, form);
    });
    return form;
  }

  function renderGeneral(settings, editable) {
    const formId = "settings";
    C.fill(generalForm, frame(formId, [
      SETTINGS_FIELDS.map((name) => money(formId, name, settings[name], editable)),
      input(formId, "address_cooldown_hours", String(settings.address_cooldown_hours), null,
        editable, { type: "number", inputmode: "numeric", min: 0, max: 720, step: 1 }),
      toggle(formId, "admins_can_approve", settings.admins_can_approve, editable),
    ], editable));
  }

  function render(data) {
    shown = data;
    readonly.hidden = data.can_edit;
    renderGeneral(data.settings, data.can_edit);
    C.fill(networkBox, data.networks.map((network) => networkForm(network, data.can_edit)));
    networkBox.removeAttribute("aria-busy");
  }

  // What the form says that differs from what was drawn, as the API takes it.
  function changes(target, form) {
    const was = target.kind === "network"
      ? shown.networks.find((n) => n.id === target.id) : shown.settings;
    const found = {};
    for (const field of form.querySelectorAll("input")) {
      const before = was[field.name];
      if (field.type === "checkbox") {
        if (field.checked !== before) found[field.name] = field.checked;
      } else if (field.name === "address_cooldown_hours") {
        const value = field.value.trim();
        if (value !== String(before)) found[field.name] = /^\d+$/.test(value) ? Number(value) : value;
      } else {
        const value = field.value.trim();
        const exact = before && typeof before === "object" ? before.amount : before;
        if (value !== exact) found[field.name] = value;
      }
    }
    return found;
  }

  function showError(form, error) {
    const box = form.querySelector('[data-testid$="-error"]');
    box.textContent = error ? error.message : "";
    box.hidden = !error;
    for (const field of form.querySelectorAll("input")) {
      C.markField(field, Boolean(error && error.field === field.name));
    }
  }

  async function save(target, form, again) {
    if (sending) return;
    if (!again) {
      say(null);
      showError(form, null);
      const found = changes(target, form);
      if (!Object.keys(found).length) {
        showError(form, { message: t("admin.payout_settings.nothing"), field: null });
        return;
      }
      const names = Object.keys(found).map((name) => t(`admin.payout_settings.field.${name}`));
      const asked = target.kind === "network"
        ? t("admin.payout_settings.confirm_network", { name: target.name, fields: names.join(", ") })
        : t("admin.payout_settings.confirm_settings", { fields: names.join(", ") });
      C.haptic("medium");
      if (!await C.confirm(asked)) return;
      const same = pending && JSON.stringify(pending.changes) === JSON.stringify(found)
        && pending.target.id === target.id;
      pending = same ? pending : { target, changes: found, key: C.newKey() };
    }
    const path = target.kind === "network"
      ? `/api/admin/payouts/networks/${encodeURIComponent(target.id)}`
      : "/api/admin/payouts/settings";
    sending = true;
    const button = form.querySelector('button[type="submit"]');
    C.busy(button, true);
    try {
      const data = await C.api("PATCH", path, { key: pending.key, body: pending.changes });
      pending = null;
      C.hideNotice();
      render(data);
      say(data.message);
      C.haptic("success");
    } catch (error) {
      const lost = !(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500;
      C.haptic("error");
      if (lost) {
        C.fail(error, () => save(target, form, true));
      } else {
        pending = null;
        if (error.status === 403 || error.status === 401) C.fail(error);
        else showError(form, error);
      }
    } finally {
      sending = false;
      C.busy(button, false);
    }
  }

  generalForm.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    save({ kind: "settings", id: "settings" }, generalForm);
  });

  async function load() {
    C.pageBusy(true);
    try {
      render(await C.api("GET", "/api/admin/payouts/settings"));
      C.hideNotice();
    } catch (error) {
      C.fail(error, load);
    } finally {
      C.pageBusy(false);
    }
  }

  C.ready.then((me) => { if (me) load(); });
})();
