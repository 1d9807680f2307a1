"""The admin chat end to end through the Telegram stand-in (issue 14), the product's real
processes (``python -m bot run`` polling the stand-in, ``python -m bot worker``): a CSV import
of a good file (dry run, then Import: the records and the trader's rebates booked), the same
file again (all unchanged, nothing added), a file with bad rows (every bad row named in words,
nothing imported); then the trader's file by their UID, a ban (the trader is told, and kept out)
and /stats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from sandbox.telegram import StubClient, StubState, run_stub
from services.models import CommissionRecord, ExchangeAccount, RebateAccrual, Role, User
from tests.conftest import TEST_REDIS_URL
from tests.e2e.processes import (
    bot_process,
    free_port,
    product_env,
    spawn_bot,
    stop_process,
)
from tests.e2e.test_crash_sync_booking import delete_arq_keys
from tests.e2e.test_payout_journey import press_starting

TRADER, OPERATOR = 5201, 5202
ADMIN_CHAT = -1021
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "csv" / "generic-binance.csv"
UID = "242838020"  # the sample's trader


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[StubState, str]]:
    state = StubState()
    state.add_user(TRADER, "Tanya", "tanya", "en")
    state.add_user(OPERATOR, "Olga", "olga", "en")
    state.add_group(ADMIN_CHAT, "Admins", admins=[OPERATOR])
    async with run_stub(state, "127.0.0.1", 0) as url:
        yield state, url


@pytest.fixture
async def product(db: str, telegram: tuple[StubState, str], redis: Redis, redis_prefix: str,
                  tmp_path: Path) -> AsyncIterator[str]:
    await User.create(id=OPERATOR, first_name="Olga", username="olga", role=Role.ADMIN)
    state, telegram_url = telegram
    port = free_port()
    env = product_env(state.token, telegram_url, db, TEST_REDIS_URL, redis_prefix, port,
                      str(tmp_path / "data"), ADMIN_CHAT_ID=str(ADMIN_CHAT))
    web_url = f"http://127.0.0.1:{port}"
    worker = await spawn_bot(["worker"], env, tmp_path / "worker.log")
    try:
        async with bot_process(["run"], env, f"{web_url}/healthz", tmp_path / "bot.log"):
            yield web_url
    finally:
        await stop_process(worker)
        await delete_arq_keys(redis, redis_prefix)
        print(f"\nlogs: {tmp_path / 'bot.log'}, {tmp_path / 'worker.log'}")


async def _import(tg: StubClient, content: bytes, name: str) -> str:
    await tg.upload(ADMIN_CHAT, OPERATOR, name, content, "text/csv", caption="/import binance")
    said = await tg.wait_for_bot_message(
        ADMIN_CHAT, lambda m: "dry run" in (m.get("text") or "")
        or "bad row" in (m.get("text") or ""), timeout=30)
    return str(said["text"])


async def test_csv_imports_a_users_file_a_ban_and_stats(
    product: str, telegram: tuple[StubState, str],
) -> None:
    _, telegram_url = telegram
    rows = SAMPLE.read_text().strip().splitlines()[1:]
    async with StubClient(telegram_url) as tg:
        await tg.send(TRADER, TRADER, "/start")
        await tg.wait_for_bot_message(TRADER, "Welcome, Tanya!", timeout=15)
        await ExchangeAccount.create(user_id=TRADER, exchange_id="binance", uid=UID,
                                     status="verified")

        # A good file: the dry run counts every row new; Import stores and books them.
        preview = await _import(tg, SAMPLE.read_bytes(), "binance.csv")
        assert f"Rows: {len(rows)}" in preview and f"New: {len(rows)}" in preview, preview
        assert await CommissionRecord.all().count() == 0  # nothing before Import
        await press_starting(tg, ADMIN_CHAT, OPERATOR, "✅ Import")
        done = await tg.wait_for_bot_message(ADMIN_CHAT, "imported", timeout=60)
        assert f"New: {len(rows)}" in done["text"]
        assert await CommissionRecord.filter(exchange_id="binance").count() == len(rows)
        commission = sum(Decimal(row.split(",")[6]) for row in rows
                         if row.split(",")[1] == UID)  # the sample's other UIDs are no one's
        booked = sum([a.gross for a in await RebateAccrual.filter(user_id=TRADER)], Decimal(0))
        for _ in range(120):  # the worker books the imported records
            if booked == commission:
                break
            await asyncio.sleep(0.5)
            booked = sum([a.gross for a in await RebateAccrual.filter(user_id=TRADER)],
                         Decimal(0))
        assert booked == commission

        # The same file again: all unchanged, nothing added.
        again = await _import(tg, SAMPLE.read_bytes(), "binance-again.csv")
        assert f"Unchanged: {len(rows)}" in again and "New: 0" in again, again

        # Bad rows: each named in words, nothing imported.
        bad = SAMPLE.read_text().replace("2026-11-02", "2026-13-02").replace(UID, "x!", 1)
        refused = await _import(tg, bad.encode(), "bad.csv")
        assert "bad row(s). Nothing was imported" in refused
        assert "not a valid date" in refused and "not a valid UID" in refused
        assert await CommissionRecord.all().count() == len(rows)

        # The trader's file by UID, a ban, and the trader is told.
        await tg.send(ADMIN_CHAT, OPERATOR, f"/user {UID}")
        card = await tg.wait_for_bot_message(ADMIN_CHAT, "Role: Trader", timeout=15)
        assert UID in card["text"]
        await press_starting(tg, ADMIN_CHAT, OPERATOR, "⛔ Ban")
        await tg.wait_for_bot_message(ADMIN_CHAT, "⛔ Banned:", timeout=15)
        await tg.wait_for_bot_message(TRADER, "has been blocked", timeout=30)
        await tg.send(TRADER, TRADER, "/withdraw")
        await tg.wait_for_bot_message(TRADER, "blocked", timeout=15)

        # The executive snapshot, with its chart.
        await tg.send(ADMIN_CHAT, OPERATOR, "/stats")
        stats = await tg.wait_for_bot_message(
            ADMIN_CHAT, lambda m: "Trading volume" in (m.get("caption") or m.get("text") or ""),
            timeout=30)
        assert "Net revenue" in (stats.get("caption") or stats.get("text") or "")
