"""The payout engine against an exchange that behaves as the PayoutSource contract says (the
simulator-backed adapters have their own tests): every path ends final exactly once, with the
ledger agreeing to the last 1e-8, and nothing is sent twice whatever the exchange answers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exchanges.payouts import (
    PayoutCapabilities,
    PayoutOutcomeUnknown,
    PayoutRefused,
    PayoutSource,
    PayoutState,
    PayoutStatus,
)
from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import Notification, PayoutMethod, User, Withdrawal, WithdrawalStatus
from services.payouts.approvals import ApprovalService
from services.payouts.config import PayoutConfig
from services.payouts.engine import PayoutEngine
from services.payouts.requests import Destination
from services.payouts.views import WithdrawalDTO
from tests.payouts.helpers import TRON, funded_trader, ready_address, staff, withdrawals

D = Decimal
pytestmark = pytest.mark.usefixtures("db")


@dataclass
class FakeExchange:
    """One exchange account: withdrawals by client id, and what the next call does."""

    sent: dict[str, PayoutStatus] = field(default_factory=dict)
    calls: int = 0
    next_fault: str = ""  # refuse | timeout_after | timeout_before | ""
    history_down: bool = False
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def advance(self, client_id: str, state: PayoutState) -> None:
        old = self.sent[client_id]
        self.sent[client_id] = PayoutStatus(old.client_id, old.exchange_withdrawal_id, state,
                                            f"0x{client_id}" if state is not PayoutState.PENDING
                                            else None, None, state.value)


class FakeSource(PayoutSource):
    exchange_id = "okx"
    payout_capabilities = PayoutCapabilities(onchain=True, internal=True,
                                             networks=frozenset({"TRC20"}))

    def __init__(self, exchange: FakeExchange) -> None:
        self.exchange = exchange

    async def _accept(self, client_id: str) -> str:
        self.exchange.calls += 1
        fault, self.exchange.next_fault = self.exchange.next_fault, ""
        if fault == "refuse":
            raise PayoutRefused("Insufficient balance", code="58350")
        if fault == "timeout_before":
            raise PayoutOutcomeUnknown("timed out")
        if client_id in self.exchange.sent:
            raise PayoutRefused("Duplicate clientId", code="58207", duplicate=True)
        wd_id = str(next(self.exchange.ids))
        self.exchange.sent[client_id] = PayoutStatus(client_id, wd_id, PayoutState.PENDING,
                                                     None, None, "0")
        if fault == "timeout_after":
            raise PayoutOutcomeUnknown("timed out after sending")
        return wd_id

    async def withdraw_onchain(self, *, client_id: str, asset: str, network: str,
                               amount: Decimal, address: str, tag: str | None = None) -> str:
        return await self._accept(client_id)

    async def transfer_internal(self, *, client_id: str, asset: str, amount: Decimal,
                                to_uid: str) -> str:
        return await self._accept(client_id)

    async def find_withdrawal(self, client_id: str) -> PayoutStatus | None:
        if self.exchange.history_down:
            raise PayoutOutcomeUnknown("history unavailable")
        return self.exchange.sent.get(client_id)

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def engine_for(exchange: FakeExchange, clock: Callable[[], datetime] | None = None
               ) -> PayoutEngine:
    return PayoutEngine(Ledger(), PayoutConfig(), lambda _: FakeSource(exchange), clock=clock)


async def approved_request(amount: Decimal = Decimal(100)) -> WithdrawalDTO:
    service = withdrawals()
    user_id, _ = await funded_trader(D("400"))
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    made = await service.create(user_id, Destination(PayoutMethod.ONCHAIN, "USDT-TRC20",
                                                     address.id), amount)
    assert made.status is WithdrawalStatus.APPROVED
    return made


async def status_of(withdrawal_id: int) -> WithdrawalStatus:
    return (await Withdrawal.get(id=withdrawal_id)).status


async def books(user_id: int) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    ledger = Ledger()
    return (await ledger.balance(AccountRef.trader_available(user_id)),
            await ledger.balance(AccountRef.trader_held(user_id)),
            await ledger.balance(AccountRef.payouts_in_transit()),
            await ledger.balance(AccountRef.fees()))


async def test_a_payout_goes_through_every_state_and_posts_once() -> None:
    exchange = FakeExchange()
    engine = engine_for(exchange)
    request = await approved_request()
    _, _, transit_before, fees_before = await books(request.user_id)
    assert await engine.pay(request.id) == "submitted"
    assert await engine.pay(request.id) is None  # no second claim
    exchange.advance(request.client_id, PayoutState.SENT)
    assert await engine.reconcile(request.id) == "sent"
    exchange.advance(request.client_id, PayoutState.COMPLETED)
    results = await asyncio.gather(*(engine.reconcile(request.id) for _ in range(5)))
    assert set(results) == {"completed"}
    assert exchange.calls == 1
    available, held, transit, fees = await books(request.user_id)
    assert (available, held) == (D("300"), D("0"))
    assert (transit - transit_before, fees - fees_before) == (D("99"), D("1"))
    steps = await Notification.filter(user_id=request.user_id).values_list("text_key", flat=True)
    assert {"notify.withdrawal.accepted", "notify.withdrawal.sent",
            "notify.withdrawal.completed"} <= set(steps)
    sent = await Notification.get(dedupe_key=f"withdrawal:{request.id}:sent")
    assert f"0x{request.client_id}" in str(sent.params)  # the hash and its explorer link


async def test_a_refusal_waits_for_finance_and_a_retry_uses_a_fresh_client_id() -> None:
    exchange = FakeExchange(next_fault="refuse")
    engine = engine_for(exchange)
    request = await approved_request()
    assert await engine.pay(request.id) == "error"
    errored = await Withdrawal.get(id=request.id)
    assert errored.client_id != request.client_id and "58350" in (errored.reason or "")
    assert (await engine.tick()).paid == 0  # an error is not retried by itself
    finance = await staff()
    retry = await ApprovalService(Ledger(), PayoutConfig()).retry(request.id, finance,
                                                                   errored.revision)
    assert retry.ok
    assert await engine.pay(request.id) == "submitted"
    assert list(exchange.sent) == [errored.client_id]


async def test_an_answer_lost_after_sending_is_found_not_resent() -> None:
    exchange = FakeExchange(next_fault="timeout_after")
    clock = Clock()
    engine = engine_for(exchange, clock)
    request = await approved_request()
    assert await engine.pay(request.id) == "unknown"
    clock.now += timedelta(minutes=5)
    assert await engine.reconcile(request.id) == "submitted"
    assert exchange.calls == 1 and len(exchange.sent) == 1


async def test_nothing_sent_is_sent_again_under_the_same_client_id() -> None:
    exchange = FakeExchange(next_fault="timeout_before")
    clock = Clock()
    engine = engine_for(exchange, clock)
    request = await approved_request()
    assert await engine.pay(request.id) == "unknown"
    assert await engine.reconcile(request.id) == "unknown"  # within the grace: not yet
    clock.now += timedelta(minutes=5)
    exchange.history_down = True
    assert await engine.reconcile(request.id) == "unknown"  # cannot ask: wait
    exchange.history_down = False
    assert await engine.reconcile(request.id) == "submitted"
    assert list(exchange.sent) == [request.client_id] and exchange.calls == 2


async def test_a_crash_while_submitting_is_reconciled_and_never_doubled() -> None:
    exchange = FakeExchange()
    clock = Clock()
    engine = engine_for(exchange, clock)
    request = await approved_request()
    await engine.pay(request.id)  # sent; now pretend the process died before recording it
    await Withdrawal.filter(id=request.id).update(status=WithdrawalStatus.SUBMITTING)
    assert await engine.reconcile(request.id) == "submitting"  # maybe still in flight
    clock.now += timedelta(minutes=5)
    assert await engine.reconcile(request.id) == "submitted"
    assert exchange.calls == 1


async def test_failed_after_acceptance_gives_the_money_back() -> None:
    exchange = FakeExchange()
    engine = engine_for(exchange)
    request = await approved_request()
    await engine.pay(request.id)
    exchange.advance(request.client_id, PayoutState.FAILED)
    assert await engine.reconcile(request.id) == "failed"
    available, held, _, _ = await books(request.user_id)
    assert (available, held) == (D("400"), D("0"))
    assert await Notification.exists(dedupe_key=f"withdrawal:{request.id}:failed")


async def test_frozen_payouts_send_nothing_and_concurrent_ticks_send_once() -> None:
    exchange = FakeExchange()
    request = await approved_request()
    from tortoise import Tortoise

    connection = Tortoise.get_connection("default")
    await connection.execute_query(
        "INSERT INTO ledger_checks (ok, payouts_frozen, violations, checked_at, duration_ms) "
        "VALUES (false, true, '[]', now(), 1)")
    assert (await engine_for(exchange).tick()).paid == 0
    assert exchange.calls == 0
    await connection.execute_query(
        "INSERT INTO ledger_checks (ok, payouts_frozen, violations, checked_at, duration_ms) "
        "VALUES (true, false, '[]', now(), 1)")
    await asyncio.gather(*(engine_for(exchange).tick() for _ in range(4)))
    assert exchange.calls == 1 and await status_of(request.id) is WithdrawalStatus.SUBMITTED


async def test_a_payout_confirmed_between_two_looks_still_tells_the_transaction() -> None:
    exchange = FakeExchange()
    engine = engine_for(exchange)
    request = await approved_request()
    await engine.pay(request.id)
    exchange.advance(request.client_id, PayoutState.COMPLETED)  # never seen as "sent"
    assert await engine.reconcile(request.id) == "completed"
    sent = await Notification.get(dedupe_key=f"withdrawal:{request.id}:sent")
    assert f"0x{request.client_id}" in str(sent.params) and "tronscan" in str(sent.params)
    assert await Notification.exists(dedupe_key=f"withdrawal:{request.id}:completed")


async def test_a_refusal_of_a_resend_proves_nothing_and_keeps_the_client_id() -> None:
    # The first send's answer was lost; the exchange's history shows nothing yet; the resend
    # under the same id is refused (say, for the balance the first one used): still unknown,
    # same id, never a fresh id that a Retry could pay a second time under.
    exchange = FakeExchange(next_fault="timeout_before")
    clock = Clock()
    engine = engine_for(exchange, clock)
    request = await approved_request()
    assert await engine.pay(request.id) == "unknown"
    clock.now += timedelta(minutes=5)
    exchange.next_fault = "refuse"
    assert await engine.reconcile(request.id) == "unknown"
    row = await Withdrawal.get(id=request.id)
    assert row.client_id == request.client_id and "58350" in (row.reason or "")


async def test_one_tick_at_a_time_and_a_tick_keeps_to_its_budget() -> None:
    exchange = FakeExchange()
    engine = engine_for(exchange)
    requests = [await approved_request() for _ in range(3)]
    from tortoise import Tortoise

    async with Tortoise.get_connection("default").acquire_connection() as holder:
        await holder.fetchval("SELECT pg_advisory_lock(hashtext('payout_tick'))")
        try:
            assert (await engine.tick()).skipped  # another worker's tick holds it
        finally:
            await holder.execute("SELECT pg_advisory_unlock(hashtext('payout_tick'))")
    assert exchange.calls == 0
    assert (await engine.tick(budget=-1)).paid == 0  # over its budget before the first row
    report = await engine.tick()
    assert (report.skipped, report.paid) == (False, len(requests))


async def test_a_trader_banned_after_approval_is_not_paid() -> None:
    exchange = FakeExchange()
    engine = engine_for(exchange)
    request = await approved_request()
    await User.filter(id=request.user_id).update(is_banned=True)
    assert await engine.pay(request.id) == "error"
    errored = await Withdrawal.get(id=request.id)
    assert (errored.reason or "").startswith("trader_banned")
    assert exchange.calls == 0 and not exchange.sent  # nothing reached the exchange
    assert (await engine.tick()).paid == 0
    available, held, _, _ = await books(request.user_id)
    assert (available, held) == (D("300"), D("100"))  # still held, for finance to decide
    finance = await staff()
    approvals = ApprovalService(Ledger(), PayoutConfig())
    assert (await approvals.retry(request.id, finance, errored.revision)).ok
    assert await engine.pay(request.id) == "error"  # the ban still stands: still not sent
    again = await Withdrawal.get(id=request.id)
    assert (await approvals.reject(request.id, finance, again.revision, "Account banned")).ok
    assert await books(request.user_id) == (D("400"), D("0"), *(await books(request.user_id))[2:])
    assert exchange.calls == 0
