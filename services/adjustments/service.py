"""Manual ledger adjustments (issue 14): an admin credits or debits a trader's available
balance, with a reason and an optional document reference.

At or below the second-admin threshold (``ADJUST_SECOND_ADMIN_ABOVE``) a request is applied at
once; above it, it waits for a second, different admin, who approves the revision they saw
(or rejects it); the requester may cancel it until then.

Applying is one transaction: the adjustment row's conditional state change, the ledger entry
and the audit row with the balance before and after. The entry's idempotency key is
``adjustment:{id}``, and a request is unique per (requester, Idempotency-Key), so neither a
retried request nor a crash between any two steps can book an adjustment twice. A debit is
checked against the available balance under the account's row lock (the database CHECK that
a trader balance is never negative stays the backstop). Every refusal is audited, except input
that is plainly malformed, and is raised as AdjustmentError with a stable code.

Banned traders can be adjusted: a ban stops withdrawals and linking, but the books must stay
correctable (taking back a rebate earned by fraud is the typical adjustment of a banned
trader). Nobody adjusts their own balance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.adjustments.values import (
    DEFAULT_SECOND_ADMIN_ABOVE,
    LISTED,
    AdjustmentDTO,
    AdjustmentError,
    AdjustmentInput,
    AdjustmentOutcome,
    AdjustmentRefusal,
    checked_input,
)
from services.audit import audit
from services.ledger.entries import (
    AccountRef,
    EntrySpec,
    Leg,
    insert_entries,
    ledger_transaction,
    lock_accounts,
)
from services.ledger.errors import InsufficientFunds
from services.ledger.money import USDT
from services.models import AdjustmentDirection, AdjustmentStatus, Role
from services.notifications import NotificationService
from services.permissions import Permission, allowed

_SELECT = """
SELECT j.*, t.first_name AS user_name, r.first_name AS requested_by_name
FROM ledger_adjustments j LEFT JOIN users t ON t.id = j.user_id
LEFT JOIN users r ON r.id = j.requested_by
"""


def _dto(row: Any) -> AdjustmentDTO:
    return AdjustmentDTO(
        id=row["id"], user_id=row["user_id"], user_name=row["user_name"],
        direction=AdjustmentDirection(row["direction"]), asset=row["asset"],
        amount=row["amount"], reason=row["reason"], document_ref=row["document_ref"],
        status=AdjustmentStatus(row["status"]), revision=row["revision"],
        requested_by=row["requested_by"], requested_by_name=row["requested_by_name"],
        decided_by=row["decided_by"], entry_id=row["entry_id"], created_at=row["created_at"],
        decided_at=row["decided_at"])


async def _load(conn: Any, adjustment_id: int) -> AdjustmentDTO:
    return _dto(await conn.fetchrow(_SELECT + "WHERE j.id = $1", adjustment_id))


async def _may_adjust(conn: Any, actor_id: int) -> bool:
    row = await conn.fetchrow("SELECT role, is_banned FROM users WHERE id = $1", actor_id)
    return row is not None and not row["is_banned"] and allowed(Role(row["role"]),
                                                                Permission.ADJUST)


def _accounts(adjustment: AdjustmentDTO) -> tuple[AccountRef, AccountRef]:
    """The trader's available balance and the counter-account. The counter-account is the
    operators' own "adjustments" account, not revenue (a goodwill credit is not negative
    revenue, a clawback not income) and not suspense (which holds what waits to be booked
    elsewhere and should return to zero)."""
    return (AccountRef.trader_available(adjustment.user_id, adjustment.asset),
            AccountRef.adjustments(adjustment.asset))


class _Refused(Exception):
    """Inside a savepoint: undo what the savepoint wrote, keep the refusal."""

    def __init__(self, refusal: AdjustmentRefusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


class AdjustmentService:
    def __init__(self, second_admin_above: Decimal = DEFAULT_SECOND_ADMIN_ABOVE) -> None:
        self.second_admin_above = second_admin_above

    def needs_second_admin(self, amount: Decimal) -> bool:
        return amount > self.second_admin_above

    async def request(self, actor_id: int, user_id: int, direction: object, amount: object,
                      reason: object, document_ref: object, key: str) -> AdjustmentOutcome:
        """Ask for an adjustment; ``key`` is the requester's Idempotency-Key. Applied at once
        at or below the threshold, else left awaiting a second admin."""
        refusal: AdjustmentRefusal | None = None
        outcome: AdjustmentOutcome | None = None
        try:
            async with ledger_transaction() as conn:
                if not await _may_adjust(conn, actor_id):
                    refusal = AdjustmentRefusal.NOT_ALLOWED
                else:
                    # Malformed input raises AdjustmentError here, without an audit row.
                    wanted = checked_input(direction, amount, reason, document_ref)
                    outcome, refusal = await self._request_in(conn, actor_id, user_id, wanted,
                                                              key[:64])
                if refusal is not None:
                    await audit(conn, actor_id, "adjustment.request_refused", "user", user_id,
                                after={"code": refusal.value, "key": key[:64]})
        except InsufficientFunds:  # the CHECK's backstop: the transaction is gone, say so
            refusal = await self._audit_refusal(actor_id, "adjustment.request_refused", "user",
                                                user_id, AdjustmentRefusal.INSUFFICIENT_FUNDS,
                                                key=key[:64])
        if refusal is not None:
            raise AdjustmentError(refusal, outcome.adjustment if outcome else None)
        assert outcome is not None
        return outcome

    async def _request_in(self, conn: Any, actor_id: int, user_id: int,
                          wanted: AdjustmentInput, key: str
                          ) -> tuple[AdjustmentOutcome | None, AdjustmentRefusal | None]:
        existing = await conn.fetchrow(
            "SELECT id FROM ledger_adjustments WHERE requested_by = $1 AND request_key = $2",
            actor_id, key)
        if existing is not None:
            return await self._replay(conn, existing["id"], user_id, wanted)
        if user_id == actor_id:
            return None, AdjustmentRefusal.YOURSELF
        if await conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) is None:
            return None, AdjustmentRefusal.UNKNOWN_USER
        try:
            async with conn.transaction():  # a savepoint: a refused debit leaves no row
                new_id = await conn.fetchval(
                    "INSERT INTO ledger_adjustments (user_id, direction, asset, amount, reason, "
                    "document_ref, status, revision, requested_by, request_key, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, 'awaiting_second', 1, $7, $8, now()) "
                    "ON CONFLICT (requested_by, request_key) DO NOTHING RETURNING id",
                    user_id, wanted.direction.value, USDT, wanted.amount, wanted.reason,
                    wanted.document_ref, actor_id, key)
                if new_id is None:  # a twin of this request committed meanwhile
                    existing = await conn.fetchrow(
                        "SELECT id FROM ledger_adjustments WHERE requested_by = $1 "
                        "AND request_key = $2", actor_id, key)
                    return await self._replay(conn, existing["id"], user_id, wanted)
                requested = await _load(conn, new_id)
                at_once = not self.needs_second_admin(wanted.amount)
                if at_once:
                    # The account locks before the audit's chain lock, the ledger's one order
                    # (a withdrawal decision locks accounts, then writes its audit row).
                    await lock_accounts(conn, _accounts(requested))
                await audit(conn, actor_id, "adjustment.request", "adjustment", new_id,
                            after=requested.audit_view())
                if not at_once:
                    return AdjustmentOutcome(requested), None
                return AdjustmentOutcome(await self._apply(conn, requested, actor_id,
                                                           decided_by=None)), None
        except _Refused as refused:
            return None, refused.refusal

    @staticmethod
    async def _replay(conn: Any, adjustment_id: int, user_id: int, wanted: AdjustmentInput
                      ) -> tuple[AdjustmentOutcome | None, AdjustmentRefusal | None]:
        first = await _load(conn, adjustment_id)
        same = (first.user_id, first.direction, first.amount, first.reason,
                first.document_ref) == (user_id, wanted.direction, wanted.amount,
                                        wanted.reason, wanted.document_ref)
        if not same:
            return None, AdjustmentRefusal.KEY_REUSED
        return AdjustmentOutcome(first, replayed=True), None

    async def _apply(self, conn: Any, adjustment: AdjustmentDTO, actor_id: int, *,
                     decided_by: int | None) -> AdjustmentDTO:
        """Book it (the row is locked by the caller and awaiting): the state change, the
        entry and the audit row, in the caller's transaction. Raises _Refused."""
        available, counter = _accounts(adjustment)
        change = adjustment.signed_amount
        accounts = await lock_accounts(conn, [available, counter])
        before = accounts[available].balance
        if before + change < 0:
            raise _Refused(AdjustmentRefusal.INSUFFICIENT_FUNDS)
        memo = f"adjustment #{adjustment.id}: {adjustment.reason}"[:300]
        if adjustment.document_ref:
            memo = f"{memo} [{adjustment.document_ref}]"
        spec = EntrySpec(key=f"adjustment:{adjustment.id}", kind="adjustment",
                         legs=(Leg(available, change), Leg(counter, -change)), memo=memo,
                         actor=f"user:{actor_id}")
        [entry] = await insert_entries(conn, [spec], accounts)
        # The one place an adjustment is applied: it must touch exactly one row (the caller's
        # savepoint undoes the entry if not).
        claimed = await conn.fetchval(
            "UPDATE ledger_adjustments SET status = 'applied', entry_id = $3, decided_by = $2, "
            "decided_at = now(), revision = revision + 1 "
            "WHERE id = $1 AND status = 'awaiting_second' RETURNING id",
            adjustment.id, decided_by, entry.entry_id)
        if claimed is None:
            raise _Refused(AdjustmentRefusal.ALREADY_DECIDED)
        applied = await _load(conn, adjustment.id)
        await audit(conn, actor_id, "adjustment.apply", "adjustment", adjustment.id,
                    before={**adjustment.audit_view(), "available": before},
                    after={**applied.audit_view(), "available": before + change})
        # The trader is told, through the outbox, if and only if this commits. The reason goes
        # as "note": the outbox words a "reason" that names a catalog code (UID refusals),
        # and an admin's free text must stay their words. The document reference is ours.
        await NotificationService.enqueue_in(
            conn, f"adjustment:{adjustment.id}:applied", adjustment.user_id, "adjustment",
            f"notify.adjustment.{adjustment.direction.value}",
            {"id": adjustment.id, "amount": str(adjustment.amount),
             "available_amount": str(before + change), "note": adjustment.reason},
            user_id=adjustment.user_id)
        return applied

    # --- the second admin, and the requester -----------------------------------------------

    async def approve(self, actor_id: int, adjustment_id: int, revision: int) -> AdjustmentDTO:
        return await self._decide(actor_id, adjustment_id, revision, "approve")

    async def reject(self, actor_id: int, adjustment_id: int, revision: int) -> AdjustmentDTO:
        return await self._decide(actor_id, adjustment_id, revision, "reject")

    async def cancel(self, actor_id: int, adjustment_id: int, revision: int) -> AdjustmentDTO:
        return await self._decide(actor_id, adjustment_id, revision, "cancel")

    async def _decide(self, actor_id: int, adjustment_id: int, revision: int,
                      action: str) -> AdjustmentDTO:
        """One transaction on the adjustment's row lock; the checks in this order: it exists,
        the actor's role (read now), who they are, its state, the revision they saw."""
        refusal: AdjustmentRefusal | None = None
        current: AdjustmentDTO | None = None
        try:
            async with ledger_transaction() as conn:
                row = await conn.fetchrow(
                    "SELECT id FROM ledger_adjustments WHERE id = $1 FOR UPDATE", adjustment_id)
                if row is None:
                    refusal = AdjustmentRefusal.NOT_FOUND
                else:
                    current = await _load(conn, adjustment_id)
                    refusal = await self._decision_refusal(conn, actor_id, current, revision,
                                                           action)
                if refusal is None and current is not None:
                    try:
                        async with conn.transaction():
                            current = await self._decided(conn, actor_id, current, action)
                    except _Refused as refused:
                        refusal = refused.refusal
                if refusal is not None:
                    await audit(conn, actor_id, f"adjustment.{action}_refused", "adjustment",
                                adjustment_id, after={
                                    "code": refusal.value, "revision": revision,
                                    "status": current.status.value if current else None})
        except InsufficientFunds:
            refusal = await self._audit_refusal(actor_id, f"adjustment.{action}_refused",
                                                "adjustment", adjustment_id,
                                                AdjustmentRefusal.INSUFFICIENT_FUNDS,
                                                revision=revision)
        if refusal is not None:
            raise AdjustmentError(refusal, current)
        assert current is not None
        return current

    @staticmethod
    async def _decision_refusal(conn: Any, actor_id: int, current: AdjustmentDTO,
                                revision: int, action: str) -> AdjustmentRefusal | None:
        if not await _may_adjust(conn, actor_id):
            return AdjustmentRefusal.NOT_ALLOWED
        if action == "cancel" and actor_id != current.requested_by:
            return AdjustmentRefusal.NOT_YOURS
        if action != "cancel" and actor_id == current.requested_by:
            return AdjustmentRefusal.OWN_REQUEST
        if action == "approve" and actor_id == current.user_id:
            return AdjustmentRefusal.YOURSELF
        if current.status is not AdjustmentStatus.AWAITING_SECOND:
            return AdjustmentRefusal.ALREADY_DECIDED
        if current.revision != revision:
            return AdjustmentRefusal.STALE
        return None

    async def _decided(self, conn: Any, actor_id: int, current: AdjustmentDTO,
                       action: str) -> AdjustmentDTO:
        if action == "approve":
            return await self._apply(conn, current, actor_id, decided_by=actor_id)
        status = AdjustmentStatus.REJECTED if action == "reject" else AdjustmentStatus.CANCELLED
        changed = await conn.fetchval(
            "UPDATE ledger_adjustments SET status = $2, decided_by = $3, decided_at = now(), "
            "revision = revision + 1 WHERE id = $1 AND status = 'awaiting_second' RETURNING id",
            current.id, status.value, actor_id)
        if changed is None:
            raise _Refused(AdjustmentRefusal.ALREADY_DECIDED)
        after = await _load(conn, current.id)
        await audit(conn, actor_id, f"adjustment.{action}", "adjustment", current.id,
                    before=current.audit_view(), after=after.audit_view())
        return after

    @staticmethod
    async def _audit_refusal(actor_id: int, action: str, object_type: str, object_id: int,
                             refusal: AdjustmentRefusal, **detail: Any) -> AdjustmentRefusal:
        """The database's CHECK refused (the transaction is gone): audited in a new one."""
        async with ledger_transaction() as conn:
            await audit(conn, actor_id, action, object_type, object_id,
                        after={"code": refusal.value, **detail})
        return refusal

    # --- reading ---------------------------------------------------------------------------

    async def get(self, adjustment_id: int) -> AdjustmentDTO | None:
        async with ledger_transaction() as conn:
            row = await conn.fetchrow(_SELECT + "WHERE j.id = $1", adjustment_id)
        return None if row is None else _dto(row)

    async def listing(self, *, status: AdjustmentStatus | None = None,
                      user_id: int | None = None, limit: int = LISTED) -> list[AdjustmentDTO]:
        """Newest first; awaiting ones oldest first (the queue a second admin works through)."""
        conditions, args = ["true"], []
        for sql, value in (("j.status = ${}", status.value if status else None),
                           ("j.user_id = ${}", user_id)):
            if value is not None:
                args.append(value)
                conditions.append(sql.format(len(args)))
        order = "j.id" if status is AdjustmentStatus.AWAITING_SECOND else "j.id DESC"
        async with ledger_transaction() as conn:
            rows = await conn.fetch(
                f"{_SELECT} WHERE {' AND '.join(conditions)} ORDER BY {order} "
                f"LIMIT ${len(args) + 1}", *args, limit)
        return [_dto(row) for row in rows]
