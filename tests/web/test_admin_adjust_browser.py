"""The manual adjustment on a user's page (/app/admin/user, its second script admin_adjust.js)
in Chromium with the real services, Telegram stubbed (tests/support/miniapp.py): an admin
credits at or below the threshold through Telegram's confirmation and sees it applied (the
balance and the ledger's operation drawn again), asks for a debit above it and sees it wait;
a refusal is shown under the form; declined in the popup nothing is sent; a second admin
approves it from the list and the balance moves; the requester is offered only Withdraw; a
viewer sees the list without the form. Skips only without chromium."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.async_api import Browser, expect
from tortoise import Tortoise

from bot.app import Services
from services.adjustments import AdjustmentService
from services.formatting import money
from services.i18n import Catalog
from services.models import AdjustmentStatus, LedgerAdjustment, Role, User
from tests.payouts.helpers import funded_trader, staff
from tests.support.browser import OVERFLOW_JS
from tests.support.miniapp import output_dir, settle, telegram_calls
from tests.support.pages import JS_KEY, page_config, pages_client
from tests.web.test_miniapp_browser import PHONE, app_page
from webapp.pages import PAGE_SCRIPTS

D = Decimal


@pytest.fixture(scope="module")
def browser(admin_browser: Browser) -> Browser:
    return admin_browser


@pytest.fixture(scope="module")
def site(admin_site: str) -> str:
    return admin_site


async def available(user_id: int) -> Decimal:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT coalesce(sum(p.amount), 0) AS total FROM ledger_postings p JOIN ledger_accounts "
        "a ON a.id = p.account_id WHERE a.kind = 'trader_available' AND a.owner = $1",
        [str(user_id)])
    return D(rows[0]["total"])


async def test_an_admin_adjusts_and_a_second_admin_approves(
        db: str, browser: Browser, site: str, i18n: Catalog) -> None:
    en = i18n.translator("en")
    trader, _ = await funded_trader(D(60))
    await User.filter(id=trader).update(first_name="Tina Trader")
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    async with app_page(browser, site, f"/app/admin/user?id={trader}&lang=en",
                        user_id=first) as page:
        await expect(page.get_by_test_id("admin-adjust")).to_be_visible()
        await expect(page.get_by_test_id("adjust-none")).to_be_visible()
        await expect(page.get_by_test_id("adjust-threshold")).to_have_text(
            en("app.admin.adjust.threshold", amount=money(D(100))))
        # A credit at the threshold: asked through Telegram, applied, drawn again.
        await page.get_by_test_id("adjust-amount").fill("100")
        await page.get_by_test_id("adjust-reason").fill("Goodwill for the outage")
        await page.get_by_test_id("adjust-document").fill("TCK-42")
        await page.get_by_test_id("adjust-submit").click()
        await expect(page.get_by_test_id("adjust-message")).to_have_text(
            en("app.admin.adjust.done_credit", amount=money(D(100))))
        confirms = await telegram_calls(page, "showConfirm")
        assert confirms[-1]["args"][0] == (
            "Credit 100 USDT to Tina Trader? Reason: Goodwill for the outage")
        assert await available(trader) == D(160)
        await expect(page.get_by_test_id("admin-balance-available")).to_have_text(money(D(160)))
        applied = await LedgerAdjustment.get(user_id=trader)
        item = page.get_by_test_id(f"adjustment-{applied.id}")
        await expect(item).to_have_attribute("data-status", "applied")
        await expect(item.get_by_test_id("adjustment-status")).to_have_text("Applied")
        await expect(page.get_by_test_id(f"operation-{applied.entry_id}")).to_be_visible()
        await expect(page.get_by_test_id("adjust-amount")).to_have_value("")

        # Refused by the server: shown under the form, the field marked, nothing booked.
        await page.get_by_test_id("adjust-direction").select_option("debit")
        await page.get_by_test_id("adjust-amount").fill("1.123456789")
        await page.get_by_test_id("adjust-reason").fill("Typo")
        await page.get_by_test_id("adjust-submit").click()
        await expect(page.get_by_test_id("adjust-error")).to_have_text(
            en("api.error.adjust.too_precise"))
        await expect(page.get_by_test_id("adjust-amount")).to_have_attribute(
            "aria-invalid", "true")

        # Declined in the popup: nothing is sent.
        await page.evaluate("() => { window.__tgConfirmAnswer = false; }")
        await page.get_by_test_id("adjust-amount").fill("150")
        await page.get_by_test_id("adjust-reason").fill("Clawback of a fraudulent rebate")
        await page.get_by_test_id("adjust-submit").click()
        await page.wait_for_function(
            "() => window.__tgCalls.filter((c) => c.name === 'showConfirm').length === 3")
        await settle(page)
        assert await LedgerAdjustment.all().count() == 1

        # Above the threshold: it waits; the requester may only withdraw it.
        await page.evaluate("() => { window.__tgConfirmAnswer = true; }")
        await page.get_by_test_id("adjust-submit").click()
        await expect(page.get_by_test_id("adjust-message")).to_have_text(
            en("app.admin.adjust.awaiting", amount=money(D(150))))
        waiting = await LedgerAdjustment.get(status=AdjustmentStatus.AWAITING_SECOND)
        item = page.get_by_test_id(f"adjustment-{waiting.id}")
        await expect(item.get_by_test_id("adjustment-cancel")).to_be_visible()
        await expect(item.get_by_test_id("adjustment-approve")).to_have_count(0)
        assert await available(trader) == D(160)

    async with app_page(browser, site, f"/app/admin/user?id={trader}&lang=en",
                        user_id=second) as page:
        item = page.get_by_test_id(f"adjustment-{waiting.id}")
        await expect(item.get_by_test_id("adjustment-status")).to_have_text(
            "Waiting for a second admin")
        await item.get_by_test_id("adjustment-approve").click()
        await expect(page.get_by_test_id("adjust-message")).to_have_text(
            "Approved and applied.")
        confirms = await telegram_calls(page, "showConfirm")
        assert confirms[-1]["args"][0] == en("app.admin.adjust.approve_confirm",
                                             direction="Debit", amount=money(D(150)),
                                             name="Tina Trader")
        await expect(item).to_have_attribute("data-status", "applied")
        await expect(page.get_by_test_id("admin-balance-available")).to_have_text(money(D(10)))
        assert await available(trader) == D(10)
        assert (await LedgerAdjustment.get(id=waiting.id)).decided_by == second

    viewer = await staff(Role.VIEWER)
    async with app_page(browser, site, f"/app/admin/user?id={trader}&lang=ru",
                        user_id=viewer, lang="ru") as page:
        await expect(page.get_by_test_id(f"adjustment-{waiting.id}")).to_be_visible()
        await expect(page.get_by_test_id("adjust-submit")).to_be_hidden()
        await expect(page.get_by_test_id("adjustment-approve")).to_have_count(0)


async def test_the_page_without_the_right_shows_no_adjustments(
        db: str, browser: Browser, site: str) -> None:
    trader, _ = await funded_trader(D(60))
    other, _ = await funded_trader(D(10))
    async with app_page(browser, site, f"/app/admin/user?id={other}&lang=en",
                        user_id=trader) as page:
        await expect(page.get_by_test_id("notice")).to_be_visible()
        await expect(page.get_by_test_id("admin-adjust")).to_be_hidden()


async def test_the_directory_shows_the_queue_and_both_pages_fit_360_px(
        db: str, browser: Browser, site: str, services: Services, i18n: Catalog) -> None:
    en = i18n.translator("en")
    trader, _ = await funded_trader(D(60))
    await User.filter(id=trader).update(first_name="Quentin Queue")
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    service = AdjustmentService()
    waiting = (await service.request(first, trader, "credit", "250", "Migration", "M-1",
                                     "queue-key-1")).adjustment
    async with app_page(browser, site, "/app/admin/?lang=en", user_id=second) as page:
        item = page.get_by_test_id(f"adjustment-{waiting.id}")
        await expect(item).to_be_visible()
        link = item.get_by_test_id("adjustment-user")
        await expect(link).to_have_text("Quentin Queue")
        assert await link.get_attribute("href") == f"/app/admin/user?lang=en&id={trader}"
        overflow = await page.evaluate(OVERFLOW_JS)
        assert overflow["scrollWidth"] <= PHONE["width"] and not overflow["wide"], overflow
        await item.get_by_test_id("adjustment-approve").click()
        await expect(page.get_by_test_id("adjust-message")).to_have_text(
            en("app.admin.adjust.approved"))
        await expect(item).to_have_count(0)  # the queue is empty now
        assert await available(trader) == D(310)
    async with app_page(browser, site, f"/app/admin/user?id={trader}&lang=ru",
                        user_id=first, lang="ru") as page:
        await expect(page.get_by_test_id("admin-adjust")).to_be_visible()
        await page.screenshot(path=str(output_dir("miniapp") / "admin-adjust-ru-360px.png"),
                              full_page=True)
        overflow = await page.evaluate(OVERFLOW_JS)
        assert overflow["scrollWidth"] <= PHONE["width"] and not overflow["wide"], overflow
    # With nothing waiting the directory shows no queue at all.
    async with app_page(browser, site, "/app/admin/?lang=en", user_id=second) as page:
        await expect(page.get_by_test_id("admin-user-row").first).to_be_visible()
        await expect(page.get_by_test_id("admin-adjust")).to_be_hidden()


@pytest.mark.parametrize("page, path", [("admin_user", "/app/admin/user"),
                                        ("admin_users", "/app/admin/")])
async def test_both_pages_load_the_script_after_their_own(i18n: Catalog, page: str,
                                                          path: str) -> None:
    """Whitelisted, served as JavaScript, after the page's own script; it builds without HTML,
    formats no number, and every word it names is in the page's configuration."""
    assert "admin_adjust" in PAGE_SCRIPTS
    async with pages_client(i18n) as client:
        html = await (await client.get(path, params={"lang": "ru"})).text()
        tags = re.findall(r'<script src="(/static/[^"]+)" defer></script>', html)
        assert tags[-2:] == [f"/static/pages/{page}.js", "/static/pages/admin_adjust.js"], tags
        response = await client.get("/static/pages/admin_adjust.js")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        source = await response.text()
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                   ".style.", "toFixed", "toLocaleString", "Intl."):
        assert unsafe not in source, unsafe
    assert len(source.splitlines()) <= 400
    texts = page_config(html)["texts"]
    for key, prefix in JS_KEY.findall(source):
        if key:
            assert key in texts, key
        else:
            assert any(k.startswith(prefix) for k in texts), prefix
    for action in ("approve", "reject", "cancel"):
        assert f"admin.adjust.{action}" in texts and f"admin.adjust.{action}_confirm" in texts
