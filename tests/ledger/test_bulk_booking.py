"""The fast booking path: column-wise entries (same validation, hashes and replay rule as
post_entry), batches read ahead outside the booking lock and re-checked under it, and the
bounded commit check."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from tortoise import Tortoise

from services.ledger import (
    AccountRef,
    EntrySpec,
    IdempotencyConflict,
    Ledger,
    Leg,
    LegColumn,
    UnbalancedEntry,
    insert_entry_columns,
    ledger_transaction,
    lock_accounts,
)
from services.rebates import (
    _SELECT_BOOKED,
    _SELECT_PENDING,
    RateService,
    RebateEngine,
    RecordScope,
    _prepare,
)
from tests.ledger.helpers import make_trader, next_id, put_record, scalar

D = Decimal
DAY = date(2025, 4, 2)


async def _columns(keys: list[str], trader: AccountRef, amounts: list[Decimal]) -> int:
    suspense = AccountRef.suspense()
    async with ledger_transaction() as conn:
        accounts = await lock_accounts(conn, [trader, suspense])
        return await insert_entry_columns(
            conn, kind="adjustment", keys=keys, memos=[""] * len(keys), accounts=accounts,
            legs=(LegColumn([trader] * len(keys), amounts),
                  LegColumn([suspense] * len(keys), [-a for a in amounts])),
        )


async def test_column_entries_replay_like_post_entry(db: str) -> None:
    user_id = next_id()
    trader = AccountRef.trader_available(user_id)
    keys = [f"bulk:{user_id}:{n}" for n in range(3)]
    assert await _columns(keys, trader, [D(1), D(2), D(3)]) == 3
    # Same content again: replays, nothing posted.
    assert await _columns(keys, trader, [D(1), D(2), D(3)]) == 0
    assert await Ledger().balance(trader) == D(6)
    # The hashes are the ones post_entry computes: a replay through post_entry matches.
    result = await Ledger().post_entry(keys[1], "adjustment", [
        Leg(trader, D(2)), Leg(AccountRef.suspense(), D(-2))])
    assert result.replayed
    spec = EntrySpec(keys[1], "adjustment", (Leg(AccountRef.suspense(), D(-2)), Leg(trader, D(2))))
    assert await scalar("SELECT content_hash FROM ledger_entries WHERE idempotency_key = $1",
                        keys[1]) == spec.content_hash()
    with pytest.raises(IdempotencyConflict):
        await _columns(keys, trader, [D(1), D(5), D(3)])
    with pytest.raises(UnbalancedEntry):
        await _columns([f"bulk:{user_id}:x"], trader, [D("0.000000001")])
    assert await Ledger().balance(trader) == D(6)
    assert (await Ledger().check_invariants()).ok


async def test_read_ahead_batch_booked_meanwhile_is_not_booked_twice(db: str) -> None:
    user_id, uid = await make_trader("binance")
    await put_record("binance", uid, DAY, commission=D(10))
    engine = RebateEngine()
    scope = RecordScope(exchange_id="binance", uid=uid)
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        stale = await _prepare(conn, _SELECT_PENDING, "accrual", 100, 0, scope)
    assert stale.batch.booked == 1
    await engine.accrue_all(scope=scope)  # someone else books it first
    assert await engine._write_prepared(stale) is None  # re-checked under the lock: stale
    assert await Ledger().balance(AccountRef.trader_available(user_id)) == D(6)
    assert await scalar("SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE $1",
                        f"accrual:binance:{uid}:%") == 1

    # A revised record: read ahead, then re-valued by a re-accrual before the write.
    await put_record("binance", uid, DAY, commission=D(20))
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        stale = await _prepare(conn, _SELECT_PENDING, "accrual", 100, 0, scope)
    await RateService().set_trader_share(user_id, D("0.5"), valid_from=date(2020, 1, 1))
    await engine._walk(_SELECT_BOOKED, "reaccrual:r1", 100, scope)
    assert await engine._write_prepared(stale) is None
    await engine.accrue_all(scope=scope)
    # r2 booked once, on the re-accrued totals: 20 × 0.5.
    assert await Ledger().balance(AccountRef.trader_available(user_id)) == D(10)
    assert (await Ledger().check_invariants()).ok


async def test_walk_over_many_batches_with_clawbacks(db: str) -> None:
    user_id, uid = await make_trader("binance")
    days = [date(2025, 5, d) for d in range(1, 13)]
    for day in days:
        await put_record("binance", uid, day, commission=D(10))
    engine = RebateEngine()
    scope = RecordScope(exchange_id="binance", uid=uid)
    totals = await engine.accrue_all(batch_size=5, scope=scope)
    assert (totals.batches, totals.booked, totals.entries) == (3, 12, 12)
    trader = AccountRef.trader_available(user_id)
    assert await Ledger().balance(trader) == D(72)
    hold = await Ledger().hold(f"w:{user_id}", user_id, D(70))
    await Ledger().post_hold(hold.hold_id)
    for day in days[:6]:
        await put_record("binance", uid, day, commission=D(0))  # −6 each, 2 available
    totals = await engine.accrue_all(batch_size=4, scope=scope)
    assert (totals.booked, totals.entries) == (6, 6)
    assert totals.shortfall == D(34)
    assert await Ledger().balance(trader) == 0
    assert (await Ledger().check_invariants()).ok


async def test_commit_check_sees_every_entry_of_a_long_transaction(db: str) -> None:
    """Entries of other transactions interleave with this one's ids; the bounded check still
    finds the one unbalanced entry among many."""
    trader = AccountRef.trader_available(next_id())
    async with ledger_transaction() as conn:
        accounts = await lock_accounts(conn, [trader, AccountRef.suspense()])
    t_id, s_id = accounts[trader].id, accounts[AccountRef.suspense()].id
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        with pytest.raises(asyncpg.CheckViolationError, match="unbalanced"):
            async with conn.transaction():
                for first, last in ((1, 25), (26, 50)):
                    await conn.execute(
                        "INSERT INTO ledger_entries (idempotency_key, kind, content_hash) "
                        "SELECT 'long:' || g, 'test', 'x' "
                        "FROM generate_series($1::int, $2::int) g",
                        first, last)
                    if first == 1:  # another transaction's entry between this one's
                        await Ledger().post_entry(f"other:{t_id}", "adjustment", [
                            Leg(trader, D(1)), Leg(AccountRef.suspense(), D(-1))])
                await conn.execute(
                    "INSERT INTO ledger_postings (entry_id, account_id, amount) "
                    "SELECT e.id, a.account, CASE WHEN e.idempotency_key = 'long:37' "
                    "AND a.account = $2 THEN -2 ELSE a.amount END "
                    "FROM ledger_entries e, (VALUES ($1::bigint, 1), ($2::bigint, -1)) "
                    "AS a(account, amount) WHERE e.idempotency_key LIKE 'long:%'",
                    t_id, s_id)
    assert await scalar("SELECT count(*) FROM ledger_entries WHERE idempotency_key "
                        "LIKE 'long:%'") == 0
    assert await Ledger().balance(trader) == D(1)


async def test_concurrent_walks_book_every_record_version_once(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three walks over the same records at once, in small batches, so batches read ahead go
    stale: new records (a stale batch runs into the unique record_id) and then revisions (a
    stale batch finds the stored totals changed) are each booked exactly once."""
    stale = 0
    write_prepared = RebateEngine._write_prepared

    async def counting(self: RebateEngine, prepared: Any) -> Any:
        nonlocal stale
        batch = await write_prepared(self, prepared)
        stale += batch is None
        return batch

    monkeypatch.setattr(RebateEngine, "_write_prepared", counting)
    traders = [await make_trader("binance") for _ in range(3)]
    days = [date(2031, 3, d) for d in range(1, 11)]  # days no other test uses
    scope = RecordScope(exchange_id="binance", since_day=days[0], until_day=days[-1])

    async def walk_three_times_at_once() -> int:
        results = await asyncio.gather(
            *(RebateEngine().accrue_all(batch_size=4, scope=scope) for _ in range(3)))
        assert sum(r.entries for r in results) == sum(r.booked for r in results)
        return sum(r.booked for r in results)

    for commission, share_total in ((D(10), D(60)), (D(15), D(90))):
        for _, uid in traders:
            for day in days:
                await put_record("binance", uid, day, commission=commission)
        stale_before = stale
        assert await walk_three_times_at_once() == 30
        assert stale > stale_before  # the stale path really ran
        for user_id, _ in traders:
            assert await Ledger().balance(AccountRef.trader_available(user_id)) == share_total
    for _, uid in traders:
        assert await scalar("SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE $1",
                            f"accrual:binance:{uid}:2031-03-%") == 20
    assert (await Ledger().check_invariants()).ok
