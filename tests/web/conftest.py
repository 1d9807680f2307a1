"""What the admin screens' browser tests share: Chromium (Debian's, once per test file) and
the web app served on the test's services (its Redis keys named after the file), and a GET
of the API as a given user, to compare the page with the API's own words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser

from bot.app import Services
from services.i18n import Catalog
from tests.conftest import RUN_ID
from tests.support.api_app import auth, build_app
from tests.support.browser import chromium, chromium_or_skip
from tests.support.miniapp import serve


@pytest.fixture(scope="module")
async def admin_browser() -> AsyncIterator[Browser]:
    async with chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
async def admin_site(request: pytest.FixtureRequest, orm: str, redis: Any, services: Services,
                     i18n: Catalog) -> AsyncIterator[str]:
    chromium_or_skip()
    prefix = f"test-{RUN_ID}-{request.module.__name__.rsplit('.', 1)[-1]}"
    async with serve(build_app(services, i18n, redis, prefix)) as url:
        yield url


async def api_get(site: str, user_id: int, path: str, lang: str = "en") -> tuple[int, Any]:
    async with ClientSession() as session, session.get(
            f"{site}{path}", headers=auth(user_id, language=lang)) as response:
        return response.status, await response.json()
