// CryptoRebate — the Mini App's shared core, window.CryptoRebate. Each page's behaviour lives in
// /static/pages/<page>.js (base.html loads it after this file, both `defer`; a template may
// override {% block page_script %}). The core never formats money or moments: pages show the
// API's `text` fields. Words come from the catalog through the page's config (config.texts).
//
// What a page script may use (const C = window.CryptoRebate):
//   C.config                   the page's JSON config: page, lang, locales, home_url, login_url,
//                              urls {page: url}, texts {"common.retry_button": …, "<page>.…": …}
//                              (app.common.* and app.<page>.* from the catalog, "app." dropped)
//   C.t(key, params)           a catalog text, key without "app." ("withdraw.submit"); "{name}"
//                              filled from params; a missing key shows as the key itself
//   C.ready                    Promise of /api/me's answer once the caller is known, or null
//                              (not signed in, not registered, offline: the notice says so)
//   C.api(method, path, {query, body, key, raw})
//                              JSON (null for 204), or the Response itself with raw: true.
//                              Adds Authorization (initData) or X-CSRF-Token (browser session)
//                              and an Idempotency-Key on writes (pass `key` again to retry the
//                              same action: C.newKey()). Throws C.ApiFailure {status, code,
//                              field, message}; status 0 is a network failure.
//   C.fail(error, retry)       shows an error in the notice: the API's message for a 4xx, for a
//                              5xx/network failure a "try again" notice whose button calls retry
//                              (a 401 is left alone: api() already showed the way to sign in)
//   C.notice(text, {link: {href, text}, retry})   C.hideNotice()
//   C.el(tag, attrs, ...children)
//                              builds an element safely: attrs {class, text, testid, dataset,
//                              onClick…, hidden, disabled, value, …}; children are nodes or
//                              strings (always text nodes: nothing is parsed as HTML)
//   C.fill(node, ...children)  replaces a node's children; returns the node
//   C.money(m) / C.when(m)     m.text, or "—" for null
//   C.mainButton(text, onClick)  Telegram's MainButton showing text and calling onClick (the
//                              previous handler is removed); returns {setText, enable, disable,
//                              progress(on), hide}; C.mainButton(null) hides it. Outside
//                              Telegram a no-op (C.mainButton.idle): pages keep their own
//                              button too. The core hides it (and shows the BackButton off the
//                              dashboard) when a page starts.
//   C.haptic(kind)             "selection" | "success" | "error" | "warning" | "light" |
//                              "medium" | "heavy"; a no-op outside Telegram
//   C.confirm(message)         Promise<boolean>: Telegram's native popup, window.confirm outside
//   C.alert(message)           Promise<void>, likewise
//   C.markField(input, on)     highlights a form field (aria-invalid + class "invalid")
//   C.busy(button, on)         disables a button while its action runs
//   C.pageBusy(on)             marks #content aria-busy while the page's data loads
//   C.copy(text)               Promise<boolean>: clipboard, or select + execCommand as fallback
//   C.download(response, fallbackName)  saves a raw api() response (name from
//                              Content-Disposition)
//   C.theme()                  "light" | "dark": the colours in use (for server-drawn images)
//   C.tg, C.inTelegram         Telegram.WebApp (or null); true when initData is known
//   A page with two scripts shares through its own namespace on C, set by the first one
//   (C.withdraw: withdraw.js for withdrawals.js).
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("app-config").textContent);
  const texts = config.texts || {};
  const tg = (window.Telegram && window.Telegram.WebApp) || null;
  const STORE_INIT = "cryptorebate.initData";
  const STORE_THEME = "cryptorebate.themeParams";
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));

  function stored(key, fresh) {
    try {
      if (fresh) sessionStorage.setItem(key, fresh);
      return fresh || sessionStorage.getItem(key) || "";
    } catch (_) { return fresh || ""; } // storage refused (a private window)
  }

  // Telegram's script when it loaded; else what Telegram (or the demo's stand-in) put in the
  // URL's hash, kept for the session because links between pages drop the hash.
  const initData = stored(STORE_INIT, (tg && tg.initData) || hash.get("tgWebAppData") || "");
  const inTelegram = initData !== "";
  let csrfToken = null;

  function t(key, params) {
    const text = Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
    if (!params) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) =>
      (Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole));
  }

  // --- DOM, built node by node (no HTML parsing) ------------------------------------
  const SAFE_URL = /^(https?:|blob:|tg:|mailto:|\/(?!\/)|#|\?)/i; // no javascript:, no //host
  const PROPERTIES = new Set(["hidden", "disabled", "checked", "selected", "value", "open",
    "required", "readOnly"]);

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
      else if (name === "text") node.textContent = String(value);
      else if (name === "testid") node.dataset.testid = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (/^on[A-Z]/.test(name) && typeof value === "function") {
        node.addEventListener(name.slice(2).toLowerCase(), value);
      } else if (PROPERTIES.has(name)) node[name] = value;
      else if ((name === "href" || name === "src") && !SAFE_URL.test(String(value))) continue;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    return append(node, children);
  }

  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  const money = (m) => (m && m.text) || "—";
  const when = (m) => (m && m.text) || "—";

  // --- notices and errors -------------------------------------------------------------
  function notice(text, { link, retry, kind } = {}) {
    const box = document.getElementById("notice");
    fill(box, text);
    box.className = kind === "error" ? "notice error" : "notice";
    if (link) box.append(" ", el("a", { href: link.href, testid: "notice-link" }, link.text));
    if (retry) {
      box.append(" ", el("button", { type: "button", class: "link-button", testid: "notice-retry",
        onClick: () => { hideNotice(); retry(); } }, t("common.retry_button")));
    }
    box.hidden = false;
  }

  function hideNotice() {
    const box = document.getElementById("notice");
    box.hidden = true;
    box.replaceChildren();
  }

  class ApiFailure extends Error {
    constructor(status, error) {
      super((error && error.message) || (status === 0 ? t("common.offline") : t("common.error")));
      this.status = status;
      this.code = (error && error.code) || null;
      this.field = (error && error.field) || null;
    }
  }

  function fail(error, retry) {
    if (error instanceof ApiFailure && error.status === 401) return; // api() said what to do
    if (!(error instanceof ApiFailure) || error.status === 0 || error.status >= 500) {
      if (!(error instanceof ApiFailure)) console.error(error); // eslint-disable-line no-console
      notice(t("common.unavailable"), { retry, kind: "error" });
    } else {
      notice(error.message, { kind: "error" });
    }
  }

  // --- the API ------------------------------------------------------------------------
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function signInNotice() {
    if (inTelegram) notice(t("common.reopen"));
    else notice(t("common.signin"), { link: { href: config.login_url, text: t("common.signin_link") } });
  }

  async function api(method, path, { query, body, key, raw } = {}) {
    const headers = { Accept: raw ? "*/*" : "application/json" };
    if (inTelegram) headers.Authorization = `tma ${initData}`;
    if (method !== "GET") {
      headers["Idempotency-Key"] = key || newKey();
      if (!inTelegram && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let url = path;
    if (query) {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) {
        if (value !== null && value !== undefined && value !== "") params.set(name, value);
      }
      if (String(params)) url += `?${params}`;
    }
    let response;
    try {
      response = await fetch(url, { method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (_) {
      throw new ApiFailure(0, null);
    }
    if (response.status === 401) signInNotice();
    if (!response.ok) {
      let error = null;
      try { error = (await response.json()).error; } catch (_) { /* not JSON: a proxy's page */ }
      throw new ApiFailure(response.status, error);
    }
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }

  // --- Telegram -----------------------------------------------------------------------
  const noop = () => {};
  let mainHandler = null;

  function mainButton(text, onClick) {
    const button = tg && tg.MainButton;
    if (!button) return mainButton.idle;
    if (mainHandler) button.offClick(mainHandler);
    mainHandler = null;
    if (text === null || text === undefined) { button.hide(); return mainButton.idle; }
    const handler = () => onClick();
    mainHandler = handler;
    button.setText(text);
    button.onClick(mainHandler);
    if (button.enable) button.enable();
    button.show();
    return {
      setText: (value) => button.setText(value),
      enable: () => button.enable && button.enable(),
      disable: () => button.disable && button.disable(),
      progress: (on) => (on ? button.showProgress && button.showProgress(false)
        : button.hideProgress && button.hideProgress()),
      hide: () => { if (mainHandler === handler) mainButton(null); }, // only if still its own
    };
  }
  mainButton.idle = { setText: noop, enable: noop, disable: noop, progress: noop, hide: noop };

  function haptic(kind) {
    const feedback = tg && tg.HapticFeedback;
    if (!feedback) return;
    try {
      if (kind === "selection") feedback.selectionChanged();
      else if (["success", "error", "warning"].includes(kind)) feedback.notificationOccurred(kind);
      else feedback.impactOccurred(kind || "light");
    } catch (_) { /* an old client without haptics */ }
  }

  function confirm(message) {
    if (tg && tg.showConfirm) {
      return new Promise((resolve) => {
        try { tg.showConfirm(message, (ok) => resolve(Boolean(ok))); } catch (_) {
          resolve(window.confirm(message));
        }
      });
    }
    return Promise.resolve(window.confirm(message));
  }

  function alert(message) {
    if (tg && tg.showAlert) {
      return new Promise((resolve) => {
        try { tg.showAlert(message, () => resolve()); } catch (_) { window.alert(message); resolve(); }
      });
    }
    window.alert(message);
    return Promise.resolve();
  }

  // --- small helpers ------------------------------------------------------------------
  function markField(input, on) {
    if (!input) return;
    input.classList.toggle("invalid", Boolean(on));
    if (on) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function busy(button, on) {
    if (!button) return;
    button.disabled = Boolean(on);
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  function pageBusy(on) {
    const content = document.getElementById("content");
    if (!content) return;
    if (on) content.setAttribute("aria-busy", "true");
    else content.removeAttribute("aria-busy");
  }

  async function copy(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (_) { /* refused: try the old way */ }
    const area = el("textarea", { readonly: true, class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let done = false;
    try { done = document.execCommand("copy"); } catch (_) { done = false; }
    area.remove();
    return done;
  }

  async function download(response, fallbackName) {
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(disposition);
    const name = match ? decodeURIComponent(match[1] || match[2]) : fallbackName;
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: name, class: "offscreen" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return name;
  }

  function theme() {
    const root = document.documentElement.dataset.theme;
    if (root === "dark" || root === "light") return root;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function themeParams() {
    if (tg && tg.themeParams && Object.keys(tg.themeParams).length) return tg.themeParams;
    try { return JSON.parse(stored(STORE_THEME, hash.get("tgWebAppThemeParams") || "")); } catch (_) {
      return {};
    }
  }

  // Dark when Telegram says so, or when its background colour is dark.
  function schemeOf(params) {
    if (tg && tg.colorScheme) return tg.colorScheme;
    const bg = /^#([0-9a-f]{6})$/i.exec(params.bg_color || "");
    if (!bg) return null;
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(bg[1].slice(i, i + 2), 16));
    return 0.299 * r + 0.587 * g + 0.114 * b < 128 ? "dark" : "light";
  }

  function applyTheme() {
    const root = document.documentElement;
    const params = themeParams();
    for (const [name, value] of Object.entries(params)) {
      if (typeof value === "string" && /^#[0-9a-f]{3,8}$/i.test(value)) {
        root.style.setProperty(`--tg-theme-${name.replace(/_/g, "-")}`, value);
      }
    }
    const scheme = schemeOf(params);
    if (scheme) root.dataset.theme = scheme;
  }

  function setupTelegram() {
    applyTheme();
    if (!tg) return;
    try { tg.ready(); tg.expand(); } catch (_) { /* an old client */ }
    if (tg.onEvent) tg.onEvent("themeChanged", applyTheme);
    if (tg.BackButton) {
      if (config.page !== "dashboard" && config.page !== "login") {
        tg.BackButton.onClick(() => { location.href = config.home_url; });
        tg.BackButton.show();
      } else if (tg.BackButton.hide) tg.BackButton.hide();
    }
    if (tg.MainButton && tg.MainButton.hide) tg.MainButton.hide();
  }

  async function whoAmI() {
    let me;
    try {
      me = await api("GET", "/api/me");
    } catch (error) {
      fail(error, () => location.reload());
      return null;
    }
    csrfToken = me.csrf_token;
    const params = new URLSearchParams(location.search);
    if (me.locale !== config.lang && config.locales.includes(me.locale)
        && params.get("lang") !== me.locale) {
      params.set("lang", me.locale);
      location.replace(`${location.pathname}?${params}${location.hash}`);
      return new Promise(noop); // the page is being replaced
    }
    return me;
  }

  setupTelegram();
  const ready = config.page === "login" ? Promise.resolve(null) : whoAmI();

  window.CryptoRebate = {
    config, t, tg, inTelegram, ready, api, ApiFailure, fail, notice, hideNotice, newKey,
    el, fill, money, when, mainButton, haptic, confirm, alert, markField, busy, pageBusy, copy,
    download, theme,
  };
})();
