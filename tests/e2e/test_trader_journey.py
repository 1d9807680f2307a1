"""End to end over HTTP: ``python -m bot run`` in long polling against the in-repo Telegram
stand-in (TELEGRAM_API_URL), on the test PostgreSQL and Redis; a person talks to it through the
stand-in's user API and we assert what they see, in English and in Russian."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sandbox.telegram import StubClient, StubState, run_stub
from services.models import AccountStatus, Event, ExchangeAccount, SignupSource, User
from tests.conftest import RUN_ID, TEST_REDIS_URL
from tests.e2e.processes import bot_process, free_port

ALICE, BORIS, MALLORY, OPERATOR = 5001, 5002, 5003, 5009
ADMIN_CHAT = -1009


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[StubState, str]]:
    state = StubState()
    state.add_user(ALICE, "Alice", "alice", "en")
    state.add_user(BORIS, "Борис", "boris", "ru")
    state.add_user(MALLORY, "Mallory", "mallory", "en")
    state.add_user(OPERATOR, "Olga", "olga", "en")
    state.add_group(ADMIN_CHAT, "Admins", members=[OPERATOR, MALLORY], admins=[OPERATOR])
    async with run_stub(state, "127.0.0.1", 0) as url:
        yield state, url


@pytest.fixture
async def running_bot(db: str, telegram: tuple[StubState, str], tmp_path: Path) -> AsyncIterator[str]:  # noqa: E501
    state, telegram_url = telegram
    port = free_port()
    env = {
        "BOT_TOKEN": state.token,
        "TELEGRAM_API_URL": telegram_url,
        "DATABASE_URL": db,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_PREFIX": f"test-{RUN_ID}-e2e",
        "WEB_PORT": str(port),
        "SECRET_KEY": "e2e-secret",
        "FLOOD_LIMIT": "1000",  # the test presses faster than a person can
        "ADMIN_CHAT_ID": str(ADMIN_CHAT),
        "ADMIN_IDS": str(OPERATOR),
        "DATA_DIR": str(tmp_path),
    }
    web_url = f"http://127.0.0.1:{port}"
    async with bot_process(["run"], env, f"{web_url}/healthz", tmp_path / "bot.log"):
        yield web_url


async def wait_for_event(name: str, user_id: int) -> Event:
    for _ in range(50):  # events are written in batches, about every half second
        event = await Event.filter(name=name, user_id=user_id).first()
        if event is not None:
            return event
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {name} event for {user_id}")


def url_button(message: dict, prefix: str) -> str:  # type: ignore[type-arg]
    for row in message["reply_markup"]["inline_keyboard"]:
        for button in row:
            if button.get("url", "").startswith(prefix):
                return str(button["url"])
    raise AssertionError(f"no url button {prefix!r} in {message['reply_markup']}")


async def test_trader_first_minutes_in_english(
    running_bot: str, telegram: tuple[StubState, str]
) -> None:
    _, telegram_url = telegram
    async with StubClient(telegram_url) as tg:
        await tg.send(ALICE, ALICE, "/start src-inf_guru")
        welcome = await tg.wait_for_bot_message(ALICE, "Welcome, Alice!")
        assert "We never ask for your API keys" in welcome["text"]

        await tg.press_button(ALICE, ALICE, "💱 Exchanges & links")
        listing = await tg.wait_for_bot_message(ALICE, "Exchanges & links")
        labels = [b["text"] for row in listing["reply_markup"]["inline_keyboard"] for b in row]
        assert "Bybit · 60%" in labels and "Binance · 60%" in labels

        await tg.press_button(ALICE, ALICE, "Bybit · 60%")
        card = await tg.wait_for_bot_message(ALICE, "Your rebate: 60%")
        tracked = url_button(card, f"{running_bot}/r/bybit-")
        async with aiohttp.ClientSession() as http, http.get(
            tracked, allow_redirects=False
        ) as response:
            assert response.status == 302
            assert response.headers["Location"] == "https://www.bybit.com/invite?ref=CRYPTOREBATE"
        await wait_for_event("link_opened", ALICE)

        # "I already have an account": the check asks, one question per screen.
        await tg.press_button(ALICE, ALICE, "I already have an account")
        first = await tg.wait_for_bot_message(ALICE, "Already have a Bybit account?")
        assert "Did you open this Bybit account through our link" in first["text"]
        await tg.press_button(ALICE, ALICE, "No")
        await tg.wait_for_bot_message(ALICE, "Have you completed identity verification (KYC)")
        await tg.press_button(ALICE, ALICE, "« Back")
        await tg.wait_for_bot_message(ALICE, "Your rebate: 60%")

        # Link a UID: an invalid one first, then a valid one.
        await tg.press_button(ALICE, ALICE, "🔗 Link my UID")
        await tg.wait_for_bot_message(ALICE, "Send your Bybit UID")
        await tg.send(ALICE, ALICE, "my uid is abc")
        await tg.wait_for_bot_message(ALICE, "A UID contains digits only.")
        await tg.send(ALICE, ALICE, "12345678")
        await tg.wait_for_bot_message(ALICE, "Link UID 12345678 on Bybit?")
        await tg.press_button(ALICE, ALICE, "✅ Confirm")
        await tg.wait_for_bot_message(ALICE, "UID 12345678 on Bybit is linked")

        # A second trader cannot take it.
        await tg.send(MALLORY, MALLORY, "/start")
        await tg.wait_for_bot_message(MALLORY, "Welcome, Mallory!")
        await tg.press_button(MALLORY, MALLORY, "🔗 My accounts")
        await tg.wait_for_bot_message(MALLORY, "not linked any exchange UID yet")
        await tg.press_button(MALLORY, MALLORY, "➕ Link a UID")
        await tg.wait_for_bot_message(MALLORY, "On which exchange")
        await tg.press_button(MALLORY, MALLORY, "Bybit")
        await tg.wait_for_bot_message(MALLORY, "Send your Bybit UID")
        await tg.send(MALLORY, MALLORY, "12345678")  # refused as soon as it is typed
        await tg.wait_for_bot_message(MALLORY, "already linked to another account")

        # Cancelled: a flow left with /cancel links nothing.
        await tg.press_button(ALICE, ALICE, "🔗 My accounts")
        await tg.wait_for_bot_message(ALICE, "My accounts")
        await tg.press_button(ALICE, ALICE, "➕ Link a UID")
        await tg.wait_for_bot_message(ALICE, "On which exchange")
        await tg.press_button(ALICE, ALICE, "OKX")
        await tg.wait_for_bot_message(ALICE, "Send your OKX UID")
        await tg.send(ALICE, ALICE, "/cancel")
        await tg.wait_for_bot_message(ALICE, "Cancelled. Nothing was changed.")

        await tg.press_button(ALICE, ALICE, "🔗 My accounts")
        accounts = await tg.wait_for_bot_message(ALICE, "My accounts")
        assert "Bybit: 12345678 — ⏳ pending check" in accounts["text"]
        assert "OKX" not in accounts["text"]

    alice = await User.get(id=ALICE)
    assert alice.signup_source == SignupSource.INFLUENCER and alice.signup_code == "inf_guru"
    account = await ExchangeAccount.get(exchange_id="bybit", uid="12345678")
    assert account.user_id == ALICE and account.status == AccountStatus.PENDING
    assert await ExchangeAccount.filter(user_id=MALLORY).count() == 0
    await wait_for_event("uid_link_taken", MALLORY)


async def test_trader_first_minutes_in_russian(
    running_bot: str, telegram: tuple[StubState, str]
) -> None:
    _, telegram_url = telegram
    async with StubClient(telegram_url) as tg:
        await tg.send(BORIS, BORIS, "/start")
        await tg.wait_for_bot_message(BORIS, "Добро пожаловать, Борис!")
        await tg.press_button(BORIS, BORIS, "💱 Биржи и ссылки")
        await tg.wait_for_bot_message(BORIS, "Биржи и ссылки")
        await tg.press_button(BORIS, BORIS, "OKX · 60%")
        card = await tg.wait_for_bot_message(BORIS, "Ваш кэшбэк: 60%")
        assert url_button(card, f"{running_bot}/r/okx-")
        await tg.press_button(BORIS, BORIS, "🔗 Привязать UID")
        await tg.wait_for_bot_message(BORIS, "Отправьте свой UID на OKX")
        await tg.send(BORIS, BORIS, "12")
        await tg.wait_for_bot_message(BORIS, "Слишком коротко")
        await tg.send(BORIS, BORIS, "87654321")
        await tg.wait_for_bot_message(BORIS, "Привязать UID 87654321 на OKX?")
        await tg.press_button(BORIS, BORIS, "✅ Подтвердить")
        await tg.wait_for_bot_message(BORIS, "привязан")
        await tg.press_button(BORIS, BORIS, "🔗 Мои аккаунты")
        accounts = await tg.wait_for_bot_message(BORIS, "Мои аккаунты")
        assert "OKX: 87654321 — ⏳ ждёт проверки" in accounts["text"]
        # Switch to English in Settings.
        await tg.press_button(BORIS, BORIS, "« Назад")
        await tg.wait_for_bot_message(BORIS, "Главное меню")
        await tg.press_button(BORIS, BORIS, "⚙️ Настройки")
        await tg.wait_for_bot_message(BORIS, "Настройки")
        await tg.press_button(BORIS, BORIS, "English")
        await tg.wait_for_bot_message(BORIS, "Saved.")


GOOD_CSV = (
    "exchange,uid,date,product,volume,fee,commission,currency,rate_to_usdt\n"
    "binance,12345678,2026-11-01,spot,1000,1,0.4,USDT,1\n"
    "binance,12345678,2026-11-02,futures,2000,0.8,0.32,USDT,1\n"
)


async def test_admin_imports_a_csv_after_a_dry_run(
    running_bot: str, telegram: tuple[StubState, str]
) -> None:
    from services.models import CommissionRecord

    _, telegram_url = telegram
    async with StubClient(telegram_url) as tg:
        await tg.send(OPERATOR, OPERATOR, "/start")  # an operator registers once, privately
        await tg.wait_for_bot_message(OPERATOR, "Welcome")

        bad = GOOD_CSV + "binance,12ab,2026-11-03,spot,1,1,1,USDT,1\n"
        await tg.upload(ADMIN_CHAT, OPERATOR, "bad.csv", bad.encode(), "text/csv",
                        caption="/import binance")
        report = await tg.wait_for_bot_message(ADMIN_CHAT, "bad row")
        assert "line 4" in report["text"] and "Nothing was imported" in report["text"]

        await tg.upload(ADMIN_CHAT, OPERATOR, "good.csv", GOOD_CSV.encode(), "text/csv",
                        caption="/import binance")
        preview = await tg.wait_for_bot_message(ADMIN_CHAT, "dry run")
        assert "New: 2" in preview["text"]
        assert await CommissionRecord.filter(exchange_id="binance").count() == 0

        # Only an operator may press Import.
        await tg.press_button(ADMIN_CHAT, MALLORY, "✅ Import")
        await tg.press_button(ADMIN_CHAT, OPERATOR, "✅ Import")
        done = await tg.wait_for_bot_message(ADMIN_CHAT, "imported")
        assert "New: 2" in done["text"] and "By olga" in done["text"]
    assert await CommissionRecord.filter(exchange_id="binance").count() == 2
