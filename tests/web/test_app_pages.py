"""The Mini App's page shells (/app/): each renders without an identity in both languages,
under the strict CSP, with no inline script and no untranslated key; its configuration block
carries the words its script shows; the page scripts are served from a whitelist only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from services.i18n import Catalog
from tests.support.pages import (
    JS_KEY,
    page_config,
    page_script,
    pages_client,
)
from webapp.pages import PAGES, SCRIPT_DIR, STATIC_DIR

PATHS = [path for _, path, _ in PAGES] + ["/app/login"]
# The pages this module's scripts fill (withdraw has its own tests).
OWN_PAGES = ("dashboard", "exchanges", "accounts", "history", "settings")




@pytest.fixture
async def client(i18n: Catalog) -> AsyncIterator[TestClient]:
    async with pages_client(i18n) as test_client:
        yield test_client


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("path", PATHS)
async def test_a_page_renders_translated_under_the_csp(client: TestClient, path: str,
                                                       lang: str) -> None:
    response = await client.get(path, params={"lang": lang})
    assert response.status == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://telegram.org" in csp and "img-src 'self' blob: data:" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = await response.text()
    assert f'<html lang="{lang}">' in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\bon[a-z]+=", html), "an inline event handler"
    assert '<link rel="icon" href="data:,">' in html  # no /favicon.ico 404 in the console
    assert not re.search(r"\bapp\.[a-z_]+\.[a-z_.]+", re.sub(r'(src|href)="[^"]*"', "", html))


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("page", OWN_PAGES)
async def test_the_config_carries_every_word_the_page_script_shows(
        client: TestClient, i18n: Catalog, page: str, lang: str) -> None:
    path = dict((name, url) for name, url, _ in PAGES)[page]
    html = await (await client.get(path, params={"lang": lang})).text()
    config = page_config(html)
    assert config["page"] == page and config["lang"] == lang
    texts = config["texts"]
    assert isinstance(texts, dict)
    t = i18n.translator(lang)
    assert texts["common.retry_button"] == t("app.common.retry_button")
    assert all(key.startswith(("common.", f"{page}.")) for key in texts), "another page's words"
    urls = config["urls"]
    assert isinstance(urls, dict) and urls["dashboard"] == f"/app/?lang={lang}"
    for source in (page_script(page), (STATIC_DIR / "app.js").read_text()):
        for key, prefix in JS_KEY.findall(source):
            if key:
                assert key in texts, (page, key)
            else:
                assert any(k.startswith(prefix) for k in texts), (page, prefix)
    assert f'<script src="/static/pages/{page}.js" defer></script>' in html


async def test_the_pages_speak_russian_in_russian(i18n: Catalog) -> None:
    english, russian = i18n.translator("en"), i18n.translator("ru")
    mine = ("app.common.", *(f"app.{page}." for page in OWN_PAGES))
    keys = [key for key in i18n.keys("en") if key.startswith(mine)]
    assert keys
    for key in keys:
        assert re.search("[а-яё]", russian(key), re.I), (key, russian(key))
        assert russian(key) != english(key), key


async def test_the_login_page_carries_the_widget(client: TestClient) -> None:
    html = await (await client.get("/app/login")).text()
    assert 'data-telegram-login="CryptoRebateBot"' in html
    assert 'data-auth-url="/app/login/telegram"' in html
    assert "/static/pages/" not in html


@pytest.mark.parametrize("page", OWN_PAGES)
async def test_a_page_script_is_served_as_javascript(client: TestClient, page: str) -> None:
    response = await client.get(f"/static/pages/{page}.js")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.text() == page_script(page)


@pytest.mark.parametrize("path", [
    "/static/pages/login.js", "/static/pages/app.js", "/static/pages/evil.js",
    "/static/pages/DASHBOARD.js", "/static/pages/dashboard.css", "/static/pages/dashboard",
    "/static/pages/..%2Fapp.js", "/static/pages/%2e%2e%2fapp.js",
    "/static/pages/dashboard.js%00.png", "/static/pages/%2E%2E%2Fpages.py",
])
async def test_only_whitelisted_page_scripts_are_served(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404, path
    assert "use strict" not in await response.text()


@pytest.mark.parametrize("path", ["/static/app.js", "/static/app.css"])
async def test_the_shared_files_are_served_with_nosniff(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_scripts_build_the_page_without_parsing_html() -> None:
    for path in [STATIC_DIR / "app.js", *(SCRIPT_DIR / f"{page}.js" for page in OWN_PAGES)]:
        source = path.read_text()
        for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert unsafe not in source, (path, unsafe)
        assert len(source.splitlines()) <= 400, path


# The withdraw page's scripts: the request (withdraw.js), then its status and the listing.
WITHDRAW_SCRIPTS = ("withdraw", "withdrawals")


async def test_the_withdraw_page_loads_its_two_scripts_in_order(
        client: TestClient, i18n: Catalog) -> None:
    html = await (await client.get("/app/withdraw", params={"lang": "en"})).text()
    tags = re.findall(r'<script src="([^"]+)"( defer)?></script>', html)
    ours = [(src, defer) for src, defer in tags if src.startswith("/static/")]
    assert ours == [("/static/app.js", " defer"), ("/static/pages/withdraw.js", " defer"),
                    ("/static/pages/withdrawals.js", " defer")], tags
    texts = page_config(html)["texts"]
    assert isinstance(texts, dict)
    for name in WITHDRAW_SCRIPTS:
        response = await client.get(f"/static/pages/{name}.js")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        source = await response.text()
        assert source == page_script(name)
        for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                       "eval(", "CSSStyleSheet", "adoptedStyleSheets", ".style."):
            assert unsafe not in source, (name, unsafe)
        # The page's own t() prefixes "withdraw.": each key it names is in the config.
        for key in re.findall(r'\bt\(\s*"([a-z0-9_.]+)"', source):
            assert f"withdraw.{key}" in texts, (name, key)


def test_the_shared_core_documents_what_it_exposes() -> None:
    source = (STATIC_DIR / "app.js").read_text()
    exposed = re.search(r"window\.CryptoRebate = \{(.*?)\};", source, re.S)
    assert exposed
    header = source.split("(() => {", 1)[0]
    for name in re.findall(r"\w+", exposed.group(1)):
        assert f"C.{name}" in header, f"C.{name} is not documented at the top of app.js"


def test_every_page_has_itspage_script() -> None:
    for page in OWN_PAGES:
        assert (SCRIPT_DIR / f"{page}.js").is_file(), page
