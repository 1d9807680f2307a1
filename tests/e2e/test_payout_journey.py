"""End to end through the stand-ins (issue 12): a trader earns, withdraws on chain, finance
approves, the exchange sends it, and the trader sees every step.

The product's real processes run: ``python -m bot run`` (long polling against the in-repo
Telegram stand-in) and ``python -m bot worker``, on the test PostgreSQL and Redis, with OKX
pointed at the exchange simulator, whose wallet moves a withdrawal on by itself (pending → sent
with a transaction hash → completed), here one step at a time when the test says so, so that
the payout tick (every 15 s) sees each state. People act only through the stand-in's user API:

earn (the simulated OKX knows the trader's UID with ten days of trading: linked in the bot,
verified at once, booked by an operator's /sync okx) → /withdraw to a new TRC20 address (the
test database's address cooldown is 0, an operator setting) above the approval threshold →
its card in the finance chat → a finance user (role finance in the database) presses Approve
→ the trader is told: requested → approved → sent with the tx hash and its tronscan link →
completed; Balance shows it as paid out; the simulator holds exactly one withdrawal for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from tortoise import Tortoise

from sandbox.exchanges import Dataset, Faults, create_app
from sandbox.exchanges.wallet import Wallets
from sandbox.telegram import StubClient, StubState, run_stub
from services.models import Role, User, Withdrawal, WithdrawalStatus
from tests.conftest import TEST_REDIS_URL
from tests.e2e.chat_steps import amount_in, sync_now
from tests.e2e.processes import (
    bot_process,
    free_port,
    product_env,
    spawn_bot,
    stop_process,
)
from tests.e2e.test_crash_sync_booking import delete_arq_keys
from tests.payouts.helpers import TRON

TRADER, OPERATOR, FINANCE = 5101, 5102, 5103
ADMIN_CHAT, FINANCE_CHAT = -1011, -1012
UID = "10020001"  # an OKX invitee of ours in the simulator
DAILY_SPOT_VOLUME = Decimal(300_000)  # fee 0.1% → our 40% → the trader's 60%: 72 USDT a day
DAYS = 10
AMOUNT = Decimal(600)  # above the approval threshold (500): finance approves it
FEE = Decimal(1)  # USDT-TRC20's fee
# The payout tick runs every 15 s: the card shows within one, the payout is seen sent at the
# next and completed at the one after; the outbox delivers within 5 s of each.
STEP_BOUND = 40


@pytest.fixture
async def simulator() -> AsyncIterator[str]:
    dataset = Dataset.build(["okx"], traders=1, days=1, seed=12)
    today = datetime.now(UTC).date()
    dataset.add_trader("okx", UID, datetime.combine(today - timedelta(days=30), day_time.min,
                                                    tzinfo=UTC))
    for days_ago in range(1, DAYS + 1):
        dataset.add_activity("okx", UID, today - timedelta(days=days_ago), "spot",
                             DAILY_SPOT_VOLUME)
    faults = Faults()
    # Moved on by hand, so that the test decides what a payout tick sees.
    wallets = Wallets(faults, auto_advance_seconds=None)
    server = TestServer(create_app(dataset, faults, wallets), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[StubState, str]]:
    state = StubState()
    state.add_user(TRADER, "Tanya", "tanya", "en")
    state.add_user(OPERATOR, "Olga", "olga", "en")
    state.add_user(FINANCE, "Fiona", "fiona", "en")
    state.add_group(ADMIN_CHAT, "Admins", admins=[OPERATOR])
    state.add_group(FINANCE_CHAT, "Finance", members=[FINANCE], admins=[OPERATOR])
    async with run_stub(state, "127.0.0.1", 0) as url:
        yield state, url


@pytest.fixture
async def product(db: str, telegram: tuple[StubState, str], simulator: str, redis: Redis,
                  redis_prefix: str, tmp_path: Path) -> AsyncIterator[str]:
    """The web process and the worker, after the operators' setup in the database: staff with
    their roles, and new payout addresses usable at once."""
    await User.create(id=OPERATOR, first_name="Olga", username="olga", role=Role.ADMIN)
    await User.create(id=FINANCE, first_name="Fiona", username="fiona", role=Role.FINANCE)
    await Tortoise.get_connection("default").execute_query(
        "UPDATE payout_settings SET address_cooldown_hours = 0 WHERE id = 1")
    state, telegram_url = telegram
    port = free_port()
    env = product_env(state.token, telegram_url, db, TEST_REDIS_URL, redis_prefix, port,
                      str(tmp_path / "data"), **{
        # The first sync reads only the trading days (OKX's rate limit makes each day cost).
        "SYNC_FIRST_LOOKBACK_DAYS": str(DAYS + 1),
        "ADMIN_CHAT_ID": str(ADMIN_CHAT), "FINANCE_CHAT_ID": str(FINANCE_CHAT),
        "EXCHANGE_OKX_API_URL": f"{simulator}/okx", "EXCHANGE_OKX_API_KEY": "sim-key",
        "EXCHANGE_OKX_API_SECRET": "sim-secret", "EXCHANGE_OKX_API_PASSWORD": "sim-pass",
    })
    web_url = f"http://127.0.0.1:{port}"
    worker_log = tmp_path / "worker.log"
    worker = await spawn_bot(["worker"], env, worker_log)
    try:
        async with bot_process(["run"], env, f"{web_url}/healthz", tmp_path / "bot.log"):
            yield web_url
    finally:
        await stop_process(worker)
        await delete_arq_keys(redis, redis_prefix)
        print(f"\nlogs: {tmp_path / 'bot.log'}, {worker_log}")


async def press_starting(tg: StubClient, chat_id: int, from_id: int, prefix: str) -> None:
    """Press the newest callback button whose label starts with ``prefix``."""
    for entry in reversed(await tg.messages(chat_id)):
        rows = (entry.get("reply_markup") or {}).get("inline_keyboard") or []
        for button in (b for row in rows for b in row):
            if button.get("text", "").startswith(prefix) and "callback_data" in button:
                await tg.press(chat_id, from_id, entry["message_id"], button["callback_data"])
                return
    raise LookupError(f"no button starting with {prefix!r} in chat {chat_id}")


async def advance(url: str, client_id: str) -> list[dict[str, Any]]:
    """The simulated OKX moves the withdrawal on by one step."""
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/_sim/withdrawals/advance",
            json={"exchange": "okx", "client_id": client_id, "steps": 1}) as r:
        assert r.status == 200, await r.text()
        return list(await r.json())


async def wait_status(withdrawal_id: int, status: WithdrawalStatus, within: float) -> None:
    deadline = time.monotonic() + within
    while (now := await Withdrawal.get(id=withdrawal_id)).status is not status:
        assert time.monotonic() < deadline, f"#{withdrawal_id} is {now.status}, not {status}"
        await asyncio.sleep(0.2)


async def simulated(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/_sim/withdrawals") as r:
        return list(await r.json())


async def test_earn_withdraw_approve_sent_completed(
    product: str, telegram: tuple[StubState, str], simulator: str,
) -> None:
    _, telegram_url = telegram
    began = time.monotonic()
    async with StubClient(telegram_url) as tg:
        # Earn: the UID is linked and verified at once; the operator's sync books its days.
        await tg.send(TRADER, TRADER, "/start")
        await tg.wait_for_bot_message(TRADER, "Welcome, Tanya!", timeout=15)
        await tg.press_button(TRADER, TRADER, "🔗 My accounts")
        await tg.wait_for_bot_message(TRADER, "My accounts", timeout=10)
        await tg.press_button(TRADER, TRADER, "➕ Link a UID")
        await tg.wait_for_bot_message(TRADER, "On which exchange", timeout=10)
        await tg.press_button(TRADER, TRADER, "OKX")
        await tg.wait_for_bot_message(TRADER, "Send your OKX UID", timeout=10)
        await tg.send(TRADER, TRADER, UID)
        await tg.wait_for_bot_message(TRADER, f"Link UID {UID}", timeout=10)
        await tg.press_button(TRADER, TRADER, "✅ Confirm")
        await tg.wait_for_bot_message(TRADER, "is verified", timeout=30)
        await sync_now(tg, ADMIN_CHAT, OPERATOR)
        earned = time.monotonic()

        # Withdraw on chain, to a new TRC20 address, more than finance lets through unseen.
        await tg.send(TRADER, TRADER, "/withdraw")
        await tg.wait_for_bot_message(TRADER, "Where should we send it?", timeout=10)
        await press_starting(tg, TRADER, TRADER, "USDT · Tron (TRC20)")
        await tg.wait_for_bot_message(TRADER, "USDT · Tron (TRC20)", timeout=10)
        await tg.press_button(TRADER, TRADER, "➕ New address")
        await tg.wait_for_bot_message(TRADER, "address as a text message", timeout=10)
        await tg.send(TRADER, TRADER, TRON)
        await tg.wait_for_bot_message(TRADER, "is correct", timeout=10)
        await tg.press_button(TRADER, TRADER, "Skip")
        asked = await tg.wait_for_bot_message(TRADER, "Send the amount", timeout=10)
        available = amount_in(asked["text"], "Available:")
        assert available > AMOUNT, asked["text"]
        await tg.send(TRADER, TRADER, str(AMOUNT))
        await tg.wait_for_bot_message(TRADER, "Check your withdrawal", timeout=10)
        await tg.press_button(TRADER, TRADER, "✅ Confirm")
        placed = await tg.wait_for_bot_message(TRADER, "Request #", timeout=10)
        assert "finance check" in placed["text"], placed["text"]
        [request] = await Withdrawal.all()
        assert request.status is WithdrawalStatus.AWAITING_APPROVAL
        assert request.address == TRON and request.amount == AMOUNT
        wid = request.id
        requested = await tg.wait_for_bot_message(
            TRADER, f"Withdrawal #{wid} of", timeout=15)
        assert "waits for a finance check" in requested["text"], requested["text"]
        placed_at = time.monotonic()

        # Finance approves the card in the finance chat.
        card = await tg.wait_for_bot_message(FINANCE_CHAT, f"Withdrawal #{wid}",
                                             timeout=STEP_BOUND)
        assert "waiting for approval" in card["text"] and TRON in card["text"], card["text"]
        carded = time.monotonic()
        answer = await tg.press_button(FINANCE_CHAT, FINANCE, "✅ Approve", wait_answer=10)
        assert answer["answer"] and "Approved" in answer["answer"].get("text", ""), answer
        approved = await tg.wait_for_bot_message(TRADER, f"Withdrawal #{wid} is approved",
                                                 timeout=15)
        assert TRON in approved["text"], approved["text"]

        # The exchange got it (the approval queues the payment at once), sends it on chain and
        # confirms it before the next payout tick looks (a fast chain: the engine never sees
        # "sent"): the trader still gets the transaction and its explorer link, then completed.
        await wait_status(wid, WithdrawalStatus.SUBMITTED, within=15)
        [paid] = await advance(simulator, request.client_id)
        assert paid["state"] == "sent", paid
        tx = paid["tx_hash"]
        [paid] = await advance(simulator, request.client_id)
        assert paid["state"] == "completed", paid
        sent = await tg.wait_for_bot_message(TRADER, f"Withdrawal #{wid}: ",
                                             timeout=STEP_BOUND)
        sent_at = time.monotonic()
        assert tx and tx in sent["text"], (paid, sent["text"])
        assert f"https://tronscan.org/#/transaction/{tx}" in sent["text"], sent["text"]
        assert "on its way" in sent["text"], sent["text"]
        await tg.wait_for_bot_message(TRADER, f"Withdrawal #{wid} is complete",
                                      timeout=STEP_BOUND)
        completed_at = time.monotonic()

        # The whole story in the trader's chat, in order.
        texts = [m.get("text") or "" for m in await tg.bot_messages(TRADER)]
        steps = [next(i for i, text in enumerate(texts) if marker in text) for marker in (
            f"Withdrawal #{wid} of", f"Withdrawal #{wid} is approved",
            f"https://tronscan.org/#/transaction/{tx}", f"Withdrawal #{wid} is complete")]
        assert steps == sorted(steps), texts[-6:]

        # Balance: paid out, nothing held.
        await tg.send(TRADER, TRADER, "/menu")
        await tg.wait_for_bot_message(TRADER, "Main menu", timeout=10)
        await tg.press_button(TRADER, TRADER, "💰 Balance")
        balance = await tg.wait_for_bot_message(TRADER, "Paid out", timeout=10)
        assert amount_in(balance["text"], "Paid out:") == AMOUNT, balance["text"]
        assert amount_in(balance["text"], "On hold (withdrawals in progress):") == 0
        assert amount_in(balance["text"], "Available:") == available - AMOUNT

    # Exactly one withdrawal at the exchange: to the address, the amount less the fee.
    [paid] = await simulated(simulator)
    assert paid["exchange"] == "okx" and paid["kind"] == "onchain", paid
    assert paid["to"] == TRON and Decimal(paid["amount"]) == AMOUNT - FEE, paid
    assert paid["client_id"] == request.client_id and paid["state"] == "completed", paid
    final = await Withdrawal.get(id=wid)
    assert final.status is WithdrawalStatus.COMPLETED and final.tx_hash == tx
    print(f"earned in {earned - began:.1f} s; placed → card {carded - placed_at:.1f} s, "
          f"→ sent {sent_at - carded:.1f} s, → completed {completed_at - sent_at:.1f} s; "
          f"all {time.monotonic() - began:.1f} s")
