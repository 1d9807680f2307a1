"""Manual ledger adjustments (services/adjustments/) on real PostgreSQL: the input refusals; at
or below the threshold applied at once with the right postings; above it a second, different
admin (the requester's own approval refused and audited); double and simultaneous approvals
apply once; a debit above the balance is refused cleanly; 20 concurrent debits against one
balance; the audit rows' before/after; replays by key; the ledger's invariants afterwards."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from tortoise import Tortoise

from services.adjustments import (
    AdjustmentError,
    AdjustmentRefusal,
    AdjustmentService,
    checked_input,
)
from services.ledger import Ledger
from services.models import AdjustmentStatus, AuditEntry, LedgerAdjustment, Role, User
from tests.payouts.helpers import funded_trader, staff

D = Decimal
THRESHOLD = D("100")


@pytest.fixture
def service() -> AdjustmentService:
    return AdjustmentService(second_admin_above=THRESHOLD)


async def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(args))


async def derived_available(user_id: int) -> Decimal:
    """The trader's available balance recomputed from the postings (not the cached balance,
    not the service's code)."""
    found = await rows(
        "SELECT coalesce(sum(p.amount), 0) AS total FROM ledger_postings p "
        "JOIN ledger_accounts a ON a.id = p.account_id "
        "WHERE a.kind = 'trader_available' AND a.owner = $1", str(user_id))
    return D(found[0]["total"])


async def cached_available(user_id: int) -> Decimal:
    found = await rows("SELECT balance FROM ledger_accounts WHERE kind = 'trader_available' "
                       "AND owner = $1", str(user_id))
    return D(found[0]["balance"]) if found else D(0)


async def postings_of(entry_id: int) -> dict[str, Decimal]:
    found = await rows(
        "SELECT a.kind, a.owner, p.amount FROM ledger_postings p JOIN ledger_accounts a "
        "ON a.id = p.account_id WHERE p.entry_id = $1", entry_id)
    return {f"{r['kind']}:{r['owner']}": D(r["amount"]) for r in found}


async def adjustment_entries() -> int:
    found = await rows("SELECT count(*) AS n FROM ledger_entries WHERE kind = 'adjustment'")
    return int(found[0]["n"])


@pytest.mark.parametrize("direction, amount, reason, document, code", [
    ("gift", "5", "why", None, "bad_direction"),
    ("credit", "0", "why", None, "bad_amount"),
    ("credit", "-5", "why", None, "bad_amount"),
    ("credit", "1e3", "why", None, "bad_amount"),
    ("credit", "NaN", "why", None, "bad_amount"),
    ("credit", 5, "why", None, "bad_amount"),  # a JSON number, not the exact string
    ("credit", "0.000000001", "why", None, "too_precise"),
    ("credit", "1000000.00000001", "why", None, "too_large"),
    ("credit", "5", "   ", None, "no_reason"),
    ("credit", "5", None, None, "no_reason"),
    ("credit", "5", "x" * 501, None, "reason_too_long"),
    ("credit", "5", "why", "d" * 201, "bad_document"),
    ("credit", "5", "why", 17, "bad_document"),
])
def test_the_inputs_refused(direction: str, amount: object, reason: object, document: object,
                            code: str) -> None:
    with pytest.raises(AdjustmentError) as refused:
        checked_input(direction, amount, reason, document)
    assert refused.value.refusal.value == code


def test_the_inputs_accepted() -> None:
    checked = checked_input("debit", " 12,5 ", "  a reason ", "  ")
    assert (checked.amount, checked.reason, checked.document_ref) == (D("12.5"), "a reason",
                                                                      None)
    assert checked_input("credit", "1000000", "r", "INV-7").amount == D("1000000")
    assert checked_input("credit", "0.00000001", "r").amount == D("0.00000001")


async def test_at_or_below_the_threshold_it_is_applied_at_once(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(40))
    admin = await staff(Role.ADMIN)
    outcome = await service.request(admin, trader, "credit", "100", "goodwill", "TCK-1", "k-1")
    applied = outcome.adjustment
    assert (applied.status, applied.decided_by, outcome.replayed) == (
        AdjustmentStatus.APPLIED, None, False)
    assert applied.entry_id is not None
    assert await postings_of(applied.entry_id) == {f"trader_available:{trader}": D(100),
                                                   "adjustments:": D(-100)}
    debit = (await service.request(admin, trader, "debit", "30.12345678", "clawback", None,
                                   "k-2")).adjustment
    assert debit.entry_id is not None
    assert await postings_of(debit.entry_id) == {f"trader_available:{trader}": D("-30.12345678"),
                                                 "adjustments:": D("30.12345678")}
    expected = D(40) + D(100) - D("30.12345678")
    assert await derived_available(trader) == await cached_available(trader) == expected
    memo = await rows("SELECT memo, actor FROM ledger_entries WHERE id = $1", applied.entry_id)
    assert memo[0] == {"memo": f"adjustment #{applied.id}: goodwill [TCK-1]",
                       "actor": f"user:{admin}"}
    # The audit: the request, then the application with the balance before and after.
    audit = await AuditEntry.filter(object_type="adjustment",
                                    object_id=str(applied.id)).order_by("seq")
    assert [a.action for a in audit] == ["adjustment.request", "adjustment.apply"]
    assert audit[1].before is not None and audit[1].after is not None
    assert (D(str(audit[1].before["available"])), audit[1].before["status"]) == (
        D(40), "awaiting_second")
    assert (D(str(audit[1].after["available"])), audit[1].after["status"],
            audit[1].after["entry_id"]) == (D(140), "applied", applied.entry_id)
    report = await Ledger().check_invariants()
    assert report.ok, report.violations


async def test_above_the_threshold_a_second_different_admin_applies_it(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(10))
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    finance = await staff(Role.FINANCE)
    waiting = (await service.request(first, trader, "credit", "100.00000001", "migration",
                                     None, "big-1")).adjustment
    assert (waiting.status, waiting.entry_id, waiting.revision) == (
        AdjustmentStatus.AWAITING_SECOND, None, 1)
    assert await derived_available(trader) == D(10)
    for actor, code in ((first, "own_request"), (finance, "not_allowed")):
        with pytest.raises(AdjustmentError) as refused:
            await service.approve(actor, waiting.id, 1)
        assert refused.value.refusal.value == code
        assert await AuditEntry.filter(actor_id=actor,
                                       action="adjustment.approve_refused").count() == 1
    with pytest.raises(AdjustmentError) as refused:
        await service.approve(second, waiting.id, 7)
    assert refused.value.refusal is AdjustmentRefusal.STALE
    assert await adjustment_entries() == 0
    applied = await service.approve(second, waiting.id, 1)
    assert (applied.status, applied.decided_by, applied.revision) == (
        AdjustmentStatus.APPLIED, second, 2)
    assert await derived_available(trader) == await cached_available(trader) == D(
        "110.00000001")
    # Approved again (a double click): one application.
    with pytest.raises(AdjustmentError) as refused:
        await service.approve(second, waiting.id, 1)
    assert refused.value.refusal is AdjustmentRefusal.ALREADY_DECIDED
    assert await adjustment_entries() == 1
    assert (await Ledger().check_invariants()).ok


async def test_two_admins_approving_at_once_apply_it_once(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(10))
    requester = await staff(Role.ADMIN)
    approvers = [await staff(Role.ADMIN) for _ in range(6)]
    waiting = (await service.request(requester, trader, "credit", "250", "r", None,
                                     "race-1")).adjustment

    async def approve(actor: int) -> str:
        try:
            await service.approve(actor, waiting.id, waiting.revision)
        except AdjustmentError as refused:
            return refused.refusal.value
        return "applied"

    results = await asyncio.gather(*(approve(a) for a in approvers))
    assert sorted(results) == ["already_decided"] * 5 + ["applied"]
    assert await adjustment_entries() == 1
    assert await derived_available(trader) == D(260)
    row = await LedgerAdjustment.get(id=waiting.id)
    assert row.decided_by == approvers[results.index("applied")]


async def test_a_debit_above_the_balance_is_refused_cleanly(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(20))
    admin, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    with pytest.raises(AdjustmentError) as refused:
        await service.request(admin, trader, "debit", "20.00000001", "too much", None, "d-1")
    assert refused.value.refusal is AdjustmentRefusal.INSUFFICIENT_FUNDS
    assert await LedgerAdjustment.all().count() == 0  # nothing kept of it
    assert [a.after for a in await AuditEntry.filter(action="adjustment.request_refused")] == [
        {"code": "insufficient_funds", "key": "d-1"}]
    # Above the threshold it waits; the balance is spent meanwhile; the approval is refused
    # and the request stays, for a later approval or a rejection.
    big_trader, _ = await funded_trader(D(300))
    waiting = (await service.request(admin, big_trader, "debit", "250", "r", None,
                                     "d-2")).adjustment
    await service.request(second, big_trader, "debit", "90", "r", None, "d-3")
    with pytest.raises(AdjustmentError) as refused:
        await service.approve(second, waiting.id, 1)
    assert refused.value.refusal is AdjustmentRefusal.INSUFFICIENT_FUNDS
    assert (await LedgerAdjustment.get(id=waiting.id)).status is AdjustmentStatus.AWAITING_SECOND
    assert await derived_available(big_trader) == D(210)
    rejected = await service.reject(second, waiting.id, 1)
    assert (rejected.status, rejected.decided_by, rejected.entry_id) == (
        AdjustmentStatus.REJECTED, second, None)
    assert (await Ledger().check_invariants()).ok


async def test_twenty_concurrent_debits_against_one_balance(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D("100"))
    admin = await staff(Role.ADMIN)
    amount = D("7.5")  # 13 fit in 100 (97.5), the 14th does not

    async def debit(n: int) -> str:
        try:
            await service.request(admin, trader, "debit", str(amount), f"race {n}", None,
                                  f"race-{n:02d}")
        except AdjustmentError as refused:
            return refused.refusal.value
        return "applied"

    results = await asyncio.gather(*(debit(n) for n in range(20)))
    assert results.count("applied") == 13
    assert results.count("insufficient_funds") == 7
    assert await adjustment_entries() == 13
    assert await derived_available(trader) == await cached_available(trader) == D("2.5")
    negative = await rows("SELECT count(*) AS n FROM ledger_accounts "
                          "WHERE kind = 'trader_available' AND balance < 0")
    assert negative[0]["n"] == 0
    assert (await Ledger().check_invariants()).ok


async def test_a_retried_request_is_the_same_adjustment(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(10))
    admin, other = await staff(Role.ADMIN), await staff(Role.ADMIN)
    first = await service.request(admin, trader, "credit", "5", "r", "doc", "same-key")
    again = await service.request(admin, trader, "credit", "5.0", " r ", "doc", "same-key")
    assert (again.replayed, again.adjustment.id) == (True, first.adjustment.id)
    with pytest.raises(AdjustmentError) as refused:
        await service.request(admin, trader, "credit", "6", "r", "doc", "same-key")
    assert refused.value.refusal is AdjustmentRefusal.KEY_REUSED
    # The key is the requester's: another admin's same key is another request.
    theirs = await service.request(other, trader, "credit", "5", "r", "doc", "same-key")
    assert theirs.adjustment.id != first.adjustment.id
    # Twins at once: one row.
    twins = await asyncio.gather(*(service.request(admin, trader, "credit", "1", "t", None,
                                                   "twin-key") for _ in range(5)))
    assert len({t.adjustment.id for t in twins}) == 1
    assert sorted(t.replayed for t in twins) == [False] + [True] * 4
    assert await adjustment_entries() == 3
    assert await derived_available(trader) == D(21)


async def test_who_may_adjust_whom(db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(10))
    admin = await staff(Role.ADMIN)
    for role in (Role.FINANCE, Role.OPS, Role.VIEWER, Role.TRADER):
        actor = await staff(role)
        with pytest.raises(AdjustmentError) as refused:
            await service.request(actor, trader, "credit", "5", "r", None, "who-1")
        assert refused.value.refusal is AdjustmentRefusal.NOT_ALLOWED
        assert await AuditEntry.filter(actor_id=actor,
                                       action="adjustment.request_refused").count() == 1
    banned_admin = await staff(Role.ADMIN)
    await User.filter(id=banned_admin).update(is_banned=True)
    with pytest.raises(AdjustmentError) as refused:
        await service.request(banned_admin, trader, "credit", "5", "r", None, "who-2")
    assert refused.value.refusal is AdjustmentRefusal.NOT_ALLOWED
    for target, code in ((admin, "yourself"), (424242, "unknown_user")):
        with pytest.raises(AdjustmentError) as refused:
            await service.request(admin, target, "credit", "5", "r", None, f"who-{code}")
        assert refused.value.refusal.value == code
    # A banned trader's books stay correctable.
    await User.filter(id=trader).update(is_banned=True)
    done = await service.request(admin, trader, "debit", "4", "fraud", None, "who-3")
    assert done.adjustment.status is AdjustmentStatus.APPLIED
    assert await adjustment_entries() == 1


async def test_cancel_is_the_requesters_and_reject_anothers(
        db: str, service: AdjustmentService) -> None:
    trader, _ = await funded_trader(D(10))
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    one = (await service.request(first, trader, "credit", "500", "r", None, "c-1")).adjustment
    two = (await service.request(first, trader, "credit", "600", "r", None, "c-2")).adjustment
    for call, actor, code in ((service.cancel, second, "not_yours"),
                              (service.reject, first, "own_request")):
        with pytest.raises(AdjustmentError) as refused:
            await call(actor, one.id, 1)
        assert refused.value.refusal.value == code
    cancelled = await service.cancel(first, one.id, 1)
    assert (cancelled.status, cancelled.revision) == (AdjustmentStatus.CANCELLED, 2)
    with pytest.raises(AdjustmentError) as refused:
        await service.approve(second, one.id, 2)
    assert refused.value.refusal is AdjustmentRefusal.ALREADY_DECIDED
    listed = await service.listing(status=AdjustmentStatus.AWAITING_SECOND)
    assert [a.id for a in listed] == [two.id]
    assert {a.id for a in await service.listing(user_id=trader)} == {one.id, two.id}
    audit = await AuditEntry.filter(object_type="adjustment", object_id=str(one.id),
                                    action="adjustment.cancel").first()
    assert audit is not None and audit.before is not None and audit.after is not None
    assert (audit.before["status"], audit.after["status"]) == ("awaiting_second", "cancelled")
    assert await adjustment_entries() == 0
    assert await derived_available(trader) == D(10)


async def test_the_trader_is_told_of_an_applied_adjustment_only(
        db: str, service: AdjustmentService, i18n: Any) -> None:
    from bot.outbox import render
    from services.models import Notification
    from services.notifications import NotificationService

    trader, _ = await funded_trader(D(4000))
    await User.filter(id=trader).update(locale="ru")
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    credited = (await service.request(first, trader, "credit", "50.5", "taken <b>x</b>",
                                      None, "n-1")).adjustment
    waiting = (await service.request(first, trader, "debit", "1000", "clawback", None,
                                     "n-2")).adjustment  # above the threshold: not yet
    assert waiting.status is AdjustmentStatus.AWAITING_SECOND
    rejected = (await service.request(first, trader, "debit", "900", "no", None,
                                      "n-3")).adjustment
    await service.reject(second, rejected.id, rejected.revision)  # never applied: never told
    notes = await Notification.filter(user_id=trader, kind="adjustment")
    assert [n.dedupe_key for n in notes] == [f"adjustment:{credited.id}:applied"]
    [dto] = [n for n in await NotificationService().claim_due(100) if n.user_id == trader]
    text = render(i18n, dto)
    # In the trader's language, the amounts as they write them, the admin's words escaped and
    # kept (not taken for the catalog's "taken" refusal).
    assert "зачислила" in text and "50,50 USDT" in text and "4\u00a0050,50" in text
    assert "taken &lt;b&gt;x&lt;/b&gt;" in text
    await service.approve(second, waiting.id, waiting.revision)
    keys = await Notification.filter(user_id=trader, kind="adjustment").values_list(
        "text_key", flat=True)
    assert sorted(keys) == ["notify.adjustment.credit", "notify.adjustment.debit"]
