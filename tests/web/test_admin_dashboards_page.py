"""The dashboards page of the admin screens (/app/admin/dashboards) in Chromium: the figures
are the API's words, the tabs and the period are kept in the address, the payout dashboard is
refused to a viewer with the API's message, and every tab fits 360 px in both languages
(screenshots under test-output/miniapp/admin-dashboards-*.png)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.async_api import Browser, expect

from services.models import Role
from services.rebates import RebateEngine
from tests.clock import today
from tests.ledger.helpers import make_trader, put_record
from tests.payouts.helpers import staff
from tests.support.browser import OVERFLOW_JS
from tests.support.miniapp import output_dir
from tests.web.conftest import api_get
from tests.web.test_miniapp_browser import PHONE, app_page, phone, set_locale, visit

D = Decimal


@pytest.fixture(scope="module")
def browser(admin_browser: Browser) -> Browser:
    return admin_browser


@pytest.fixture(scope="module")
def site(admin_site: str) -> str:
    return admin_site


async def _earnings() -> None:
    for exchange_id, volume in (("okx", "12000"), ("bybit", "3000.5")):
        _, uid = await make_trader(exchange_id)
        await put_record(exchange_id, uid, today() - timedelta(days=1), commission=D("7.25"),
                         volume=D(volume), fee=D(3))
    await RebateEngine().accrue_all()


async def test_an_admin_reads_the_three_dashboards(db: str, browser: Browser, site: str) -> None:
    await _earnings()
    admin = await staff(Role.ADMIN)
    _, executive = await api_get(site, admin, "/api/admin/dashboards/executive?period=7d")
    async with app_page(browser, site, "/app/admin/dashboards?tab=executive&period=7d",
                        user_id=admin) as page:
        await expect(page.get_by_test_id("kpi-volume-value")).to_have_text(
            executive["volume"]["value"]["text"])
        await expect(page.get_by_test_id("kpi-revenue-value")).to_have_text(
            executive["revenue"]["value"]["text"])
        await expect(page.get_by_test_id("by-exchange-row")).to_have_count(2)
        await expect(page.get_by_test_id("period-7d")).to_have_attribute("aria-pressed", "true")

        await page.get_by_test_id("tab-product").click()
        await expect(page).to_have_url(re.compile(r"tab=product&period=30d"))
        _, product = await api_get(site, admin, "/api/admin/dashboards/product")
        await expect(page.get_by_test_id("kpi-new_traders-value")).to_have_text(
            product["new_traders"]["value"]["text"])
        await expect(page.get_by_test_id("funnel-row")).to_have_count(4)
        await expect(page.get_by_test_id("cohorts-row")).to_have_count(4)

        await page.get_by_test_id("tab-exchanges").click()
        _, exchanges = await api_get(site, admin, "/api/admin/dashboards/exchanges")
        await expect(page.get_by_test_id("exchange-card")).to_have_count(
            len(exchanges["exchanges"]))
        okx = page.locator('[data-testid="exchange-card"][data-id="okx"]')
        okx_line = next(x for x in exchanges["exchanges"] if x["id"] == "okx")
        await expect(okx.get_by_test_id("kpi-volume-value")).to_have_text(
            okx_line["volume"]["text"])
        await expect(okx.get_by_test_id("exchange-status")).to_have_text(okx_line["status_text"])

        await page.get_by_test_id("tab-payouts").click()
        await expect(page.get_by_test_id("kpi-pending-value")).to_have_text("0")
        await expect(page.get_by_test_id("ways-empty")).to_be_visible()
        await page.get_by_test_id("period-90d").click()
        await expect(page).to_have_url(re.compile(r"tab=payouts&period=90d"))
        await expect(page.get_by_test_id("board-range")).to_contain_text(
            (today() - timedelta(days=89)).isoformat())


async def test_a_viewer_is_refused_the_payout_dashboard(db: str, browser: Browser,
                                                        site: str) -> None:
    viewer = await staff(Role.VIEWER)
    status, answer = await api_get(site, viewer, "/api/admin/dashboards/payouts")
    assert status == 403
    async with app_page(browser, site, "/app/admin/dashboards?tab=payouts",
                        user_id=viewer) as page:
        await expect(page.get_by_test_id("notice")).to_have_text(answer["error"]["message"])
        await expect(page.get_by_test_id("kpi-pending")).to_have_count(0)
        await page.get_by_test_id("tab-executive").click()  # one a viewer may read
        await expect(page.get_by_test_id("kpi-volume-value")).to_be_visible()
        await expect(page.get_by_test_id("notice")).to_be_hidden()


async def test_every_dashboard_fits_360_px(db: str, browser: Browser, site: str) -> None:
    await _earnings()
    admin = await staff(Role.ADMIN)
    shots = output_dir("miniapp")
    problems = []
    for lang in ("en", "ru"):
        await set_locale(admin, lang)
        async with phone(browser, user_id=admin, lang=lang) as page:
            for tab in ("executive", "product", "exchanges", "payouts"):
                await visit(page, site, f"/app/admin/dashboards?tab={tab}&lang={lang}")
                await expect(page.get_by_test_id("card-headline")).to_be_visible()
                await expect(page.get_by_test_id("notice")).to_be_hidden()
                shot = shots / f"admin-dashboards-{tab}{'' if lang == 'en' else '-' + lang}.png"
                await page.screenshot(path=str(shot), full_page=True)
                overflow = await page.evaluate(OVERFLOW_JS)
                if overflow["scrollWidth"] > PHONE["width"] or overflow["wide"]:
                    problems.append(f"{tab} ({lang}) is wider than 360 px ({shot}): {overflow}")
    assert not problems, "\n".join(problems)


async def test_the_directory_leads_to_every_admin_screen(db: str, browser: Browser,
                                                        site: str) -> None:
    admin = await staff(Role.ADMIN)
    async with app_page(browser, site, "/app/admin/?lang=ru", user_id=admin,
                        lang="ru") as page:
        links = page.get_by_test_id("admin-nav").locator("a")
        await expect(links).to_have_count(5)
        await page.get_by_test_id("admin-nav-dashboards").click()
        await expect(page).to_have_url(re.compile(r"/app/admin/dashboards\?lang=ru"))
        await expect(page.get_by_test_id("kpi-volume-value")).to_be_visible()
