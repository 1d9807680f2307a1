// Settings: language and the daily digest (PATCH /api/settings; a new language reloads the
// page in it), and the auto-withdrawal threshold (its destination is chosen on the withdraw
// page; here the threshold changes, or the standing order is turned off).
(() => {
  "use strict";
  const C = window.CryptoRebate;
  const { el, t } = C;
  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const form = document.getElementById("settings-form");
  const locale = $("settings-locale");
  const digest = $("settings-digest");
  const save = $("settings-save");
  const message = $("settings-message");
  const autoState = $("auto-state");
  const autoForm = document.getElementById("auto-form");
  const threshold = $("auto-threshold");
  const autoSave = $("auto-save");
  const autoOff = $("auto-off");
  const autoError = $("auto-error");
  const autoMessage = $("auto-message");
  const autoSetup = $("auto-setup");
  let current = null; // the last Settings answer
  const keys = {}; // an Idempotency-Key per pending action, kept for its retry
  let main = C.mainButton.idle;

  function say(box, text, isError) {
    box.hidden = !text;
    box.textContent = text || "";
    box.className = isError ? "error" : "success";
  }

  function options(select, items, chosen) {
    C.fill(select, items.map((item) => el("option", { value: item.code, selected: item.code === chosen },
      item.name)));
    select.value = chosen;
    select.disabled = false;
  }

  function showAuto(auto) {
    autoForm.hidden = !auto;
    autoSetup.hidden = Boolean(auto);
    if (!auto) {
      autoState.textContent = t("settings.auto_off_state");
      return;
    }
    autoState.textContent = t("settings.auto_on",
      { threshold: `${C.money(auto.threshold)} USDT`, target: auto.destination_text });
    if (document.activeElement !== threshold) threshold.value = auto.threshold.amount;
  }

  function render(data) {
    current = data;
    options(locale, data.locales, data.locale);
    options(digest, data.digest_modes, data.digest_mode);
    save.disabled = false;
    showAuto(data.auto_withdraw);
  }

  function failed(error, action, box, retry, field) {
    if (!(error instanceof C.ApiFailure) || error.status === 0 || error.status >= 500) {
      C.fail(error, retry); // the key is kept: the retry is the same action
      return;
    }
    delete keys[action]; // refused: the next try is a new action
    C.haptic("error");
    say(box, error.message, true);
    if (field) { C.markField(field, true); field.focus(); }
  }

  async function write(action, method, path, body) {
    keys[action] = keys[action] || C.newKey();
    const data = await C.api(method, path, { body, key: keys[action] });
    delete keys[action];
    return data;
  }

  async function savePreferences() {
    if (!current || save.disabled) return;
    const chosenLocale = locale.value;
    C.busy(save, true);
    main.progress(true);
    try {
      const data = await write("prefs", "PATCH", "/api/settings",
        { locale: chosenLocale, digest_mode: digest.value });
      C.haptic("success");
      if (chosenLocale !== C.config.lang) {
        const params = new URLSearchParams(location.search);
        params.set("lang", chosenLocale);
        location.replace(`${location.pathname}?${params}${location.hash}`);
        return;
      }
      render(data);
      say(message, t("settings.saved"));
    } catch (error) {
      failed(error, "prefs", message, savePreferences);
    } finally {
      C.busy(save, false);
      main.progress(false);
    }
  }

  async function saveThreshold() {
    const auto = current && current.auto_withdraw;
    if (!auto) return;
    C.markField(threshold, false);
    say(autoMessage, null);
    const value = threshold.value.trim();
    if (!value) {
      C.markField(threshold, true);
      say(autoError, t("settings.need_threshold"), true);
      threshold.focus();
      return;
    }
    say(autoError, null);
    const body = { method: auto.method, threshold: value };
    for (const name of ["exchange_id", "network_id", "address_id"]) {
      if (auto[name] !== null && auto[name] !== undefined) body[name] = auto[name];
    }
    C.busy(autoSave, true);
    try {
      render(await write("auto", "PUT", "/api/settings/auto-withdraw", body));
      C.haptic("success");
      say(autoMessage, t("settings.auto_saved"));
    } catch (error) {
      failed(error, "auto", autoError, saveThreshold, threshold);
    } finally {
      C.busy(autoSave, false);
    }
  }

  async function stopAuto() {
    if (!(await C.confirm(t("settings.auto_off_confirm")))) return;
    C.busy(autoOff, true);
    say(autoError, null);
    try {
      render(await write("off", "DELETE", "/api/settings/auto-withdraw"));
      C.haptic("success");
      say(autoMessage, null);
      autoState.textContent = t("settings.auto_stopped");
    } catch (error) {
      failed(error, "off", autoError, stopAuto);
    } finally {
      C.busy(autoOff, false);
    }
  }

  async function load() {
    C.pageBusy(true);
    try {
      render(await C.api("GET", "/api/settings"));
      C.hideNotice();
      main = C.mainButton(t("settings.save"), savePreferences);
    } catch (error) {
      autoState.textContent = "";
      C.fail(error, load);
    } finally {
      C.pageBusy(false);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); savePreferences(); });
  for (const select of [locale, digest]) {
    select.addEventListener("change", () => {
      delete keys.prefs;
      say(message, null);
      C.haptic("selection");
    });
  }
  threshold.addEventListener("input", () => {
    delete keys.auto;
    C.markField(threshold, false);
    say(autoError, null);
  });
  autoForm.addEventListener("submit", (event) => { event.preventDefault(); saveThreshold(); });
  autoOff.addEventListener("click", stopAuto);
  C.ready.then((me) => {
    if (me) load();
    else autoState.textContent = "";
  });
})();
