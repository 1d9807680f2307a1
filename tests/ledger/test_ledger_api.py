"""services/ledger/: rounding, entries and replays, holds exactly once, races, invariants."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tortoise import Tortoise

from services.ledger import (
    AccountRef,
    HoldAlreadyResolved,
    IdempotencyConflict,
    InsufficientFunds,
    Ledger,
    Leg,
    UnbalancedEntry,
    round_money,
    split_gross,
)
from services.models import HoldState
from tests.ledger.helpers import next_id, scalar

D = Decimal

money = st.decimals(min_value=D("-1000000"), max_value=D("1000000"), places=8)
shares = st.decimals(min_value=D(0), max_value=D(1), places=6)


@given(gross=money, share=shares)
@settings(max_examples=300, deadline=None)
def test_split_is_exact_and_never_favours_the_trader(gross: Decimal, share: Decimal) -> None:
    trader, service = split_gross(gross, share)
    assert trader + service == gross
    assert trader == round_money(trader)
    assert abs(trader) <= abs(gross * share)
    assert abs(gross * share - trader) < D("0.00000001")


async def test_round_money_matches_sql_trunc(db: str) -> None:
    values = [D("1.123456789"), D("-1.123456789"), D("0.000000009"), D("2.5"), D("-0.000000001")]
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        for value in values:
            assert await conn.fetchval("SELECT trunc($1::numeric, 8)", value) == round_money(value)


async def _fund(ledger: Ledger, user_id: int, amount: Decimal) -> None:
    await ledger.post_entry(f"fund:{user_id}:{amount}", "adjustment", [
        Leg(AccountRef.trader_available(user_id), amount), Leg(AccountRef.suspense(), -amount),
    ])


async def test_post_entry_moves_balances(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D("10.5"))
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D("10.5")
    assert await ledger.balance(AccountRef.suspense()) == D("-10.5")


async def test_replay_with_same_content_returns_first_result(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    legs = [Leg(AccountRef.trader_available(user_id), D(3)), Leg(AccountRef.suspense(), D(-3))]
    first = await ledger.post_entry("replay:1", "adjustment", legs, memo="first")
    again = await ledger.post_entry("replay:1", "adjustment", legs, memo="memo is not content")
    assert (again.entry_id, again.replayed, first.replayed) == (first.entry_id, True, False)
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(3)


async def test_replay_with_different_content_raises(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    account = AccountRef.trader_available(user_id)
    await ledger.post_entry("replay:2", "adjustment",
                            [Leg(account, D(3)), Leg(AccountRef.suspense(), D(-3))])
    with pytest.raises(IdempotencyConflict):
        await ledger.post_entry("replay:2", "adjustment",
                                [Leg(account, D(4)), Leg(AccountRef.suspense(), D(-4))])
    assert await ledger.balance(account) == D(3)


@pytest.mark.parametrize("legs", [
    [Leg(AccountRef.suspense(), D(1)), Leg(AccountRef.fees(), D(-2))],
    [Leg(AccountRef.suspense(), D(1))],
    [Leg(AccountRef.suspense(), D("0.000000001")), Leg(AccountRef.fees(), D("-0.000000001"))],
    [Leg(AccountRef.suspense(), D(1)), Leg(AccountRef.fees("BTC"), D(-1))],
])
async def test_bad_entries_are_refused_before_the_database(db: str, legs: list[Leg]) -> None:
    with pytest.raises(UnbalancedEntry):
        await Ledger().post_entry("bad", "adjustment", legs)


async def test_overdraft_raises_insufficient_funds(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(1))
    with pytest.raises(InsufficientFunds):
        await ledger.post_entry("overdraft", "adjustment", [
            Leg(AccountRef.trader_available(user_id), D(-2)), Leg(AccountRef.suspense(), D(2)),
        ])
    assert await scalar("SELECT count(*) FROM ledger_entries "
                        "WHERE idempotency_key = 'overdraft'") == 0


async def test_hold_then_post(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    hold = await ledger.hold("wd:1", user_id, D(4))
    assert hold.state is HoldState.PENDING
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(6)
    assert await ledger.balance(AccountRef.trader_held(user_id)) == D(4)
    posted = await ledger.post_hold(hold.hold_id, fee=D("0.5"))
    assert (posted.state, posted.replayed, posted.fee) == (HoldState.POSTED, False, D("0.5"))
    assert await ledger.balance(AccountRef.trader_held(user_id)) == 0
    assert await ledger.balance(AccountRef.payouts_in_transit()) == D("3.5")
    assert await ledger.balance(AccountRef.fees()) == D("0.5")
    again = await ledger.post_hold(hold.hold_id, fee=D("0.5"))
    assert (again.replayed, again.resolve_entry_id) == (True, posted.resolve_entry_id)
    with pytest.raises(IdempotencyConflict):
        await ledger.post_hold(hold.hold_id, fee=D("0.6"))
    with pytest.raises(HoldAlreadyResolved):
        await ledger.void_hold(hold.hold_id)
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(6)


async def test_hold_then_void(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    hold = await ledger.hold("wd:2", user_id, D(4))
    voided = await ledger.void_hold(hold.hold_id)
    assert voided.state is HoldState.VOIDED
    assert (await ledger.void_hold(hold.hold_id)).replayed
    with pytest.raises(HoldAlreadyResolved):
        await ledger.post_hold(hold.hold_id)
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(10)
    assert await ledger.balance(AccountRef.trader_held(user_id)) == 0


async def test_hold_replay_and_conflict(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    first = await ledger.hold("wd:3", user_id, D(4))
    again = await ledger.hold("wd:3", user_id, D(4))
    assert (again.hold_id, again.replayed) == (first.hold_id, True)
    with pytest.raises(IdempotencyConflict):
        await ledger.hold("wd:3", user_id, D(5))
    assert await ledger.balance(AccountRef.trader_held(user_id)) == D(4)


async def test_hold_beyond_available_is_refused(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(1))
    with pytest.raises(InsufficientFunds):
        await ledger.hold("wd:4", user_id, D("1.00000001"))
    with pytest.raises(InsufficientFunds):
        await ledger.hold("wd:5", next_id(), D(1))  # a trader with no account yet
    assert await scalar("SELECT count(*) FROM ledger_holds") == 0


async def test_concurrent_holds_never_overdraw(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    results = await asyncio.gather(
        *(ledger.hold(f"race:{i}", user_id, D(3)) for i in range(12)), return_exceptions=True
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 3
    assert all(isinstance(r, InsufficientFunds) for r in results if isinstance(r, BaseException))
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(1)
    assert await ledger.balance(AccountRef.trader_held(user_id)) == D(9)


async def test_concurrent_post_and_void_resolve_exactly_once(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(100))
    for i in range(5):
        hold = await ledger.hold(f"pv:{i}", user_id, D(10))
        calls = [ledger.post_hold(hold.hold_id) if n % 2 else ledger.void_hold(hold.hold_id)
                 for n in range(6)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        firsts = [r for r in results if not isinstance(r, BaseException) and not r.replayed]
        assert len(firsts) == 1
        winner = firsts[0].state
        for r in results:
            if isinstance(r, BaseException):
                assert isinstance(r, HoldAlreadyResolved)
            else:
                assert r.state is winner
    resolving = await scalar("SELECT count(*) FROM ledger_entries WHERE kind IN "
                             "('hold_post', 'hold_void')")
    assert resolving == 5
    report = await ledger.check_invariants()
    assert report.ok, report


async def test_invariants_pass_and_detect_tampering(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    report = await ledger.check_invariants()
    assert report.ok and not report.payouts_frozen
    assert not await ledger.payouts_frozen()

    client = Tortoise.get_connection("default")
    # Bypass the triggers the way only a superuser could, to corrupt the cache.
    async with client.acquire_connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("UPDATE ledger_accounts SET balance = balance + 1 "
                           "WHERE owner = $1", str(user_id))
    report = await ledger.check_invariants()
    assert not report.ok and report.payouts_frozen
    assert report.violations["balance_mismatch"] == 1
    assert await ledger.payouts_frozen()

    async with client.acquire_connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("UPDATE ledger_accounts SET balance = balance - 1 "
                           "WHERE owner = $1", str(user_id))
        entry = await conn.fetchval(
            "INSERT INTO ledger_entries (idempotency_key, kind, content_hash) "
            "VALUES ('forged', 'x', 'x') RETURNING id")
        await conn.execute("INSERT INTO ledger_postings (entry_id, account_id, amount) "
                           "SELECT $1, id, 7 FROM ledger_accounts WHERE owner = $2",
                           entry, str(user_id))
    report = await ledger.check_invariants()
    assert report.violations["unbalanced_assets"] == 1
    assert report.unbalanced_assets == {"USDT": D(7)}
    assert report.payouts_frozen


async def test_stale_holds_are_reported_without_freezing_payouts(db: str) -> None:
    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    await ledger.hold("stale", user_id, D(1))
    assert (await ledger.check_invariants(stale_hold_hours=1)).ok
    report = await ledger.check_invariants(stale_hold_hours=0)
    assert report.violations["stale_holds"] == 1
    assert not report.ok and not report.payouts_frozen
    assert not await ledger.payouts_frozen()


async def test_ledger_joins_an_outer_transaction(db: str) -> None:
    from tortoise.transactions import in_transaction

    ledger, user_id = Ledger(), next_id()
    await _fund(ledger, user_id, D(10))
    with pytest.raises(RuntimeError):
        async with in_transaction("default"):
            await ledger.hold("outer", user_id, D(2))
            raise RuntimeError("the caller fails after the hold")
    assert await ledger.balance(AccountRef.trader_held(user_id)) == 0
    assert await scalar("SELECT count(*) FROM ledger_holds") == 0
