"""The Telegram stand-in's chat page at phone width (issue 11: at 420 px each History day
wrapped to four lines, the people list taking half the screen). A real browser (Debian's
chromium, tests/support/browser.py) opens the page as a trader with two weeks of rebates, goes
to History with the page's own buttons, and measures what is on the screen: each day's figures
take at most two lines, its heading one, and nothing is wider than the phone."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from pydantic import SecretStr

from bot.app import create_bot
from bot.settings import Settings
from exchanges.base import make_row
from sandbox.telegram import StubState, run_stub
from services.commission_store import store_rows
from services.models import AccountStatus, ExchangeAccount, RecordOrigin
from services.rebates import RebateEngine
from tests.support.browser import LINES_ON_SCREEN_JS, OVERFLOW_JS, chromium, chromium_or_skip

TRADER = 778_042
UID = "10010001"
DAYS = 14
PHONES = ((420, 860), (360, 740))
DAY_HEADING = re.compile(r"^\d{4}-\d{2}-\d{2} · ")


# What the trader reads and presses, per language (Russian lines are about 30% longer).
SCREENS = {
    "en": {"welcome": "Welcome, Phone trader!", "balance": "💰 Balance",
           "history": "📜 History by day", "title": "History (page 1 of"},
    "ru": {"welcome": "Добро пожаловать, Phone trader!", "balance": "💰 Баланс",
           "history": "📜 История по дням", "title": "История (страница 1 из"},
}


@pytest.fixture(params=sorted(SCREENS))
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def chat_page(
    db: str, dispatcher: Dispatcher, settings: Settings, language: str
) -> AsyncIterator[str]:
    """The stand-in serving its chat page, with the production Dispatcher polling it in this
    process (as the web process does in the demo); yields the page's URL for the trader."""
    chromium_or_skip()  # before anything starts
    state = StubState()
    state.add_user(TRADER, "Phone trader", "phone_trader", language)
    async with run_stub(state, "127.0.0.1", 0) as url:
        bot = create_bot(settings.model_copy(update={
            "bot_token": SecretStr(state.token), "telegram_api_url": url}))
        polling = asyncio.create_task(dispatcher.start_polling(
            bot, handle_signals=False, close_bot_session=False, polling_timeout=1))
        try:
            yield f"{url}/stub/#from={TRADER}&chat={TRADER}"
        finally:
            with contextlib.suppress(RuntimeError):  # polling may not have started yet
                await dispatcher.stop_polling()
            await asyncio.wait_for(polling, timeout=10)
            await bot.session.close()


async def two_weeks_of_rebates() -> None:
    """A verified OKX UID with a spot day for each of the last two weeks, its numbers as an
    exchange reports them (fees to 8 decimals), stored and booked like the sync does."""
    await ExchangeAccount.create(user_id=TRADER, exchange_id="okx", uid=UID,
                                 status=AccountStatus.VERIFIED)
    today = datetime.now(UTC).date()
    rows = []
    for n in range(1, DAYS + 1):
        volume = Decimal(12_000 + 7_350 * (n % 5)) + Decimal("0.37") * n
        fee = (volume * Decimal("0.0008")).quantize(Decimal("0.00000001"))
        rows.append(make_row("okx", UID, today - timedelta(days=n), "spot", volume=volume,
                             fee=fee, commission=fee * Decimal("0.4")))
    await store_rows(rows, RecordOrigin.API)
    await RebateEngine().accrue_all()


def day_rows(measured: dict[str, Any]) -> list[tuple[str, int, str, int]]:
    """(heading, its lines, figures, their lines) per History day."""
    lines = measured["lines"]
    days = []
    for i, line in enumerate(lines):
        if DAY_HEADING.match(line["text"]):
            figures = lines[i + 1]
            assert "→" in figures["text"], figures
            days.append((line["text"], line["rows"], figures["text"], figures["rows"]))
    return days


async def test_history_fits_a_phone(chat_page: str, language: str, tmp_path: Path) -> None:
    words = SCREENS[language]
    async with chromium() as browser:
        width, height = PHONES[0]
        page = await browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(15_000)
        await page.goto(chat_page)
        await page.fill("#text-input", "/start")
        await page.press("#text-input", "Enter")
        await page.locator(".bubble", has_text=words["welcome"]).wait_for()
        await two_weeks_of_rebates()
        await page.get_by_role("button", name=words["balance"]).last.click()
        await page.get_by_role("button", name=words["history"]).last.click()
        history = page.locator(".bubble", has_text=words["title"]).last
        await history.wait_for()
        text = history.locator(":scope > span:not(.meta)")

        problems = []
        for width, height in PHONES:
            await page.set_viewport_size({"width": width, "height": height})
            await history.scroll_into_view_if_needed()
            shot = tmp_path / f"history-{language}-{width}px.png"
            await page.screenshot(path=str(shot))
            days = day_rows(await text.evaluate(LINES_ON_SCREEN_JS))
            assert len(days) == 8, (width, days)  # a History page holds 8 days
            too_tall = [day for day in days if day[1] != 1 or day[3] > 2]
            if too_tall:
                problems.append(f"at {width} px a History day should take one line for its "
                                f"heading and at most two for its figures ({shot}): {too_tall}")
            overflow = await page.evaluate(OVERFLOW_JS)
            if overflow["scrollWidth"] > width or overflow["wide"]:
                problems.append(f"at {width} px the page is wider than the phone ({shot}): "
                                f"{overflow}")
        assert not problems, "\n".join(problems)
        await page.close()
