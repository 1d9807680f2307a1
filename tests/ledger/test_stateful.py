"""Random sequences of accruals, revisions, holds, posts, voids and replays: after every step the
ledger's invariants hold and the books agree with what was booked per record."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from tortoise import Tortoise

from services.exchange_catalog import ExchangeCatalog
from services.ledger import (
    AccountRef,
    HoldAlreadyResolved,
    IdempotencyConflict,
    InsufficientFunds,
    Ledger,
)
from services.models import EstimateBasis, HoldState
from services.rebates import RateService, RebateEngine
from services.seed import seed_reference_data
from tests.conftest import truncate_all
from tests.ledger.helpers import make_trader, put_record, verify

D = Decimal
T = TypeVar("T")
START = date(2025, 6, 1)
amounts = st.decimals(min_value=D("0"), max_value=D("50"), places=8)


class LedgerMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Awaitable[T]) -> T:
        # The machine runs in a worker thread; the ORM lives on the test's event loop.
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=60)

    @initialize()
    def setup(self) -> None:
        self.ledger, self.engine = Ledger(), RebateEngine()
        self.traders: list[tuple[int, str, str]] = []
        self.unverified: list[tuple[str, str]] = []
        self.records: list[tuple[str, str, date, str]] = []
        self.holds: list[int] = []
        self.hold_keys: dict[str, tuple[int, Decimal]] = {}

        async def prepare() -> None:
            await truncate_all()
            await seed_reference_data(ExchangeCatalog())
            await RateService().set_estimate_rate("bybit", EstimateBasis.VOLUME, D("0.0003"),
                                                  valid_from=START)
            for exchange_id in ("binance", "bybit", "binance"):
                user_id, uid = await make_trader(exchange_id)
                self.traders.append((user_id, exchange_id, uid))
            user_id, uid = await make_trader("bybit", verified=False)
            self.traders.append((user_id, "bybit", uid))
            self.unverified.append(("bybit", uid))

        self.run(prepare())

    @rule(trader=st.integers(0, 3), day=st.integers(0, 4), commission=amounts | st.none(),
          volume=amounts)
    def put(self, trader: int, day: int, commission: Decimal | None, volume: Decimal) -> None:
        """A new record, or a revision of an existing one (same trader, day and product)."""
        _, exchange_id, uid = self.traders[trader]
        when = START + timedelta(days=day)
        self.run(put_record(exchange_id, uid, when, commission=commission, volume=volume * 1000))

    @rule(batch=st.integers(1, 6))
    def accrue(self, batch: int) -> None:
        self.run(self.engine.accrue_all(batch_size=batch))

    @rule()
    def accrue_twice(self) -> None:
        self.run(self.engine.accrue_all())
        again = self.run(self.engine.accrue_all())
        assert again.entries == 0

    @precondition(lambda self: bool(self.unverified))
    @rule()
    def verify_account(self) -> None:
        exchange_id, uid = self.unverified.pop()
        self.run(verify(exchange_id, uid))

    @rule(trader=st.integers(0, 3), amount=st.decimals(min_value=D("0.00000001"),
                                                        max_value=D("20"), places=8))
    def hold(self, trader: int, amount: Decimal) -> None:
        user_id = self.traders[trader][0]
        available = self.run(self.ledger.balance(AccountRef.trader_available(user_id)))
        key = f"h{len(self.hold_keys)}"
        try:
            result = self.run(self.ledger.hold(key, user_id, amount))
        except InsufficientFunds:
            assert amount > available
            return
        assert amount <= available
        self.holds.append(result.hold_id)
        self.hold_keys[key] = (user_id, amount)

    @precondition(lambda self: bool(self.hold_keys))
    @rule(data=st.data())
    def replay_hold(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.hold_keys)))
        user_id, amount = self.hold_keys[key]
        assert self.run(self.ledger.hold(key, user_id, amount)).replayed

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), post=st.booleans(), fee=st.decimals(D(0), D("0.1"), places=8))
    def resolve(self, data: st.DataObject, post: bool, fee: Decimal) -> None:
        hold_id = data.draw(st.sampled_from(self.holds))
        before = self.run(self.ledger.get_hold(hold_id))
        fee = min(fee, before.amount)
        call = self.ledger.post_hold(hold_id, fee=fee) if post else self.ledger.void_hold(hold_id)
        target = HoldState.POSTED if post else HoldState.VOIDED
        try:
            result = self.run(call)
        except HoldAlreadyResolved:
            assert before.state not in (HoldState.PENDING, target)
            return
        except IdempotencyConflict:  # a replayed post with another fee
            assert before.state is target
            return
        assert result.state is target
        assert result.replayed == (before.state is target)

    @invariant()
    def books_are_consistent(self) -> None:
        if not hasattr(self, "ledger"):
            return
        report = self.run(self.ledger.check_invariants())
        assert report.ok, report
        totals = self.run(_totals())
        # What traders have (available + held + paid out) is what they earned, plus what a
        # clawback could not take back: that is owed to us, a debit on suspense (≤ 0). From the
        # postings summing to zero: traders + paid = gross − service − suspense.
        assert totals["traders"] + totals["paid_out"] == totals["earned"] - totals["suspense"]
        assert totals["receivable"] == -totals["gross"]
        assert totals["revenue"] == totals["service"]
        assert totals["suspense"] <= 0


async def _totals() -> dict[str, Decimal]:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        row = await conn.fetchrow(
            """
            SELECT
              (SELECT coalesce(sum(balance), 0) FROM ledger_accounts
               WHERE kind IN ('trader_available', 'trader_held')) AS traders,
              (SELECT coalesce(sum(amount), 0) FROM ledger_holds WHERE state = 'posted')
                AS paid_out,
              (SELECT coalesce(sum(trader_amount), 0) FROM rebate_accruals) AS earned,
              (SELECT coalesce(sum(gross), 0) FROM rebate_accruals) AS gross,
              (SELECT coalesce(sum(service_amount), 0) FROM rebate_accruals) AS service,
              (SELECT coalesce(sum(balance), 0) FROM ledger_accounts
               WHERE kind = 'exchange_receivable') AS receivable,
              (SELECT coalesce(sum(balance), 0) FROM ledger_accounts
               WHERE kind = 'service_revenue') AS revenue,
              (SELECT coalesce(sum(balance), 0) FROM ledger_accounts WHERE kind = 'suspense')
                AS suspense
            """
        )
    return dict(row)


async def test_ledger_state_machine(db: str) -> None:
    LedgerMachine.loop = asyncio.get_running_loop()
    # Derandomized on CI, so that a landing does not depend on luck; random exploration on
    # developers' machines keeps looking for new counterexamples (this one found a sign error).
    config = settings(max_examples=12, stateful_step_count=25, deadline=None,
                      derandomize=os.environ.get("CI") == "true",
                      suppress_health_check=list(HealthCheck))

    def run() -> None:
        run_state_machine_as_test(LedgerMachine, settings=config)

    await asyncio.to_thread(run)

