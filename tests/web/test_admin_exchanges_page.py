"""The admin Exchanges page (/app/admin/exchanges, issue 14) in Chromium on the real services
(Telegram stubbed as in test_miniapp_browser.py): an admin opens an exchange, reads its sync
history in words, saves settings and an API key through Telegram's confirmation (the key never
comes back to the page), sees a refusal's message on the field; a viewer only reads; the page
fits 360 px in English and Russian (screenshots under test-output/miniapp/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from services.i18n import Catalog
from services.models import Exchange, Role, SyncRun, SyncRunStatus, User
from tests.payouts.helpers import staff
from tests.support.browser import OVERFLOW_JS
from tests.support.miniapp import output_dir, settle, telegram_calls
from tests.web.test_miniapp_browser import PHONE, app_page, phone, set_locale, visit

KEY, SECRET = "browser-api-key-LAST", "browser-api-secret-value"


@pytest.fixture(scope="module")
def browser(admin_browser: Browser) -> Browser:
    return admin_browser


@pytest.fixture(scope="module")
def site(admin_site: str) -> str:
    return admin_site


async def _failed_run() -> None:
    await SyncRun.create(exchange_id="okx", trigger="cron", status=SyncRunStatus.FAILED,
                         error_class="auth", error="AuthenticationError: Invalid OK-ACCESS-KEY",
                         finished_at=datetime.now(UTC) - timedelta(minutes=5))


async def _open(page: Page, exchange_id: str) -> Any:
    card = page.get_by_test_id(f"exchange-{exchange_id}")
    await card.get_by_test_id("exchange-open").click()
    await expect(page.get_by_test_id(f"exchange-{exchange_id}").get_by_test_id(
        "exchange-runs").or_(page.get_by_test_id(f"exchange-{exchange_id}").get_by_test_id(
            "exchange-no-runs"))).to_be_visible()
    return page.get_by_test_id(f"exchange-{exchange_id}")


async def test_an_admin_reads_the_history_and_sets_a_key_and_settings(
        db: str, browser: Browser, site: str, i18n: Catalog) -> None:
    admin = await staff(Role.ADMIN)
    await _failed_run()
    t = i18n.translator("en")
    async with app_page(browser, site, "/app/admin/exchanges?lang=en", user_id=admin) as page:
        await expect(page.get_by_test_id("exchange-list").locator("> li")).to_have_count(
            await Exchange.all().count())
        await expect(page.get_by_test_id("exchanges-read-only")).to_be_hidden()
        okx = await _open(page, "okx")
        await expect(okx.get_by_test_id("exchange-status")).to_have_text(
            t("app.admin.exchanges.status.not_configured"))
        await expect(okx.get_by_test_id("run-error-words")).to_have_text(
            t("app.admin.exchanges.error.auth"))
        await expect(okx.get_by_test_id("run-error")).to_contain_text("Invalid OK-ACCESS-KEY")

        # The key: password fields, empty; saved through Telegram's confirmation.
        for testid in ("field-api-key", "field-api-secret", "field-api-password"):
            field = okx.get_by_test_id(testid)
            assert await field.get_attribute("type") == "password"
            await expect(field).to_have_value("")
        expires = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
        await okx.get_by_test_id("field-api-key").fill(KEY)
        await okx.get_by_test_id("field-api-secret").fill(SECRET)
        await okx.get_by_test_id("field-expires").fill(expires)
        await okx.get_by_test_id("credentials-save").click()
        await expect(page.get_by_test_id("exchanges-message")).to_have_text(
            t("app.admin.exchanges.credentials_saved", hint="LAST"))
        okx = page.get_by_test_id("exchange-okx")
        await expect(okx.get_by_test_id("exchange-key")).to_contain_text("…LAST")
        await expect(okx.get_by_test_id("key-expiring")).to_be_visible()
        await expect(okx.get_by_test_id("field-api-key")).to_have_value("")
        confirms = await telegram_calls(page, "showConfirm")
        assert len(confirms) == 1 and "OKX" in confirms[0]["args"][0], confirms
        html = await page.content()
        assert KEY not in html and SECRET not in html

        # Settings: a shorter interval, saved; a bad link refused with the API's words.
        await okx.get_by_test_id("field-interval").fill("30")
        await okx.get_by_test_id("settings-save").click()
        await expect(page.get_by_test_id("exchanges-message")).to_have_text(
            t("app.admin.exchanges.saved"))
        assert (await Exchange.get(id="okx")).sync_interval_minutes == 30
        okx = page.get_by_test_id("exchange-okx")
        await okx.get_by_test_id("field-link").fill("http://www.okx.com/join/{code}")
        await okx.get_by_test_id("settings-save").click()
        await expect(page.get_by_test_id("notice")).to_have_text(
            t("api.error.exchange.bad_link"))
        await expect(okx.get_by_test_id("field-link")).to_have_attribute("aria-invalid", "true")
        assert (await Exchange.get(id="okx")).link_template.startswith("https://")

        # Declined in the popup: nothing is sent.
        await page.evaluate("() => { window.__tgConfirmAnswer = false; }")
        await okx.get_by_test_id("credentials-remove").click()
        await page.wait_for_function(
            "() => window.__tgCalls.filter((c) => c.name === 'showConfirm').length === 4")
        await settle(page)
        await expect(okx.get_by_test_id("exchange-key")).to_contain_text("…LAST")


async def test_a_viewer_only_reads(db: str, browser: Browser, site: str) -> None:
    viewer = await staff(Role.VIEWER)
    await _failed_run()
    async with app_page(browser, site, "/app/admin/exchanges?lang=en", user_id=viewer) as page:
        await expect(page.get_by_test_id("exchanges-read-only")).to_be_visible()
        await expect(page.get_by_test_id("exchanges-rotate")).to_be_hidden()
        okx = await _open(page, "okx")
        await expect(okx.get_by_test_id("exchange-run")).to_have_count(1)
        for form in ("settings-form", "share-form", "credentials-form"):
            await expect(okx.get_by_test_id(form)).to_have_count(0)


async def test_a_trader_is_shown_the_refusal(db: str, browser: Browser, site: str,
                                             i18n: Catalog) -> None:
    trader = await staff(Role.TRADER)
    async with app_page(browser, site, "/app/admin/exchanges?lang=ru", user_id=trader,
                        lang="ru") as page:
        await set_locale(trader, "ru")
        await visit(page, site, "/app/admin/exchanges?lang=ru")
        await expect(page.get_by_test_id("notice")).to_have_text(
            i18n.translator("ru")("admin.staff.refused.not_allowed"))
        await expect(page.get_by_test_id("exchange-list").locator("> li")).to_have_count(0)


async def test_the_page_fits_360_px(db: str, browser: Browser, site: str) -> None:
    admin = await staff(Role.ADMIN)
    await User.filter(id=admin).update(first_name="Ada")
    await _failed_run()
    shots = output_dir("miniapp")
    problems = []
    for lang in ("en", "ru"):
        await set_locale(admin, lang)
        async with phone(browser, user_id=admin, lang=lang) as page:
            await visit(page, site, f"/app/admin/exchanges?lang={lang}")
            await expect(page.get_by_test_id("notice")).to_be_hidden()
            await _open(page, "okx")
            shot = shots / f"admin-exchanges{'' if lang == 'en' else '-' + lang}-360px.png"
            await page.screenshot(path=str(shot), full_page=True)
            overflow = await page.evaluate(OVERFLOW_JS)
            if overflow["scrollWidth"] > PHONE["width"] or overflow["wide"]:
                problems.append(f"exchanges ({lang}) is wider than 360 px ({shot}): {overflow}")
    assert not problems, problems
