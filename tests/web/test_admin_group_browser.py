"""The rate group on a user's page (/app/admin/user) in Chromium with the real services,
Telegram stubbed (tests/support/miniapp.py): an admin picks a group, confirms it in Telegram's
popup and sees the page drawn again from the answer, and the rebate engine's share for the
trader is the group's; a day before today is refused under the day's field and nothing
changes; a later day is shown as coming; "none" takes the trader out; declined in the popup
nothing is sent; a viewer is not shown the form, and an operator's page has none. Skips only
without chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from services.i18n import Catalog
from services.models import Exchange, Role, User
from services.models.rates import RateGroupMember
from services.rebates import RateService
from tests.payouts.helpers import funded_trader, staff
from tests.support.miniapp import settle, telegram_calls
from tests.web.test_miniapp_browser import app_page, visit

D = Decimal


@pytest.fixture(scope="module")
def browser(admin_browser: Browser) -> Browser:
    return admin_browser


@pytest.fixture(scope="module")
def site(admin_site: str) -> str:
    return admin_site


async def _memberships(user_id: int) -> list[tuple[int | None, Any]]:
    return [(m.group_id, m.valid_from) for m in await RateGroupMember.filter(
        user_id=user_id).order_by("valid_from")]


async def test_an_admin_sets_the_rate_group_on_a_users_page(
        db: str, browser: Browser, site: str, i18n: Catalog) -> None:
    en = i18n.translator("en")
    rates = RateService()
    gold, silver = await rates.create_group("Gold"), await rates.create_group("Silver")
    await rates.set_group_share(gold, D("0.85"), "okx")
    trader, _ = await funded_trader(D(40))
    await User.filter(id=trader).update(first_name="Greta Gold")
    admin = await staff(Role.ADMIN)
    today = datetime.now(UTC).date()
    okx = (await Exchange.get(id="okx")).trader_share
    none = en("app.admin.user.group_none")
    async with app_page(browser, site, f"/app/admin/user?id={trader}&lang=en",
                        user_id=admin) as page:
        box, select = page.get_by_test_id("admin-group"), page.get_by_test_id("admin-group-select")
        save = page.get_by_test_id("admin-group-save")
        await expect(box).to_be_visible()
        await expect(page.get_by_test_id("admin-group-current")).to_have_text(
            en("app.admin.user.group_current", group=none))
        assert await select.locator("option").all_inner_texts() == [none, "Gold", "Silver"]
        await expect(select).to_have_value("")
        await expect(save).to_be_disabled()  # until another group (or a day) is chosen

        # Gold from today: asked through Telegram, saved, drawn again from the answer.
        await select.select_option(label="Gold")
        await save.click()
        await expect(page.get_by_test_id("admin-group-message")).to_have_text(
            en("app.admin.user.group_saved", group="Gold", day="today"))
        confirms = await telegram_calls(page, "showConfirm")
        assert confirms[-1]["args"][0] == (
            "Put Greta Gold in the rate group “Gold” from today?"), confirms
        await expect(page.get_by_test_id("admin-group-current")).to_have_text("Now: Gold")
        await expect(select).to_have_value(str(gold))
        assert await _memberships(trader) == [(gold, today)]
        quote = await rates.quote_share(trader, "okx", today)
        assert (quote.share, quote.source) == (D("0.85"), "group")

        # A day before today: refused under the day, nothing changes.
        await select.select_option(label="Silver")
        await page.get_by_test_id("admin-group-from").fill(
            (today - timedelta(days=1)).isoformat())
        await save.click()
        error = page.get_by_test_id("admin-group-error")
        await expect(error).to_have_text(en("api.error.group.past_day",
                                            today=today.isoformat()))
        await expect(page.get_by_test_id("admin-group-from")).to_have_attribute(
            "aria-invalid", "true")
        await expect(page.get_by_test_id("admin-group-message")).to_be_hidden()
        assert await _memberships(trader) == [(gold, today)]

        # Silver from a later day: today stays Gold, the change is shown as coming.
        later = today + timedelta(days=3)
        await page.get_by_test_id("admin-group-from").fill(later.isoformat())
        await save.click()
        await expect(page.get_by_test_id("admin-group-upcoming")).to_have_text(
            en("app.admin.user.group_upcoming", day=later.isoformat(), group="Silver"))
        await expect(error).to_be_hidden()
        await expect(page.get_by_test_id("admin-group-current")).to_have_text("Now: Gold")
        await expect(page.get_by_test_id("admin-group-from")).to_have_value("")
        assert await _memberships(trader) == [(gold, today), (silver, later)]

        # Declined in the popup: nothing is sent.
        await page.evaluate("() => { window.__tgConfirmAnswer = false; }")
        await select.select_option("")
        await save.click()
        await page.wait_for_function(
            "() => window.__tgCalls.filter((c) => c.name === 'showConfirm').length === 4")
        await settle(page)
        assert await _memberships(trader) == [(gold, today), (silver, later)]

        # "None": out of every group from today; the exchange's share again.
        await page.evaluate("() => { window.__tgConfirmAnswer = true; }")
        await save.click()
        await expect(page.get_by_test_id("admin-group-current")).to_have_text(
            en("app.admin.user.group_current", group=none))
        confirms = await telegram_calls(page, "showConfirm")
        assert confirms[-1]["args"][0] == (
            "Take Greta Gold out of every rate group from today?"), confirms
        assert await _memberships(trader) == [(None, today), (silver, later)]
        quote = await rates.quote_share(trader, "okx", today)
        assert (quote.share, quote.source) == (okx, "exchange")

        # An operator's page: no group to set.
        await visit(page, site, f"/app/admin/user?id={admin}&lang=en")
        await expect(page.get_by_test_id("user-name")).to_have_text(Role.ADMIN.value)
        await expect(page.get_by_test_id("admin-group")).to_be_hidden()


async def test_a_viewer_is_not_shown_the_rate_group_form(
        db: str, browser: Browser, site: str) -> None:
    await RateService().create_group("Gold")
    trader, _ = await funded_trader(D(40))
    viewer = await staff(Role.VIEWER)
    async with app_page(browser, site, f"/app/admin/user?id={trader}&lang=ru",
                        user_id=viewer, lang="ru") as page:
        await expect(page.get_by_test_id("admin-balance-available")).not_to_have_text("—")
        await expect(page.get_by_test_id("admin-group")).to_be_hidden()
        await expect(page.get_by_test_id("notice")).to_be_hidden()
    assert not await RateGroupMember.filter(user_id=trader).exists()
