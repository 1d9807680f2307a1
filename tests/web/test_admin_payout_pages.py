"""The payout queue, the payout networks and limits, and the audit log pages in Chromium (the
real services, Telegram stubbed as in test_miniapp_browser.py): finance approves and rejects
through Telegram's confirmation and sees the service's own words for a refusal; an admin
changes a network's limits (a bad one is said under its form, a finance person only reads);
the audit log filters and pages; all three fit 360 px in English and Russian (screenshots under
test-output/miniapp/admin-*.png)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Browser, expect

from services.i18n import Catalog
from services.models import AuditEntry, PayoutNetwork, Role, User, Withdrawal, WithdrawalStatus
from services.payouts.settings_admin import PayoutSettingsAdmin
from tests.payouts.helpers import staff
from tests.support.browser import OVERFLOW_JS
from tests.support.miniapp import output_dir, settle, telegram_calls
from tests.web.conftest import api_get
from tests.web.test_api_admin_payouts import pending
from tests.web.test_miniapp_browser import PHONE, app_page, phone, set_locale, visit

D = Decimal


@pytest.fixture(scope="module")
def browser(admin_browser: Browser) -> Browser:
    return admin_browser


@pytest.fixture(scope="module")
def site(admin_site: str) -> str:
    return admin_site


async def _finance(name: str = "Fiona") -> int:
    user_id = await staff()
    await User.filter(id=user_id).update(first_name=name, username=name.lower())
    return user_id


async def test_finance_approves_and_rejects_and_sees_a_refusal(
        db: str, browser: Browser, site: str, i18n: Catalog) -> None:
    first, second, third = (await pending(D("800"), onchain=True), await pending(D("900")),
                            await pending(D("700")))
    finance = await _finance()
    _, queue = await api_get(site, finance, "/api/admin/payouts/queue")
    async with app_page(browser, site, "/app/admin/payouts?lang=en", user_id=finance) as page:
        await expect(page.locator('[data-testid^="payout-"][data-id]')).to_have_count(3)
        one = page.get_by_test_id(f"payout-{first}")
        item = next(i for i in queue["items"] if i["id"] == first)
        await expect(one.get_by_test_id("payout-amount")).to_have_text(
            f"{item['amount']['text']} USDT")
        await expect(one.get_by_test_id("payout-net")).to_have_text(item["net"]["text"])
        await expect(one.get_by_test_id("payout-destination")).to_have_text(
            item["destination_text"])
        await expect(one.get_by_test_id("payout-history")).to_have_text(
            item["trader"]["history_text"])
        await expect(one.get_by_test_id("payout-flags")).to_contain_text("new address")

        # Approve: asked through Telegram, done, the card drawn again from the answer.
        await one.get_by_test_id("payout-approve").click()
        await expect(page.get_by_test_id("payout-message")).to_have_text(
            f"Approved #{first}: it is being sent.")
        await expect(one.get_by_test_id("payout-status")).to_have_text("approved, being sent")
        await expect(one.get_by_test_id("payout-approve")).to_have_count(0)
        confirms = await telegram_calls(page, "showConfirm")
        assert len(confirms) == 1 and f"#{first}" in confirms[0]["args"][0]
        assert (await Withdrawal.get(id=first)).status is WithdrawalStatus.APPROVED

        # Reject: the reason first (the trader reads it), then the popup.
        two = page.get_by_test_id(f"payout-{second}")
        await two.get_by_test_id("payout-reject").click()
        await two.get_by_test_id("payout-reject-send").click()
        await expect(two.get_by_test_id("payout-reject-form").get_by_test_id(
            "payout-words-error")).to_be_visible()
        await two.get_by_test_id("payout-reason").fill("The address belongs to a mixer")
        await two.get_by_test_id("payout-reject-send").click()
        await expect(two.get_by_test_id("payout-status")).to_have_text("❌ rejected")
        await expect(two.get_by_test_id("payout-why")).to_have_text(
            "The address belongs to a mixer")
        rejected = await Withdrawal.get(id=second)
        assert (rejected.status, rejected.reason) == (WithdrawalStatus.REJECTED,
                                                      "The address belongs to a mixer")

        # Changed meanwhile (another revision): refused with the service's words, reloaded.
        await Withdrawal.filter(id=third).update(revision=2)
        await page.get_by_test_id(f"payout-{third}").get_by_test_id("payout-approve").click()
        stale = i18n.translator("en")("app.admin.payouts.decision.stale", id=third)
        await expect(page.get_by_test_id("payout-message")).to_have_text(stale)
        await expect(page.get_by_test_id(f"payout-{third}")).to_have_attribute(
            "data-revision", "2")
        assert (await Withdrawal.get(id=third)).status is WithdrawalStatus.AWAITING_APPROVAL

        # Declined in the popup: nothing is sent.
        await page.evaluate("() => { window.__tgConfirmAnswer = false; }")
        await page.get_by_test_id(f"payout-{third}").get_by_test_id("payout-approve").click()
        await page.wait_for_function(
            "() => window.__tgCalls.filter((c) => c.name === 'showConfirm').length === 4")
        await settle(page)
        assert (await Withdrawal.get(id=third)).status is WithdrawalStatus.AWAITING_APPROVAL


async def test_an_admin_changes_a_networks_limits_and_finance_only_reads(
        db: str, browser: Browser, site: str) -> None:
    admin, finance = await staff(Role.ADMIN), await _finance()
    async with app_page(browser, site, "/app/admin/payout-settings?lang=en",
                        user_id=admin) as page:
        form = page.get_by_test_id("network-USDT-TRC20")
        await expect(form.get_by_test_id("network-USDT-TRC20-min_amount")).to_have_value("10")
        await expect(form.get_by_test_id("network-USDT-TRC20-min_amount-now")).to_have_text(
            "now 10.00")
        # Above the maximum: refused, said under the form, nothing changed.
        await form.get_by_test_id("network-USDT-TRC20-min_amount").fill("20000")
        await form.get_by_test_id("network-USDT-TRC20-save").click()
        await expect(form.get_by_test_id("network-USDT-TRC20-error")).to_have_text(
            "The minimum cannot be above the maximum.")
        await expect(form.get_by_test_id("network-USDT-TRC20-min_amount")).to_have_attribute(
            "aria-invalid", "true")
        assert (await PayoutNetwork.get(id="USDT-TRC20")).min_amount == D(10)
        await form.get_by_test_id("network-USDT-TRC20-min_amount").fill("25.5")
        await form.get_by_test_id("network-USDT-TRC20-fee_percent").fill("0.002")
        await form.get_by_test_id("network-USDT-TRC20-save").click()
        await expect(page.get_by_test_id("settings-message")).to_have_text(
            "Saved: USDT · Tron (TRC20). New quotes and requests follow it.")
        await expect(page.get_by_test_id("network-USDT-TRC20-min_amount-now")).to_have_text(
            "now 25.50")
        await expect(page.get_by_test_id("network-USDT-TRC20-fee_percent-now")).to_have_text(
            "now 0.2%")
        confirms = await telegram_calls(page, "showConfirm")
        assert len(confirms) == 2 and "USDT · Tron (TRC20)" in confirms[-1]["args"][0]
        row = await PayoutNetwork.get(id="USDT-TRC20")
        assert (row.min_amount, row.fee_percent) == (D("25.5"), D("0.002"))
        [entry] = await AuditEntry.filter(action="payout.network_change")
        assert entry.actor_id == admin

        # The payout-wide settings.
        await page.get_by_test_id("settings-approval_threshold").fill("300")
        await page.get_by_test_id("settings-save").click()
        await expect(page.get_by_test_id("settings-message")).to_have_text(
            "Saved. New requests follow it.")
        await expect(page.get_by_test_id("settings-approval_threshold-now")).to_have_text(
            "now 300.00")

    async with app_page(browser, site, "/app/admin/payout-settings?lang=en",
                        user_id=finance) as page:
        await expect(page.get_by_test_id("settings-readonly")).to_be_visible()
        await expect(page.get_by_test_id("network-USDT-TRC20-min_amount")).to_be_disabled()
        await expect(page.get_by_test_id("network-USDT-TRC20-save")).to_have_count(0)


async def test_the_audit_log_filters_pages_and_shows_the_chain(
        db: str, browser: Browser, site: str) -> None:
    admin = await staff(Role.ADMIN)
    await pending(D("800"))  # the request's own audit row
    for n in range(3):  # three payout changes
        await PayoutSettingsAdmin().change_settings(admin, {"address_cooldown_hours": 30 + n})
    _, everything = await api_get(site, admin, "/api/admin/audit")
    async with app_page(browser, site, "/app/admin/audit?lang=en", user_id=admin) as page:
        await expect(page.get_by_test_id("audit-chain-state")).to_have_text(
            "The hash chain checked out")
        await expect(page.get_by_test_id("audit-entry")).to_have_count(everything["total"])
        await expect(page.get_by_test_id("audit-total")).to_have_text(
            f"Entries: {everything['total']}")
        # Filtered by an action's start; kept in the address.
        await page.locator("#audit-action").fill("payout.")
        await page.get_by_test_id("audit-apply").click()
        await expect(page.get_by_test_id("audit-entry")).to_have_count(3)
        assert "action=payout." in page.url
        entry = page.get_by_test_id("audit-entry").first
        await entry.get_by_test_id("audit-after").locator("summary").click()
        await expect(entry.get_by_test_id("audit-after")).to_contain_text(
            '"address_cooldown_hours": 32')
        # Pages of 25 of the whole log are one page; an actor's rows by clicking the actor.
        await page.locator("#audit-action").fill("")
        await entry.get_by_test_id("audit-by-actor").click()
        await expect(page.get_by_test_id("audit-entry")).to_have_count(3)
        await expect(page.get_by_test_id("audit-page-info")).to_have_text("Page 1 of 1")
        # A filter the API refuses: said under the filters.
        await page.locator("#audit-actor").fill("somebody")
        await page.get_by_test_id("audit-apply").click()
        await expect(page.get_by_test_id("audit-filter-error")).to_be_visible()
        await expect(page.locator("#audit-actor")).to_have_attribute("aria-invalid", "true")


async def test_the_payout_pages_fit_360_px(db: str, browser: Browser, site: str) -> None:
    for _ in range(2):
        await pending(D("6000"), onchain=True)
    admin = await staff(Role.ADMIN)
    await User.filter(id=admin).update(first_name="Ada")
    shots = output_dir("miniapp")
    problems = []
    for lang in ("en", "ru"):
        await set_locale(admin, lang)
        async with phone(browser, user_id=admin, lang=lang) as page:
            for name, path in (("payouts", "/app/admin/payouts"),
                               ("payout-settings", "/app/admin/payout-settings"),
                               ("audit", "/app/admin/audit")):
                await visit(page, site, f"{path}?lang={lang}")
                await expect(page.get_by_test_id("notice")).to_be_hidden()
                shot = shots / f"admin-{name}{'' if lang == 'en' else '-' + lang}-360px.png"
                await page.screenshot(path=str(shot), full_page=True)
                overflow = await page.evaluate(OVERFLOW_JS)
                if overflow["scrollWidth"] > PHONE["width"] or overflow["wide"]:
                    problems.append(f"{name} ({lang}) is wider than 360 px ({shot}): {overflow}")
    assert not problems, "\n".join(problems)


async def test_paid_by_hand_needs_a_real_hash_said_under_the_field(
        db: str, browser: Browser, site: str, i18n: Catalog) -> None:
    refused = await pending(D("800"))
    await Withdrawal.filter(id=refused).update(status=WithdrawalStatus.ERROR,
                                               reason="Insufficient balance")
    finance = await _finance()
    async with app_page(browser, site, "/app/admin/payouts?lang=en", user_id=finance) as page:
        card = page.get_by_test_id(f"payout-{refused}")
        await expect(card.get_by_test_id("payout-why")).to_have_text("Insufficient balance")
        await expect(card.get_by_test_id("payout-approve")).to_have_count(0)
        await card.get_by_test_id("payout-paid").click()
        await card.get_by_test_id("payout-tx_hash").fill("not a hash")
        await card.get_by_test_id("payout-paid-send").click()
        await expect(card.get_by_test_id("payout-paid-form").get_by_test_id(
            "payout-words-error")).to_have_text(
            i18n.translator("en")("app.admin.payouts.decision.no_tx_hash"))
        await expect(card.get_by_test_id("payout-tx_hash")).to_have_attribute(
            "aria-invalid", "true")
        assert (await Withdrawal.get(id=refused)).status is WithdrawalStatus.ERROR
        await card.get_by_test_id("payout-tx_hash").fill("TRANSFER880011")
        await card.get_by_test_id("payout-paid-send").click()
        await expect(card.get_by_test_id("payout-status")).to_have_text("✅ completed")
        await expect(page.get_by_test_id("payout-message")).to_have_text(
            f"#{refused} is recorded as paid by hand.")
        done = await Withdrawal.get(id=refused)
        assert (done.status, done.tx_hash, done.paid_manually) == (
            WithdrawalStatus.COMPLETED, "TRANSFER880011", True)
