"""Helpers of the page-shell tests (tests/web/test_app_pages.py, test_admin_pages.py): the
pages served alone, the configuration block a page carries, its script's text and the catalog
keys that script asks for."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.i18n import Catalog
from webapp.pages import SCRIPT_DIR, setup_pages

CONFIG_BLOCK = re.compile(
    r'<script type="application/json" id="app-config">(.*?)</script>', re.S)
# t("key") and t(`prefix.${…}`) in the page scripts.
JS_KEY = re.compile(r"""\bt\(\s*(?:"([a-z0-9_.]+)"|`([a-z0-9_.]+)\$\{)""")


class PagesDeps:
    """What setup_pages reads of the web process's dependencies."""

    def __init__(self, i18n: Catalog, bot_username: str | None = "CryptoRebateBot") -> None:
        self.i18n = i18n
        self.bot_username = bot_username


@contextlib.asynccontextmanager
async def pages_client(i18n: Catalog, bot_username: str | None = "CryptoRebateBot",
                       ) -> AsyncIterator[TestClient]:
    app = web.Application()
    setup_pages(app, PagesDeps(i18n, bot_username))  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        yield client


def page_config(html: str) -> dict[str, Any]:
    match = CONFIG_BLOCK.search(html)
    assert match, "no configuration block"
    config = json.loads(match.group(1))
    assert isinstance(config, dict)
    return config


def page_script(name: str) -> str:
    return (SCRIPT_DIR / f"{name}.js").read_text()
