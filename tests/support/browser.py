"""A real browser for page tests: Debian's chromium (``apt-get install chromium``) driven by
Playwright through ``executable_path``, so nothing is downloaded. Without it a test is skipped
on a developer's machine and fails under CI (the ``CI`` environment variable set): CI must run
it (``.ci/run`` installs the package when it is missing)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path(os.environ.get("TEST_CHROMIUM", "/usr/bin/chromium"))


def chromium_or_skip() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    reason = (f"no browser at {CHROMIUM}: install Debian's chromium "
              f"(apt-get install -y chromium) to run the browser tests")
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run them", pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless chromium, closed afterwards (Playwright starts it without its sandbox, as a
    container running as root needs)."""
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


# For each line of an element's text (split at "\n", as white-space: pre-wrap shows it), how
# many lines it takes on the screen: the distinct rows of its text's client rects.
LINES_ON_SCREEN_JS = """
(element) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const chars = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) chars.push([node, i]);
  }
  const text = chars.map(([node, i]) => node.data[i]).join("");
  const lineHeight = parseFloat(getComputedStyle(element).lineHeight);
  const result = [];
  let start = 0;
  for (const line of text.split("\\n")) {
    const end = start + line.length;
    if (line.trim()) {
      const range = document.createRange();
      range.setStart(chars[start][0], chars[start][1]);
      range.setEnd(chars[end - 1][0], chars[end - 1][1] + 1);
      const tops = [...range.getClientRects()].filter((r) => r.width > 0)
        .map((r) => r.top).sort((a, b) => a - b);
      let rows = 0, last = -Infinity;
      for (const top of tops) if (top - last > lineHeight / 2) { rows += 1; last = top; }
      result.push({ text: line, rows });
    }
    start = end + 1;
  }
  return { lineHeight, lines: result };
}
"""

# Anything wider than the viewport: the document's scroll width, and every element reaching past
# the right edge that is not inside a box scrolling sideways by design (the people strip).
OVERFLOW_JS = """
() => {
  const width = window.innerWidth;
  const doc = document.documentElement;
  const scrolls = (node) => ["auto", "scroll"].includes(getComputedStyle(node).overflowX);
  const inScroller = (node) => {
    for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
      if (scrolls(up)) return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")]
    .filter((node) => node.getClientRects().length && !inScroller(node))
    .map((node) => ({ tag: node.tagName.toLowerCase(), cls: String(node.className),
                      text: (node.textContent || "").trim().slice(0, 30),
                      right: Math.round(node.getBoundingClientRect().right) }))
    .filter((box) => box.right > width);
  return { width, scrollWidth: Math.max(doc.scrollWidth, document.body.scrollWidth), wide };
}
"""
