"""The operators' pages of the Mini App (/app/admin/: the users directory, /app/admin/user: a
user's page). The shells render for anyone in both languages under the strict CSP, without the
traders' bottom bar, and carry the words their scripts show; the scripts are whitelisted. In
Chromium (the real services, Telegram stubbed as in test_miniapp_browser.py): an admin finds,
filters, sorts and pages the users, a user's page shows the ledger's operations with their
postings, Ban works through Telegram's confirmation; a trader is shown the API's refusal; both
pages fit 360 px (screenshots under test-output/miniapp/admin-*.png)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from bot.app import Services
from services.directory import UserDirectory
from services.i18n import Catalog
from services.models import Role, SignupSource, User
from tests.conftest import RUN_ID
from tests.ledger.helpers import make_trader
from tests.payouts.helpers import funded_trader, staff
from tests.support.api_app import auth, build_app
from tests.support.browser import OVERFLOW_JS, chromium, chromium_or_skip
from tests.support.miniapp import output_dir, serve, settle, telegram_calls
from tests.support.pages import (
    JS_KEY,
    page_config,
    page_script,
    pages_client,
)
from tests.web.test_miniapp_browser import PHONE, app_page, phone, set_locale, visit
from webapp.pages import ADMIN_PAGES, PAGE_SCRIPTS, STATIC_DIR

D = Decimal
ADMIN_PATHS = dict(ADMIN_PAGES)


# --- the shells ------------------------------------------------------------------------------




@pytest.fixture
async def client(i18n: Catalog) -> AsyncIterator[TestClient]:
    async with pages_client(i18n) as test_client:
        yield test_client


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("page", list(ADMIN_PATHS))
async def test_an_admin_page_renders_translated_under_the_csp(
        client: TestClient, i18n: Catalog, page: str, lang: str) -> None:
    response = await client.get(ADMIN_PATHS[page], params={"lang": lang})
    assert response.status == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://telegram.org" in csp and "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = await response.text()
    assert f'<html lang="{lang}">' in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\bon[a-z]+=", html), "an inline event handler"
    assert not re.search(r"\bapp\.[a-z_]+\.[a-z_.]+", re.sub(r'(src|href)="[^"]*"', "", html))
    assert 'class="tabs"' not in html, "the traders' bottom bar on an operators' page"
    assert f'<script src="/static/pages/{page}.js" defer></script>' in html
    t = i18n.translator(lang)
    title_key = f"app.admin.{page.removeprefix('admin_')}.title"
    assert f"<title>{t(title_key)} · " in html

    config = page_config(html)
    assert config["page"] == page and config["lang"] == lang
    texts = config["texts"]
    assert texts["common.retry_button"] == t("app.common.retry_button")
    assert texts["admin.state.banned"] == t("app.admin.state.banned")
    assert all(key.startswith(("common.", "admin.")) for key in texts), "another page's words"
    assert config["urls"]["admin_users"] == f"/app/admin/?lang={lang}"
    assert config["urls"]["admin_user"] == f"/app/admin/user?lang={lang}"
    # Telegram's BackButton: from any other admin page to the directory, from the directory
    # to the app.
    home = "/app/" if page == "admin_users" else "/app/admin/"
    assert config["home_url"] == f"{home}?lang={lang}"
    for key, prefix in JS_KEY.findall(page_script(page)):
        if key:
            assert key in texts, (page, key)
        else:
            assert any(k.startswith(prefix) for k in texts), (page, prefix)


async def test_the_directorys_choices_come_from_the_models(client: TestClient) -> None:
    html = await (await client.get("/app/admin/", params={"lang": "en"})).text()
    for role in Role:
        assert f'<option value="{role.value}">' in html, role
    for source in SignupSource:
        assert f'<option value="{source.value}">' in html, source
    for size in (10, 25, 50, 100):
        assert f'<option value="{size}"' in html


async def test_the_traders_pages_do_not_carry_the_admin_words(client: TestClient) -> None:
    html = await (await client.get("/app/history", params={"lang": "en"})).text()
    assert not any(key.startswith("admin.") for key in page_config(html)["texts"])
    assert "/app/admin" not in html


async def test_the_admin_words_are_russian_in_russian(i18n: Catalog) -> None:
    english, russian = i18n.translator("en"), i18n.translator("ru")
    keys = [key for key in i18n.keys("en") if key.startswith("app.admin.")]
    assert len(keys) > 50
    for key in keys:
        if key == "app.admin.user.id":  # "Telegram id" in both
            continue
        assert re.search("[а-яё]", russian(key), re.I), (key, russian(key))
        assert russian(key) != english(key), key


@pytest.mark.parametrize("name", [name for name, _ in ADMIN_PAGES])
async def test_an_admin_script_is_whitelisted_and_builds_without_html(
        client: TestClient, name: str) -> None:
    assert name in PAGE_SCRIPTS
    response = await client.get(f"/static/pages/{name}.js")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    source = await response.text()
    assert source == page_script(name)
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                   ".style.", "toFixed", "toLocaleString", "Intl."):
        assert unsafe not in source, (name, unsafe)  # no HTML parsing, no number formatting
    assert len(source.splitlines()) <= 400


@pytest.mark.parametrize("path", ["/static/pages/admin.js", "/static/pages/ADMIN_USERS.js",
                                  "/static/pages/admin_users.css", "/static/pages/admin_user"])
async def test_no_other_admin_script_is_served(client: TestClient, path: str) -> None:
    assert (await client.get(path)).status == 404


async def test_the_directory_without_its_slash_is_sent_to_it(client: TestClient) -> None:
    response = await client.get("/app/admin?lang=ru&q=x", allow_redirects=False)
    assert response.status == 301
    assert response.headers["Location"] == "/app/admin/?lang=ru&q=x"


def test_the_css_has_its_admin_section_last() -> None:
    css = (STATIC_DIR / "app.css").read_text()
    assert css.index("/* Admin") > css.index("/* The bottom bar. */")


# --- in the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
async def site(orm: str, redis: Any, services: Services, i18n: Catalog) -> AsyncIterator[str]:
    chromium_or_skip()
    async with serve(build_app(services, i18n, redis, f"test-{RUN_ID}-admin-browser")) as url:
        yield url


async def _named(user_id: int, name: str, username: str | None = None, **fields: Any) -> None:
    await User.filter(id=user_id).update(first_name=name, username=username, **fields)


async def _people() -> dict[str, int]:
    """An admin, three traders with money (different amounts), a banned one, and ten more
    without: fifteen in all."""
    people = {"admin": await staff(Role.ADMIN)}
    await _named(people["admin"], "Ada Admin", "ada_admin")
    for name, amount in (("rich", "900"), ("middle", "250.5"), ("poor", "30")):
        people[name], _ = await funded_trader(D(amount))
        await _named(people[name], f"Trader {name.title()}", f"trader_{name}",
                     signup_source=SignupSource.INFLUENCER)
    people["banned"], _ = await make_trader("binance")
    await _named(people["banned"], "Boris Banned", "boris_b", is_banned=True)
    for n in range(10):
        people[f"plain{n}"], _ = await make_trader("binance")
        await _named(people[f"plain{n}"], f"Plain {n:02}")
    return people


def _rows(page: Page) -> Any:
    return page.get_by_test_id("admin-user-row")


async def _row_ids(page: Page) -> list[int]:
    ids = await _rows(page).evaluate_all("(rows) => rows.map((row) => row.dataset.id)")
    return [int(i) for i in ids]


async def _api(site: str, user_id: int, path: str, lang: str = "en") -> tuple[int, Any]:
    async with ClientSession() as session, session.get(
            f"{site}{path}", headers=auth(user_id, language=lang)) as response:
        return response.status, await response.json()


async def test_an_admin_finds_filters_sorts_and_pages_the_users(
        db: str, browser: Browser, site: str) -> None:
    people = await _people()
    admin = people["admin"]
    async with app_page(browser, site, "/app/admin/?lang=en", user_id=admin) as page:
        await expect(_rows(page)).to_have_count(15)
        await expect(page.get_by_test_id("admin-page-info")).to_have_text("Page 1 of 1")
        await expect(page.get_by_test_id("notice")).to_be_hidden()
        row = page.locator(f'[data-testid="admin-user-row"][data-id="{people["rich"]}"]')
        _, answer = await _api(site, admin, f"/api/admin/users/{people['rich']}")
        await expect(row.get_by_test_id("admin-user-available")).to_have_text(
            answer["balance"]["available"]["text"])
        await expect(row).to_contain_text("@trader_rich")

        # State: banned.
        await page.get_by_test_id("admin-state").select_option("banned")
        await expect(_rows(page)).to_have_count(1)
        assert await _row_ids(page) == [people["banned"]]
        await expect(_rows(page).first).to_contain_text("Banned")
        assert "state=banned" in page.url
        # Kept in the address: a reload shows the same.
        await page.reload()
        await expect(_rows(page)).to_have_count(1)
        await expect(page.get_by_test_id("admin-state")).to_have_value("banned")
        await page.get_by_test_id("admin-state").select_option("")

        # A search by @username, then by name; the source filter.
        await page.get_by_test_id("admin-q").fill("@trader_middle")
        await page.get_by_test_id("admin-apply").click()
        await expect(_rows(page)).to_have_count(1)
        assert await _row_ids(page) == [people["middle"]]
        await page.get_by_test_id("admin-q").fill("")
        await page.get_by_test_id("admin-q").press("Enter")
        await expect(_rows(page)).to_have_count(15)
        await page.get_by_test_id("admin-q").fill(str(people["poor"]))  # a Telegram id
        await page.get_by_test_id("admin-q").press("Enter")
        await expect(_rows(page)).to_have_count(1)
        assert await _row_ids(page) == [people["poor"]]
        await page.get_by_test_id("admin-q").fill("")
        await page.get_by_test_id("admin-exchange").select_option("okx")
        await expect(_rows(page)).to_have_count(3)
        assert "exchange=okx" in page.url
        await page.get_by_test_id("admin-exchange").select_option("")
        await expect(_rows(page)).to_have_count(15)
        await page.get_by_test_id("admin-source").select_option("influencer")
        await expect(_rows(page)).to_have_count(3)
        await page.get_by_test_id("admin-has-balance").select_option("yes")
        await expect(_rows(page)).to_have_count(3)

        # Sorted by balance: the largest first.
        await page.get_by_test_id("admin-sort").select_option("balance")
        await expect(_rows(page).first).to_have_attribute("data-id", str(people["rich"]))
        assert await _row_ids(page) == [people["rich"], people["middle"], people["poor"]]
        assert "sort=balance" in page.url

        # Pages of ten, and "go to page".
        await page.get_by_test_id("admin-source").select_option("")
        await page.get_by_test_id("admin-has-balance").select_option("")
        await expect(_rows(page)).to_have_count(15)
        await page.get_by_test_id("admin-page-size").select_option("10")
        await expect(_rows(page)).to_have_count(10)
        await expect(page.get_by_test_id("admin-page-info")).to_have_text("Page 1 of 2")
        first_page = await _row_ids(page)
        await page.get_by_test_id("admin-page-next").click()
        await expect(page.get_by_test_id("admin-page-info")).to_have_text("Page 2 of 2")
        await expect(_rows(page)).to_have_count(5)
        second_page = await _row_ids(page)
        assert set(first_page) | set(second_page) == set(people.values())
        assert "page=2" in page.url and "page_size=10" in page.url
        await page.get_by_test_id("admin-page-input").fill("3")
        await page.get_by_test_id("admin-page-go").click()
        await expect(page.get_by_test_id("admin-goto-error")).to_be_visible()
        await page.get_by_test_id("admin-page-input").fill("1")
        await page.get_by_test_id("admin-page-go").click()
        await expect(page.get_by_test_id("admin-page-info")).to_have_text("Page 1 of 2")
        assert await _row_ids(page) == first_page

        # A row leads to the user's page, and its link back to the directory as it was.
        target = first_page[0]
        await page.get_by_test_id(f"admin-user-{target}").click()
        await page.wait_for_url(re.compile(rf"/app/admin/user\?(.*&)?id={target}\b"))
        await expect(page.get_by_test_id("user-id")).to_have_text(str(target))
        back = await page.get_by_test_id("admin-back").get_attribute("href")
        assert back and back.startswith("/app/admin/?") and "page_size=10" in back, back


async def test_a_filter_the_api_refuses_is_said_under_the_filters(
        db: str, browser: Browser, site: str) -> None:
    people = await _people()
    status, answer = await _api(site, people["admin"], "/api/admin/users?exchange=nowhere")
    assert status == 400, answer
    async with app_page(browser, site, "/app/admin/?exchange=nowhere&sort=bogus&lang=en",
                        user_id=people["admin"]) as page:
        await expect(page.get_by_test_id("admin-filter-error")).to_have_text(
            answer["error"]["message"])
        await expect(page.get_by_test_id("admin-sort")).to_have_value("newest")
        await page.get_by_test_id("admin-exchange").select_option("")
        await expect(_rows(page)).to_have_count(15)
        await expect(page.get_by_test_id("admin-filter-error")).to_be_hidden()
        assert "exchange=" not in page.url and "sort=" not in page.url


async def test_a_users_page_shows_the_ledgers_postings_and_ban_works(
        db: str, browser: Browser, site: str, services: Services) -> None:
    people = await _people()
    admin, rich = people["admin"], people["rich"]
    operations = await UserDirectory().operations(rich)
    assert operations and all(len(op.postings) >= 2 for op in operations)
    _, answer = await _api(site, admin, f"/api/admin/users/{rich}")
    async with app_page(browser, site, f"/app/admin/user?id={rich}&lang=en",
                        user_id=admin) as page:
        await expect(page.get_by_test_id("user-name")).to_have_text("Trader Rich")
        await expect(page.get_by_test_id("user-username")).to_have_text("@trader_rich")
        await expect(page.get_by_test_id("user-banned")).to_have_text("Active")
        for name in ("available", "held", "paid_out", "total_earned"):
            await expect(page.get_by_test_id(f"admin-balance-{name}")).to_have_text(
                answer["balance"][name]["text"])
        await expect(page.get_by_test_id("admin-account")).to_have_count(len(answer["accounts"]))
        # Each ledger entry that moved the money, with every posting: account → amount.
        for op, shown in zip(operations, answer["operations"], strict=True):
            table = page.get_by_test_id(f"operation-{op.id}")
            await expect(table).to_be_visible()
            postings = table.get_by_test_id("posting")
            await expect(postings).to_have_count(len(op.postings))
            for n, posting in enumerate(op.postings):
                await expect(postings.nth(n)).to_have_attribute("data-account", posting.account)
                await expect(postings.nth(n).locator("td.num")).to_have_text(
                    shown["postings"][n]["amount"]["text"])
        assert any(p.account == f"trader_available:{rich}" for op in operations
                   for p in op.postings)

        # Ban: asked through Telegram, done, drawn again from the answer.
        await expect(page.get_by_test_id("admin-unban")).to_be_hidden()
        await page.get_by_test_id("admin-ban").click()
        await expect(page.get_by_test_id("user-banned")).to_have_text("Banned")
        await expect(page.get_by_test_id("admin-action-message")).to_have_text("Banned.")
        confirms = await telegram_calls(page, "showConfirm")
        assert len(confirms) == 1 and "Trader Rich" in confirms[0]["args"][0], confirms
        assert (await User.get(id=rich)).is_banned
        await expect(page.get_by_test_id("admin-ban")).to_be_hidden()
        await expect(page.get_by_test_id("admin-unban")).to_be_visible()

        # Declined in the popup: nothing is sent.
        await page.evaluate("() => { window.__tgConfirmAnswer = false; }")
        await page.get_by_test_id("admin-unban").click()
        await page.wait_for_function(
            "() => window.__tgCalls.filter((c) => c.name === 'showConfirm').length === 2")
        await settle(page)
        await expect(page.get_by_test_id("user-banned")).to_have_text("Banned")
        assert (await User.get(id=rich)).is_banned

        # The role: a select and "Change role".
        await page.evaluate("() => { window.__tgConfirmAnswer = true; }")
        await expect(page.get_by_test_id("admin-role-apply")).to_be_disabled()
        await page.get_by_test_id("admin-role-select").select_option("viewer")
        await page.get_by_test_id("admin-role-apply").click()
        await expect(page.get_by_test_id("user-role")).not_to_have_text(
            answer["user"]["role_text"])
        assert (await User.get(id=rich)).role == Role.VIEWER


async def test_a_refused_action_shows_the_apis_message(
        db: str, browser: Browser, site: str, i18n: Catalog) -> None:
    """Banned meanwhile (by another operator): Ban is refused (409), its message is shown,
    the page stays as it was; on reload it offers Unban. On oneself nothing is offered."""
    people = await _people()
    admin, middle = people["admin"], people["middle"]
    async with app_page(browser, site, f"/app/admin/user?id={middle}&lang=en",
                        user_id=admin) as page:
        await expect(page.get_by_test_id("admin-ban")).to_be_visible()
        await User.filter(id=middle).update(is_banned=True)
        await page.get_by_test_id("admin-ban").click()
        await expect(page.get_by_test_id("notice")).to_have_text(
            i18n.translator("en")("admin.staff.refused.unchanged"))
        await expect(page.get_by_test_id("admin-action-message")).to_be_hidden()
        await visit(page, site, f"/app/admin/user?id={middle}&lang=en")
        await expect(page.get_by_test_id("admin-unban")).to_be_visible()
        await expect(page.get_by_test_id("user-banned")).to_have_text("Banned")

        await visit(page, site, f"/app/admin/user?id={admin}&lang=en")
        await expect(page.get_by_test_id("user-name")).to_have_text("Ada Admin")
        await expect(page.get_by_test_id("admin-actions")).to_be_hidden()

        await visit(page, site, "/app/admin/user?lang=en")  # no id
        await expect(page.get_by_test_id("notice")).to_contain_text(
            i18n.translator("en")("app.admin.user.no_id"))


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_a_trader_is_shown_the_apis_refusal(db: str, browser: Browser, site: str,
                                                  lang: str) -> None:
    people = await _people()
    trader = people["poor"]
    await set_locale(trader, lang)
    status, answer = await _api(site, trader, "/api/admin/users", lang)
    assert status == 403, answer
    message = answer["error"]["message"]
    if lang == "ru":
        assert re.search("[а-яё]", message, re.I), message
    async with app_page(browser, site, f"/app/admin/?lang={lang}", user_id=trader,
                        lang=lang) as page:
        await expect(page.get_by_test_id("notice")).to_have_text(message)
        await expect(_rows(page)).to_have_count(0)
    status, answer = await _api(site, trader, f"/api/admin/users/{people['rich']}", lang)
    assert status == 403
    async with app_page(browser, site, f"/app/admin/user?id={people['rich']}&lang={lang}",
                        user_id=trader, lang=lang) as page:
        await expect(page.get_by_test_id("notice")).to_have_text(answer["error"]["message"])
        await expect(page.get_by_test_id("admin-actions")).to_be_hidden()
        await expect(page.get_by_test_id("admin-balance-available")).to_have_text("—")


async def test_the_admin_pages_fit_360_px(db: str, browser: Browser, site: str) -> None:
    people = await _people()
    admin = people["admin"]
    shots = output_dir("miniapp")
    problems = []
    for lang in ("en", "ru"):
        await set_locale(admin, lang)
        async with phone(browser, user_id=admin, lang=lang) as page:
            for name, path in (("users", f"/app/admin/?lang={lang}"),
                               ("user", f"/app/admin/user?id={people['rich']}&lang={lang}")):
                await visit(page, site, path)
                await expect(page.get_by_test_id("notice")).to_be_hidden()
                shot = shots / f"admin-{name}{'' if lang == 'en' else '-' + lang}-360px.png"
                await page.screenshot(path=str(shot), full_page=True)
                overflow = await page.evaluate(OVERFLOW_JS)
                if overflow["scrollWidth"] > PHONE["width"] or overflow["wide"]:
                    problems.append(f"{name} ({lang}) is wider than 360 px ({shot}): {overflow}")
            # The directory's rows are stacked: the name across the row, no table head.
            await visit(page, site, f"/app/admin/?lang={lang}")
            row = _rows(page).first
            widths = await row.evaluate(
                "(row) => [row.getBoundingClientRect().width,"
                " row.querySelector('td').getBoundingClientRect().width,"
                " document.querySelector('#admin-users thead').getBoundingClientRect().right]")
            assert widths[1] >= widths[0] - 32 and widths[2] <= 0, widths
    assert not problems, "\n".join(problems)
