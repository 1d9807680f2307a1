"""The Mini App in a real browser: the web app (tests/support/api_app.py's ``build_app``) served
on 127.0.0.1 with the real services, and a stand-in for Telegram's ``window.Telegram.WebApp``
(Telegram's own script is not fetched: the tests have no network) that records what the page
asked of Telegram in ``window.__tgCalls``."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import BrowserContext, Page, Route

ROOT = Path(__file__).resolve().parent.parent.parent


def trader(user_id: int, lang: str = "en") -> dict[str, Any]:
    """The ``user`` of a trader's initData (initDataUnsafe.user), as api_app.init_data signs it."""
    return {"id": user_id, "first_name": "T", "language_code": lang}

# Telegram's colours as its desktop client sends them (themeParams), light and dark.
LIGHT_THEME = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999",
               "link_color": "#2481cc", "button_color": "#2481cc",
               "button_text_color": "#ffffff", "secondary_bg_color": "#efeff3"}
DARK_THEME = {"bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499",
              "link_color": "#6ab3f3", "button_color": "#5288c1",
              "button_text_color": "#ffffff", "secondary_bg_color": "#232e3c",
              "destructive_text_color": "#ec3942"}


def output_dir(*parts: str) -> Path:
    """Where the browser tests keep what they leave behind (screenshots): TEST_OUTPUT_DIR, else
    ``test-output/`` at the repository's root."""
    base = Path(os.environ.get("TEST_OUTPUT_DIR") or ROOT / "test-output")
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """The app on an ephemeral port of 127.0.0.1; yields its base URL (no trailing slash)."""
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


# The stand-in. Every method call is recorded as {"name", "args"} (functions as "fn");
# showConfirm answers window.__tgConfirmAnswer (true unless a test changes it) on the next
# tick, as Telegram answers after the popup closes; window.__tgPressMain() presses the
# MainButton (calls the handlers the page registered).
_STUB_JS = """
(config) => {
  const calls = [];
  window.__tgCalls = calls;
  window.__tgConfirmAnswer = true;
  const plain = (value) => (typeof value === "function" ? "fn" : value);
  const record = (name, args) => calls.push({ name, args: [...args].map(plain) });
  const handlers = { main: [], back: [], events: {} };
  const button = (prefix, list) => {
    const self = {
      text: "", isVisible: false, isActive: true, isProgressVisible: false,
      setText(text) {
        record(`${prefix}.setText`, arguments);
        self.text = String(text);
        return self;
      },
      show() { record(`${prefix}.show`, arguments); self.isVisible = true; return self; },
      hide() { record(`${prefix}.hide`, arguments); self.isVisible = false; return self; },
      enable() { record(`${prefix}.enable`, arguments); self.isActive = true; return self; },
      disable() { record(`${prefix}.disable`, arguments); self.isActive = false; return self; },
      showProgress() {
        record(`${prefix}.showProgress`, arguments);
        self.isProgressVisible = true;
        return self;
      },
      hideProgress() {
        record(`${prefix}.hideProgress`, arguments);
        self.isProgressVisible = false;
        return self;
      },
      setParams(params) {
        record(`${prefix}.setParams`, arguments);
        Object.assign(self, params);
        return self;
      },
      onClick(fn) {
        record(`${prefix}.onClick`, arguments);
        handlers[list].push(fn);
        return self;
      },
      offClick(fn) {
        record(`${prefix}.offClick`, arguments);
        handlers[list] = handlers[list].filter((f) => f !== fn);
        return self;
      },
    };
    return self;
  };
  const MainButton = button("MainButton", "main");
  const BackButton = button("BackButton", "back");
  window.__tgPressMain = () => {
    if (!MainButton.isVisible || !MainButton.isActive) return false;
    handlers.main.slice().forEach((fn) => fn());
    return true;
  };
  const later = (fn, ...args) => setTimeout(() => fn && fn(...args), 0);
  window.Telegram = { WebApp: {
    initData: config.initData, initDataUnsafe: config.initDataUnsafe,
    version: "8.0", platform: "tdesktop",
    colorScheme: config.colorScheme, themeParams: config.themeParams,
    isExpanded: false, viewportHeight: window.innerHeight,
    viewportStableHeight: window.innerHeight,
    MainButton, BackButton,
    HapticFeedback: {
      impactOccurred() { record("HapticFeedback.impactOccurred", arguments); },
      notificationOccurred() { record("HapticFeedback.notificationOccurred", arguments); },
      selectionChanged() { record("HapticFeedback.selectionChanged", arguments); },
    },
    ready() { record("ready", arguments); },
    expand() { record("expand", arguments); this.isExpanded = true; },
    close() { record("close", arguments); },
    onEvent(name, fn) {
      record("onEvent", arguments);
      (handlers.events[name] = handlers.events[name] || []).push(fn);
    },
    offEvent(name, fn) {
      record("offEvent", arguments);
      handlers.events[name] = (handlers.events[name] || []).filter((f) => f !== fn);
    },
    showConfirm(message, callback) {
      record("showConfirm", arguments);
      later(callback, window.__tgConfirmAnswer);
    },
    showAlert(message, callback) { record("showAlert", arguments); later(callback); },
    showPopup(params, callback) { record("showPopup", arguments); later(callback, "ok"); },
    openLink() { record("openLink", arguments); },
    openTelegramLink() { record("openTelegramLink", arguments); },
  } };
}
"""


# Counts the page's fetches, so a test can wait until the page has settled (no request in
# flight for a while) rather than for "networkidle"'s fixed half second.
_SETTLE_JS = """
(() => {
  let inflight = 0;
  let last = performance.now();
  const original = window.fetch.bind(window);
  window.fetch = (...args) => {
    inflight += 1;
    last = performance.now();
    return original(...args).finally(() => { inflight -= 1; last = performance.now(); });
  };
  window.__settled = (quietMs) => document.readyState === "complete" && inflight === 0
    && performance.now() - last >= quietMs;
})();
"""
SETTLE_MS = 150


async def settle(page: Page) -> None:
    """Wait until the page's scripts have had their answers and shown them."""
    await page.wait_for_function(f"() => window.__settled({SETTLE_MS})", polling=50)


def telegram_stub(signed: str, user: dict[str, Any], *, scheme: str = "light",
                  theme: dict[str, str] | None = None) -> str:
    """The init script defining the stand-in for one trader, as Telegram's client would."""
    config = {"initData": signed, "initDataUnsafe": {"user": user},
              "colorScheme": scheme,
              "themeParams": theme or (DARK_THEME if scheme == "dark" else LIGHT_THEME)}
    return f"({_STUB_JS})({json.dumps(config)});"


async def offline_telegram(context: BrowserContext) -> None:
    """Telegram's script (the pages' only foreign one) is refused, as without network."""

    async def refuse(route: Route) -> None:
        await route.abort()

    await context.route("https://telegram.org/**", refuse)
    await context.add_init_script(_SETTLE_JS)


async def telegram_calls(page: Page, name: str | None = None) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = await page.evaluate("() => window.__tgCalls || []")
    return [call for call in calls if name is None or call["name"] == name]
