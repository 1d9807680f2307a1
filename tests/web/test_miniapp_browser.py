"""The Mini App's pages in headless Chromium (issue 13, Tests/Browser): the web app served with
the real services on PostgreSQL and Redis, Telegram's ``window.Telegram.WebApp`` stubbed
(tests/support/miniapp.py). The dashboard shows the ledger's numbers in the reader's language,
a withdrawal is placed through the page and Telegram's confirmation (one request, the money
held), the API's refusal is shown under the amount, the dark theme applies, every page fits
360 px, and outside Telegram a page still renders with the way to sign in. Screenshots of each
page, light and dark, are kept under test-output/miniapp/ (or $TEST_OUTPUT_DIR/miniapp/).

One browser for the module, one server for the module (each test has its clean database):
the whole file runs in well under a minute."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, Page, ViewportSize, expect
from tortoise import Tortoise

from bot.app import Services
from services.formatting import money
from services.i18n import Catalog
from services.models import PayoutMethod, Withdrawal
from services.payouts.requests import Destination
from services.rebates import RebateEngine
from tests.conftest import RUN_ID
from tests.ledger.helpers import make_trader, put_record
from tests.payouts.helpers import TRON, funded_trader, ready_address, withdrawals
from tests.support.api_app import auth, build_app, init_data
from tests.support.browser import OVERFLOW_JS, chromium, chromium_or_skip
from tests.support.miniapp import (
    DARK_THEME,
    offline_telegram,
    output_dir,
    serve,
    settle,
    telegram_calls,
    telegram_stub,
    trader,
)
from webapp.pages import PAGES

D = Decimal
SHARE = D("0.6")  # the exchanges' default trader share
PHONE: ViewportSize = {"width": 360, "height": 740}
NETWORK = "USDT-TRC20"
TIMEOUT_MS = 8_000
Scheme = Literal["light", "dark"]


def _cut(value: Decimal) -> Decimal:
    return value.quantize(D("0.00000001"), rounding=ROUND_DOWN)


# --- the server and the browser ------------------------------------------------------------


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
async def site(orm: str, redis: Any, services: Services, i18n: Catalog) -> AsyncIterator[str]:
    """The web app (pages and API) on 127.0.0.1; each test cleans the database with ``db``."""
    chromium_or_skip()  # before anything starts
    # Paying to a trader's own UID at okx and bitget, as a deployment with keys there does.
    services = dataclasses.replace(services, withdrawals=withdrawals())
    async with serve(build_app(services, i18n, redis, f"test-{RUN_ID}-browser")) as url:
        yield url


@contextlib.asynccontextmanager
async def phone(browser: Browser, *, user_id: int | None = None, lang: str = "en",
                scheme: Scheme = "light", theme: dict[str, str] | None = None
                ) -> AsyncIterator[Page]:
    """A phone-sized tab; inside Telegram (the stub) when ``user_id`` is given, else a plain
    browser without a session. A script error on any page it opened fails the test."""
    context = await browser.new_context(viewport=PHONE, color_scheme=scheme, locale=lang)
    try:
        await offline_telegram(context)
        if user_id is not None:
            signed = init_data(user_id, language=lang)
            await context.add_init_script(telegram_stub(signed, trader(user_id, lang),
                                                        scheme=scheme, theme=theme))
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        assert not errors, f"script errors: {errors}"
    finally:
        await context.close()


async def visit(page: Page, site: str, path: str) -> Page:
    await page.goto(f"{site}{path}")
    await settle(page)
    return page


@contextlib.asynccontextmanager
async def app_page(browser: Browser, site: str, path: str, **kwargs: Any) -> AsyncIterator[Page]:
    """One page of the Mini App, opened and settled."""
    async with phone(browser, **kwargs) as page:
        yield await visit(page, site, path)


async def set_locale(user_id: int, locale: str) -> None:
    await Tortoise.get_connection("default").execute_query(
        "UPDATE users SET locale = $2 WHERE id = $1", [user_id, locale])


# --- the dashboard -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_the_dashboard_shows_the_ledgers_numbers(db: str, browser: Browser, site: str,
                                                       lang: str) -> None:
    user_id, uid = await make_trader("okx")
    await set_locale(user_id, lang)
    today = datetime.now(UTC).date()
    # days back → commission: two days in the default 30-day period, one before it.
    booked = {2: D("2500"), 10: D("1250.5"), 45: D("1000.25")}
    for back, commission in booked.items():
        await put_record("okx", uid, today - timedelta(days=back), commission=commission,
                         volume=commission * 1000, fee=commission * 2)
    await RebateEngine().accrue_all()
    rebate_30d = sum((_cut(c * SHARE) for back, c in booked.items() if back < 30), D(0))
    earned = sum((_cut(c * SHARE) for c in booked.values()), D(0))
    assert (rebate_30d, earned) == (D("2250.3"), D("2850.45"))

    async with app_page(browser, site, f"/app/?lang={lang}", user_id=user_id,
                        lang=lang) as page:
        await expect(page.get_by_test_id("total-rebate")).to_have_text(money(rebate_30d, lang))
        await expect(page.get_by_test_id("balance-available")).to_have_text(money(earned, lang))
        await expect(page.get_by_test_id("balance-total_earned")).to_have_text(
            money(earned, lang))
        await expect(page.get_by_test_id("balance-held")).to_have_text(money(D(0), lang))
    if lang == "ru":  # a no-break space groups the thousands, a comma before the cents
        assert money(rebate_30d, lang) == "2\xa0250,30"


# --- a withdrawal ----------------------------------------------------------------------------


async def _choose_onchain(page: Page, address_id: int) -> None:
    await page.get_by_test_id("method-onchain").click()
    await page.get_by_test_id(f"network-{NETWORK}").click()
    await page.get_by_test_id(f"address-{address_id}").click()
    await expect(page.get_by_test_id(f"address-{address_id}")).to_have_attribute(
        "aria-checked", "true")


async def test_a_withdrawal_is_placed_through_the_page(db: str, browser: Browser, site: str,
                                                       services: Services) -> None:
    """Above the approval threshold (500): placed, held, awaiting finance, then cancelled."""
    user_id, _ = await funded_trader(D("900"))
    saved = await ready_address(services.withdrawals, user_id, NETWORK, TRON)
    async with app_page(browser, site, "/app/withdraw?lang=en", user_id=user_id) as page:
        await expect(page.get_by_test_id("withdraw-available")).to_contain_text(
            money(D(900), "en"))
        # A transfer to the verified UID (no network fee) is offered first and chosen.
        await expect(page.get_by_test_id("method-internal")).to_have_attribute(
            "aria-checked", "true")
        await _choose_onchain(page, saved.id)
        await page.get_by_test_id("withdraw-amount").fill("600")
        quote = await _quote(site, user_id, saved.id, "600")
        assert quote["approval_needed"] is True
        await expect(page.get_by_test_id("quote-fee")).to_have_text(
            f"{quote['fee']['text']} USDT")
        await expect(page.get_by_test_id("quote-net")).to_have_text(
            f"{quote['net']['text']} USDT")
        await expect(page.get_by_test_id("quote-arrival")).to_have_text(quote["arrival_text"])
        await expect(page.get_by_test_id("quote-approval")).to_be_visible()
        await page.screenshot(path=str(output_dir("miniapp") / "withdraw-quote-light-360px.png"),
                              full_page=True)
        await expect(page.get_by_test_id("withdraw-submit")).to_have_text("Withdraw")
        main = await telegram_calls(page, "MainButton.setText")
        assert main and main[-1]["args"] == ["Withdraw"], main
        # The primary action is Telegram's MainButton: pressed (twice, quickly), it asks once
        # through showConfirm and makes one request.
        assert await page.evaluate("() => window.__tgPressMain() && window.__tgPressMain()")
        status = page.get_by_test_id("withdraw-status")
        await expect(status).to_be_visible()
        confirms = await telegram_calls(page, "showConfirm")
        assert len(confirms) == 1 and quote["net"]["text"] in confirms[0]["args"][0], confirms

        rows = await Withdrawal.filter(user_id=user_id).all()
        assert len(rows) == 1 and rows[0].amount == D(600), rows
        made = rows[0]
        summary = await services.balances.summary(user_id)
        assert (summary.held, summary.available) == (D(600), D(300))
        listing = await _listing(site, user_id)
        assert [w["id"] for w in listing] == [made.id] and listing[0]["cancellable"]
        await expect(status).to_contain_text(listing[0]["status_text"])
        await expect(status).to_contain_text(f"#{made.id}")
        row = page.get_by_test_id(f"withdrawal-{made.id}")
        await expect(row).to_contain_text(listing[0]["status_text"])
        await expect(row).to_contain_text(f"{listing[0]['amount']['text']} USDT")
        await expect(page.get_by_test_id("withdraw-available")).to_contain_text(
            money(D(300), "en"))
        haptics = await telegram_calls(page, "HapticFeedback.notificationOccurred")
        assert ["success"] in [call["args"] for call in haptics]

        # Awaiting approval: it can be cancelled from its row (asked first), the hold released.
        await page.get_by_test_id(f"cancel-{made.id}").click()
        await expect(row).to_contain_text(_status_text("cancelled"))
        await expect(page.get_by_test_id(f"cancel-{made.id}")).to_have_count(0)
        assert len(await telegram_calls(page, "showConfirm")) == 2
        summary = await services.balances.summary(user_id)
        assert (summary.held, summary.available) == (D(0), D(900))
    assert await Withdrawal.filter(user_id=user_id).count() == 1


async def test_a_retry_after_a_network_failure_reuses_the_idempotency_key(
    db: str, browser: Browser, site: str, services: Services
) -> None:
    user_id, _ = await funded_trader(D("30"))
    saved = await ready_address(services.withdrawals, user_id, NETWORK, TRON)
    async with app_page(browser, site, "/app/withdraw?lang=en", user_id=user_id) as page:
        await _choose_onchain(page, saved.id)
        await page.get_by_test_id("withdraw-amount").fill("12.5")
        await expect(page.get_by_test_id("quote-net")).to_be_visible()
        keys: list[str | None] = []
        failed = False

        async def first_lost(route: Any) -> None:
            nonlocal failed
            keys.append(route.request.headers.get("idempotency-key"))
            if not failed:  # the request reached the server, its answer was lost
                failed = True
                response = await route.fetch()
                assert response.status == 201
                await route.abort("connectionreset")
            else:
                await route.continue_()

        await page.route("**/api/withdrawals", first_lost)
        await page.get_by_test_id("withdraw-submit").click()
        await expect(page.get_by_test_id("withdraw-error")).to_be_visible()
        await page.get_by_test_id("withdraw-submit").click()
        await expect(page.get_by_test_id("withdraw-status")).to_be_visible()
        assert len(keys) == 2 and keys[0] and keys[0] == keys[1], keys
    rows = await Withdrawal.filter(user_id=user_id).all()
    assert len(rows) == 1 and rows[0].amount == D("12.5")
    assert (await services.balances.summary(user_id)).held == D("12.5")


async def test_all_available_and_a_new_address_waiting_for_its_cooldown(
    db: str, browser: Browser, site: str, services: Services
) -> None:
    user_id, _ = await funded_trader(D("30"))
    async with app_page(browser, site, "/app/withdraw?lang=en", user_id=user_id) as page:
        await expect(page.get_by_test_id("method-internal")).to_have_attribute(
            "aria-checked", "true")
        await page.get_by_test_id("withdraw-all").click()
        # The server works out "all"; the field then holds exactly what will be asked for.
        await expect(page.get_by_test_id("withdraw-amount")).to_have_value("30")
        await expect(page.get_by_test_id("quote-net")).to_have_text(f"{money(D(30))} USDT")
        await expect(page.get_by_test_id("quote-fee")).to_have_text(f"{money(D(0))} USDT")

        await page.get_by_test_id("method-onchain").click()
        await page.get_by_test_id(f"network-{NETWORK}").click()
        await expect(page.get_by_test_id("quote-net")).to_be_hidden()  # no address yet
        await page.get_by_test_id("address-new").click()
        await page.get_by_test_id("address-input").fill(TRON[:-1] + "x")
        await page.get_by_test_id("address-save").click()
        await expect(page.get_by_test_id("address-error")).to_be_visible()
        await page.get_by_test_id("address-input").fill(TRON)
        await page.get_by_test_id("address-label").fill("Ledger")
        await page.get_by_test_id("address-save").click()
        await expect(page.get_by_test_id("address-message")).to_be_visible()
        # Saved, the form folds away rather than offering its emptied fields again.
        await expect(page.get_by_test_id("address-input")).to_be_hidden()
        await expect(page.get_by_test_id("address-new")).to_have_attribute(
            "aria-expanded", "false")
        saved = await services.withdrawals.addresses(user_id, NETWORK)
        assert [a.address for a in saved] == [TRON]
        choice = page.get_by_test_id(f"address-{saved[0].id}")
        await expect(choice).to_be_disabled()  # usable once its cooldown is over
        await expect(choice).to_contain_text("Ledger")
        await expect(page.get_by_test_id("withdraw-submit")).to_be_disabled()
    assert await Withdrawal.filter(user_id=user_id).count() == 0


@pytest.mark.parametrize("amount, code", [("5000", "above_balance"),
                                          ("1.1234567", "too_many_decimals")])
async def test_the_apis_refusal_is_shown_under_the_amount(db: str, browser: Browser, site: str,
                                                          amount: str, code: str) -> None:
    user_id, _ = await funded_trader(D("30"))
    await set_locale(user_id, "ru")
    status, answer = await _post(site, user_id, "/api/withdraw/quote", {
        "method": "internal", "exchange_id": "okx", "amount": amount}, language="ru")
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, code, "amount")
    async with app_page(browser, site, "/app/withdraw?lang=ru", user_id=user_id,
                        lang="ru") as page:
        await expect(page.get_by_test_id("method-internal")).to_have_attribute(
            "aria-checked", "true")
        await page.get_by_test_id("withdraw-amount").fill(amount)
        error = page.get_by_test_id("withdraw-amount-error")
        await expect(error).to_have_text(answer["error"]["message"])
        await expect(page.get_by_test_id("withdraw-amount")).to_have_attribute(
            "aria-invalid", "true")
        await expect(page.get_by_test_id("quote-fee")).to_be_hidden()
        await page.get_by_test_id("withdraw-submit").click()  # Continue: the API asked again
        await expect(error).to_have_text(answer["error"]["message"])
        assert await telegram_calls(page, "showConfirm") == []
    assert await Withdrawal.filter(user_id=user_id).count() == 0


# --- look and feel -------------------------------------------------------------------------


async def test_the_dark_theme_applies(db: str, browser: Browser, site: str) -> None:
    user_id, _ = await funded_trader(D("30"))
    async with app_page(browser, site, "/app/withdraw?lang=en", user_id=user_id,
                        scheme="dark", theme={**DARK_THEME, "bg_color": "#17212b"}) as page:
        background = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(23, 33, 43)"
        assert await page.evaluate("() => document.documentElement.dataset.theme") == "dark"
        # the text is light on it (the theme's text_color, #f5f5f5)
        color = await page.evaluate("() => getComputedStyle(document.body).color")
        assert color == "rgb(245, 245, 245)"


async def _seed_everything(services: Services) -> int:
    """A trader with something on every page: rebates, a saved address, a withdrawal."""
    user_id, _ = await funded_trader(D("2750.5"))
    saved = await ready_address(services.withdrawals, user_id, NETWORK, TRON)
    where = Destination(PayoutMethod.ONCHAIN, network_id=NETWORK, address_id=saved.id)
    offer = await services.withdrawals.prepare(user_id, where, D("100"))
    await services.withdrawals.create(user_id, where, D("100"), expected_fee=offer.fee)
    return user_id


async def test_every_page_fits_360_px_in_light_dark_and_russian_with_screenshots(
    db: str, browser: Browser, site: str, services: Services
) -> None:
    user_id = await _seed_everything(services)
    shots = output_dir("miniapp")
    problems = []
    # Russian lines run about 30% longer than English ones: the narrowest case, in light.
    passes: tuple[tuple[str, Scheme], ...] = (("en", "light"), ("en", "dark"), ("ru", "light"))
    for lang, scheme in passes:
        await set_locale(user_id, lang)
        async with phone(browser, user_id=user_id, scheme=scheme, lang=lang) as page:
            for name, path, _ in PAGES:
                await visit(page, site, f"{path}?lang={lang}")
                suffix = "" if lang == "en" else f"-{lang}"
                shot = shots / f"{name}-{scheme}{suffix}-360px.png"
                await page.screenshot(path=str(shot), full_page=True)
                overflow = await page.evaluate(OVERFLOW_JS)
                if overflow["scrollWidth"] > PHONE["width"] or overflow["wide"]:
                    problems.append(f"{name} ({lang}, {scheme}) is wider than 360 px ({shot}): "
                                    f"{overflow}")
                notice = page.get_by_test_id("notice")
                if await notice.is_visible():
                    problems.append(f"{name} ({lang}, {scheme}) shows a notice: "
                                    f"{await notice.inner_text()}")
    assert not problems, "\n".join(problems)


# --- outside Telegram ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/withdraw", "/app/"])
async def test_outside_telegram_the_page_says_how_to_sign_in(db: str, browser: Browser,
                                                             site: str, path: str) -> None:
    async with app_page(browser, site, f"{path}?lang=en") as page:
        notice = page.get_by_test_id("notice")
        await expect(notice).to_be_visible()
        link = notice.locator("a")
        await expect(link).to_have_attribute("href", "/app/login?lang=en")
        await expect(page.get_by_test_id("nav-withdraw")).to_be_visible()
        assert await page.evaluate("() => window.Telegram === undefined")
        overflow = await page.evaluate(OVERFLOW_JS)
        assert overflow["scrollWidth"] <= PHONE["width"] and not overflow["wide"], overflow
        await page.screenshot(path=str(output_dir("miniapp") / (
            f"outside-telegram-{path.strip('/').replace('/', '-') or 'dashboard'}.png")))


# --- helpers: the API as the page sees it --------------------------------------------------


async def _post(site: str, user_id: int, path: str, body: dict[str, Any], *,
                language: str = "en") -> tuple[int, Any]:
    async with ClientSession() as session, session.post(f"{site}{path}", json=body,
                                                        headers=auth(user_id, language=language)
                                                        ) as response:
        return response.status, await response.json()


async def _quote(site: str, user_id: int, address_id: int, amount: str) -> dict[str, Any]:
    status, offer = await _post(site, user_id, "/api/withdraw/quote", {
        "method": "onchain", "network_id": NETWORK, "address_id": address_id,
        "amount": amount})
    assert status == 200, offer
    return dict(offer)


async def _listing(site: str, user_id: int) -> list[dict[str, Any]]:
    async with ClientSession() as session, session.get(f"{site}/api/withdrawals",
                                                       headers=auth(user_id)) as response:
        assert response.status == 200
        return list(json.loads(await response.text())["withdrawals"])


def _status_text(status: str) -> str:
    return Catalog.load().translator("en")(f"withdraw.status.{status}")
