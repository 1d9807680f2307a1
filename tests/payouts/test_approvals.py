"""Finance decisions: only the finance role (and admins when allowed) decides, never on their
own request, only on the state and revision they saw; double clicks and two approvers at once
give one decision; above the second threshold two different people must approve."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import AuditEntry, PayoutMethod, Role, User, WithdrawalStatus
from services.payouts.approvals import ApprovalService
from services.payouts.config import PayoutConfig
from services.payouts.requests import Destination
from services.payouts.views import WithdrawalDTO
from tests.payouts.helpers import funded_trader, staff, withdrawals

D = Decimal
pytestmark = pytest.mark.usefixtures("db")
INTERNAL = Destination(PayoutMethod.INTERNAL, exchange_id="okx")


def approvals() -> ApprovalService:
    return ApprovalService(Ledger(), PayoutConfig())


async def pending(amount: Decimal) -> WithdrawalDTO:
    user_id, _ = await funded_trader(amount + 100)
    made = await withdrawals().create(user_id, INTERNAL, amount)
    assert made.status is WithdrawalStatus.AWAITING_APPROVAL
    return made


async def test_one_approval_above_the_first_threshold() -> None:
    request = await pending(D("800"))
    finance = await staff()
    decision = await approvals().approve(request.id, finance, request.revision)
    assert (decision.ok, decision.code) == (True, "approved")
    assert decision.withdrawal is not None
    assert decision.withdrawal.status is WithdrawalStatus.APPROVED
    again = await approvals().approve(request.id, finance, request.revision)
    assert (again.ok, again.code) == (False, "already_decided")


async def test_two_different_approvers_above_the_second_threshold() -> None:
    request = await pending(D("6000"))
    assert request.approvals_needed == 2
    first, second = await staff(), await staff(Role.ADMIN)
    one = await approvals().approve(request.id, first, request.revision)
    assert (one.code, one.approvals) == ("approval_recorded", 1)
    twice = await approvals().approve(request.id, first, request.revision)
    assert (twice.ok, twice.code) == (False, "already_approved")
    two = await approvals().approve(request.id, second, request.revision)
    assert (two.code, two.approvals) == ("approved", 2)


async def test_who_may_decide_is_read_at_each_click() -> None:
    request = await pending(D("800"))
    trader, ops = await staff(Role.TRADER), await staff(Role.OPS)
    for person in (trader, ops):
        decision = await approvals().approve(request.id, person, request.revision)
        assert (decision.ok, decision.code) == (False, "not_allowed")
    finance = await staff()
    await User.filter(id=finance).update(role=Role.TRADER)  # revoked after the card was posted
    assert (await approvals().approve(request.id, finance, request.revision)).code == \
        "not_allowed"
    await User.filter(id=request.user_id).update(role=Role.FINANCE)
    assert (await approvals().approve(request.id, request.user_id, request.revision)).code == \
        "own_request"
    refused = await AuditEntry.filter(object_id=str(request.id),
                                      action="withdrawal.approve_refused").count()
    assert refused == 4  # every refused click is in the audit log


async def test_an_approval_of_an_older_revision_is_refused() -> None:
    request = await pending(D("800"))
    finance = await staff()
    decision = await approvals().approve(request.id, finance, request.revision - 1)
    assert (decision.ok, decision.code) == (False, "stale")


async def test_simultaneous_clicks_give_one_decision() -> None:
    request = await pending(D("800"))
    people = [await staff() for _ in range(5)]
    clicks = [approvals().approve(request.id, person, request.revision)
              for person in people for _ in range(4)]
    decisions = await asyncio.gather(*clicks)
    assert [d.code for d in decisions].count("approved") == 1
    assert {d.code for d in decisions} <= {"approved", "already_decided", "already_approved"}


async def test_reject_needs_a_reason_voids_the_hold_and_races_cancel() -> None:
    request = await pending(D("800"))
    finance = await staff()
    assert (await approvals().reject(request.id, finance, request.revision, "  ")).code == \
        "no_reason"
    service = withdrawals()
    outcomes = await asyncio.gather(
        approvals().reject(request.id, finance, request.revision, "Address on a sanctions list"),
        service.cancel(request.user_id, request.id), return_exceptions=True)
    winners = [o for o in outcomes if not isinstance(o, BaseException) and
               getattr(o, "ok", True)]
    assert len(winners) == 1  # one of them decided; the other was refused
    ledger = Ledger()
    assert await ledger.balance(AccountRef.trader_held(request.user_id)) == 0
    assert await ledger.balance(AccountRef.trader_available(request.user_id)) == D("900")


async def test_paid_by_hand_needs_a_real_transaction_used_once() -> None:
    from services.models import Withdrawal

    first, second = await pending(D("800")), await pending(D("700"))
    await Withdrawal.filter(id__in=[first.id, second.id]).update(status=WithdrawalStatus.ERROR)
    finance = await staff()
    service = approvals()
    assert (await service.mark_paid(first.id, finance, first.revision, "ok")).code == \
        "no_tx_hash"
    tx = "ab" * 32
    assert (await service.mark_paid(first.id, finance, first.revision, tx)).code == \
        "paid_manually"
    assert (await service.mark_paid(second.id, finance, second.revision, tx)).code == \
        "tx_hash_used"
