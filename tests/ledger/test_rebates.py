"""services/rebates/: accrual per record version, shares with history, estimates, re-accrual."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from prometheus_client import REGISTRY

from services.ledger import AccountRef, Ledger
from services.models import EstimateBasis
from services.rebates import RateService, RebateEngine, RecordScope
from tests.ledger.helpers import make_trader, put_record, scalar, verify

D = Decimal
DAY = date(2025, 3, 10)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_accrual_splits_gross_by_the_exchange_default(db: str) -> None:
    user_id, uid = await make_trader("binance")
    await put_record("binance", uid, DAY, commission=D("1.00000001"), volume=D(1000))
    before = _metric("rebate_calculated_total", exchange="binance")
    totals = await RebateEngine().accrue_all()
    assert (totals.booked, totals.entries) == (1, 1)
    ledger = Ledger()
    # 0.6 × 1.00000001 = 0.600000006 → the trader gets 0.60000000, the service the rest.
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D("0.6")
    assert await ledger.balance(AccountRef.service_revenue()) == D("0.40000001")
    assert await ledger.balance(AccountRef.receivable("binance")) == D("-1.00000001")
    assert _metric("rebate_calculated_total", exchange="binance") == before + 1
    assert (await ledger.check_invariants()).ok


async def test_rerun_books_nothing(db: str) -> None:
    user_id, uid = await make_trader()
    await put_record("binance", uid, DAY, commission=D(2))
    engine = RebateEngine()
    await engine.accrue_all()
    again = await engine.accrue_all()
    assert (again.scanned, again.entries) == (0, 0)
    assert await scalar("SELECT count(*) FROM ledger_entries WHERE kind = 'accrual'") == 1


async def test_revision_books_only_the_difference(db: str) -> None:
    user_id, uid = await make_trader()
    engine, ledger = RebateEngine(), Ledger()
    await put_record("binance", uid, DAY, commission=D(10))
    await engine.accrue_all()
    await put_record("binance", uid, DAY, commission=D(15))
    await engine.accrue_all()
    await put_record("binance", uid, DAY, commission=D(15), volume=D(5))  # numbers unrelated
    totals = await engine.accrue_all()
    assert (totals.booked, totals.entries) == (1, 0)
    assert await _keys() == [f"accrual:binance:{uid}:2025-03-10:spot:r1",
                             f"accrual:binance:{uid}:2025-03-10:spot:r2"]
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(9)
    second = await scalar(
        "SELECT sum(p.amount) FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id "
        "JOIN ledger_accounts a ON a.id = p.account_id "
        "WHERE e.idempotency_key LIKE '%:r2' AND a.kind = 'trader_available'")
    assert second == D(3)


async def _keys() -> list[str]:
    from tortoise import Tortoise
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        rows = await conn.fetch("SELECT idempotency_key FROM ledger_entries "
                                "WHERE kind = 'accrual' ORDER BY id")
    return [row["idempotency_key"] for row in rows]


async def test_unverified_records_wait_until_the_account_is_verified(db: str) -> None:
    user_id, uid = await make_trader("okx", verified=False)
    await put_record("okx", uid, DAY, commission=D(5))
    engine = RebateEngine()
    assert (await engine.accrue_all()).booked == 0
    await verify("okx", uid)
    assert (await engine.accrue_account("okx", uid)).booked == 1
    assert await Ledger().balance(AccountRef.trader_available(user_id)) == D(3)


async def test_share_precedence_and_history(db: str) -> None:
    rates, engine, ledger = RateService(), RebateEngine(), Ledger()
    user_id, uid = await make_trader("bybit")
    other_id, other_uid = await make_trader("bybit")
    await rates.set_exchange_share("bybit", D("0.5"), valid_from=date(2025, 3, 1))
    vip = await rates.create_group("vip")
    await rates.set_group_share(vip, D("0.7"), valid_from=date(2025, 3, 5))
    await rates.set_group_share(vip, D("0.75"), "bybit", valid_from=date(2025, 3, 7))
    await rates.set_user_group(user_id, vip, valid_from=date(2025, 3, 3))
    await rates.set_trader_share(user_id, D("0.9"), "bybit", valid_from=date(2025, 3, 9))
    await rates.set_trader_share(user_id, None, "bybit", valid_from=date(2025, 3, 11))

    expected = {
        date(2025, 2, 28): (D("0.6"), "exchange"),  # before the first change: the old default
        date(2025, 3, 2): (D("0.5"), "exchange"),
        date(2025, 3, 4): (D("0.5"), "exchange"),  # in the group, but it has no rate yet
        date(2025, 3, 6): (D("0.7"), "group"),
        date(2025, 3, 8): (D("0.75"), "group"),  # the exchange-specific group rate wins
        date(2025, 3, 10): (D("0.9"), "trader"),
        date(2025, 3, 12): (D("0.75"), "group"),  # the trader override ended
    }
    for day, (share, source) in expected.items():
        quote = await rates.quote_share(user_id, "bybit", day)
        assert (quote.share, quote.source) == (share, source), day
        await put_record("bybit", uid, day, commission=D(100))
    await put_record("bybit", other_uid, date(2025, 3, 10), commission=D(100))
    await engine.accrue_all()
    assert await ledger.balance(AccountRef.trader_available(user_id)) == sum(
        (share * 100 for share, _ in expected.values()), D(0))
    assert await ledger.balance(AccountRef.trader_available(other_id)) == D(50)


async def test_rate_changes_are_not_retroactive_until_reaccrual(db: str) -> None:
    rates, engine, ledger = RateService(), RebateEngine(), Ledger()
    user_id, uid = await make_trader("mexc")
    await put_record("mexc", uid, DAY, commission=D(100))
    await put_record("mexc", uid, date(2025, 3, 11), commission=D(100))
    await engine.accrue_all()
    await rates.set_trader_share(user_id, D("0.8"), valid_from=DAY)  # backdated by an admin
    await engine.accrue_all()
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(120)

    scope = RecordScope(user_id=user_id, until_day=DAY)
    totals = await engine.reaccrue("fix-1", scope=scope)
    assert (totals.booked, totals.entries) == (1, 1)
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(140)
    again = await engine.reaccrue("fix-1", scope=scope)
    assert again.entries == 0
    everything = await engine.reaccrue("fix-2")
    assert everything.entries == 1  # 2025-03-11 is also under the backdated rate
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D(160)
    assert (await ledger.check_invariants()).ok


async def test_estimate_then_true_up(db: str) -> None:
    rates, engine, ledger = RateService(), RebateEngine(), Ledger()
    user_id, uid = await make_trader("bybit")
    await put_record("bybit", uid, DAY, commission=None, volume=D(10000), fee=D(8))
    assert (await engine.accrue_all()).waiting == 1  # no estimate rate yet
    await rates.set_estimate_rate("bybit", EstimateBasis.FEE, D("0.3"), valid_from=DAY)
    await rates.set_estimate_rate("bybit", EstimateBasis.VOLUME, D("0.0002"), "futures",
                                  valid_from=DAY)
    await put_record("bybit", uid, DAY, commission=None, volume=D(20000), product="futures")
    await engine.accrue_all()
    assert await scalar("SELECT count(*) FROM rebate_accruals WHERE estimated") == 2
    # spot: 8 × 0.3 = 2.4 gross; futures: 20000 × 0.0002 = 4 gross; trader 0.6 of each.
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D("3.84")

    await put_record("bybit", uid, DAY, commission=D("2.1"), volume=D(10000), fee=D(8))
    totals = await engine.accrue_all()
    assert (totals.booked, totals.entries) == (1, 1)
    assert await scalar("SELECT estimated FROM rebate_accruals WHERE product = 'spot'") is False
    assert await ledger.balance(AccountRef.trader_available(user_id)) == D("3.66")
    assert await ledger.balance(AccountRef.receivable("bybit")) == D("-6.1")
    assert (await ledger.check_invariants()).ok


async def test_clawback_beyond_available_goes_to_suspense(db: str) -> None:
    engine, ledger = RebateEngine(), Ledger()
    user_id, uid = await make_trader()
    await put_record("binance", uid, DAY, commission=D(10))
    await engine.accrue_all()
    hold = await ledger.hold("wd", user_id, D(5))
    await ledger.post_hold(hold.hold_id)
    await put_record("binance", uid, DAY, commission=D(0))  # the exchange took it all back
    totals = await engine.accrue_all()
    assert totals.shortfall == D(5)
    assert await ledger.balance(AccountRef.trader_available(user_id)) == 0
    assert await ledger.balance(AccountRef.suspense()) == D(-5)
    assert await ledger.balance(AccountRef.receivable("binance")) == 0
    assert (await ledger.check_invariants()).ok


async def test_concurrent_accruals_and_holds_lose_nothing(db: str) -> None:
    engine, ledger = RebateEngine(), Ledger()
    user_id, uid = await make_trader()
    for n in range(40):
        await put_record("binance", uid, date(2025, 1, 1 + n % 28), commission=D(1),
                         product=f"p{n // 28}")
    await put_record("binance", uid, date(2025, 2, 1), commission=D(5))
    await engine.accrue_pending(limit=1)  # 3.00 available to start with
    calls = [engine.accrue_pending(limit=3, after_id=n * 3) for n in range(14)]
    calls += [ledger.hold(f"h{n}", user_id, D("0.5")) for n in range(40)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, BaseException)
                  and type(r).__name__ != "InsufficientFunds"]
    assert not unexpected
    await engine.accrue_all()
    held = await ledger.balance(AccountRef.trader_held(user_id))
    available = await ledger.balance(AccountRef.trader_available(user_id))
    holds = await scalar("SELECT count(*) FROM ledger_holds")
    assert held == D("0.5") * holds
    assert available + held == D("0.6") * 45  # 41 records worth 45 gross
    assert available >= 0
    assert (await ledger.check_invariants()).ok
