"""Finance's decisions on a request: approve, reject (with a reason the trader sees), retry or
reject one the exchange refused, record one paid by hand.

Each decision runs in one transaction on the request's row lock and re-checks, in this order,
the person's role (read now, not when the card was posted), that it is not their own request,
the request's state and the revision the person saw. So a double click, two approvers at once,
or an approval of a card that changed since it was read give exactly one decision; every refused
attempt is audited too (it commits, the decision does not happen).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.audit import audit
from services.ledger import Ledger
from services.ledger.entries import ledger_transaction
from services.models import Role, WithdrawalStatus
from services.notifications import NotificationService
from services.payouts.config import PayoutConfig
from services.payouts.views import WithdrawalDTO, withdrawal_dto

MAX_REASON = 500
# A transaction on TRON, EVM chains and Bitcoin is 32 bytes in hex (EVM with 0x); an internal
# transfer paid by hand is named by the exchange's transfer id.
_TX_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_TRANSFER_ID = re.compile(r"[0-9A-Za-z]{6,64}")


def _looks_like_a_payment(method: str, reference: str) -> bool:
    pattern = _TRANSFER_ID if method == "internal" else _TX_HASH
    return pattern.fullmatch(reference) is not None


@dataclass(frozen=True)
class Decision:
    """``code``: approved | approval_recorded (one of two) | rejected | retrying | paid_manually,
    or the refusal: not_allowed | own_request | not_found | already_decided | stale |
    already_approved | no_reason | no_tx_hash | tx_hash_used."""

    ok: bool
    code: str
    withdrawal: WithdrawalDTO | None
    approvals: int = 0  # approvals of the current revision after this decision


class ApprovalService:
    def __init__(self, ledger: Ledger, config: PayoutConfig) -> None:
        self.ledger = ledger
        self.config = config

    async def approve(self, withdrawal_id: int, actor_id: int, revision: int) -> Decision:
        async with ledger_transaction() as conn:
            row, refusal = await self._checked(conn, withdrawal_id, actor_id, revision,
                                               WithdrawalStatus.AWAITING_APPROVAL, "approve")
            if refusal:
                return refusal
            inserted = await conn.fetchval(
                "INSERT INTO withdrawal_approvals (withdrawal_id, approver_id, revision, "
                "created_at) VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING RETURNING id",
                withdrawal_id, actor_id, revision)
            if inserted is None:
                return await self._refuse(conn, row, actor_id, "approve", "already_approved")
            approvals = await conn.fetchval(
                "SELECT count(*) FROM withdrawal_approvals WHERE withdrawal_id = $1 "
                "AND revision = $2", withdrawal_id, revision)
            before = withdrawal_dto(row)
            if approvals < row["approvals_needed"]:
                # Not a change of what is paid (no new revision), but of what the card shows.
                await conn.execute("UPDATE withdrawals SET updated_at = now() WHERE id = $1",
                                   withdrawal_id)
                await audit(conn, actor_id, "withdrawal.approve", "withdrawal", withdrawal_id,
                            before=before.audit_view(),
                            after={**before.audit_view(), "approvals": approvals})
                return Decision(True, "approval_recorded", before, approvals)
            after = withdrawal_dto(await conn.fetchrow(
                "UPDATE withdrawals SET status = 'approved', updated_at = now() "
                "WHERE id = $1 RETURNING *", withdrawal_id))
            await audit(conn, actor_id, "withdrawal.approve", "withdrawal", withdrawal_id,
                        before=before.audit_view(),
                        after={**after.audit_view(), "approvals": approvals})
            await NotificationService.enqueue_in(
                conn, f"withdrawal:{withdrawal_id}:approved", after.user_id, "withdrawal",
                "notify.withdrawal.approved", after.message_params(), user_id=after.user_id)
            return Decision(True, "approved", after, approvals)

    async def reject(self, withdrawal_id: int, actor_id: int, revision: int,
                     reason: str) -> Decision:
        """Reject a request waiting for approval, or one the exchange refused (ERROR)."""
        reason = reason.strip()[:MAX_REASON]
        async with ledger_transaction() as conn:
            row, refusal = await self._checked(
                conn, withdrawal_id, actor_id, revision,
                (WithdrawalStatus.AWAITING_APPROVAL, WithdrawalStatus.ERROR), "reject")
            if refusal:
                return refusal
            if not reason:
                return await self._refuse(conn, row, actor_id, "reject", "no_reason")
            await self.ledger.void_hold_in(conn, row["hold_id"], actor=f"user:{actor_id}")
            after = withdrawal_dto(await conn.fetchrow(
                "UPDATE withdrawals SET status = 'rejected', reason = $2, "
                "revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING *",
                withdrawal_id, reason))
            await audit(conn, actor_id, "withdrawal.reject", "withdrawal", withdrawal_id,
                        before=withdrawal_dto(row).audit_view(), after=after.audit_view())
            await NotificationService.enqueue_in(
                conn, f"withdrawal:{withdrawal_id}:rejected", after.user_id, "withdrawal",
                "notify.withdrawal.rejected", after.message_params(), user_id=after.user_id)
            return Decision(True, "rejected", after)

    async def retry(self, withdrawal_id: int, actor_id: int, revision: int) -> Decision:
        """Send a refused payout again (after finance fixed its cause: a balance topped up, an
        address whitelisted). It goes back to the engine as approved."""
        async with ledger_transaction() as conn:
            row, refusal = await self._checked(conn, withdrawal_id, actor_id, revision,
                                               WithdrawalStatus.ERROR, "retry")
            if refusal:
                return refusal
            after = withdrawal_dto(await conn.fetchrow(
                "UPDATE withdrawals SET status = 'approved', revision = revision + 1, "
                "updated_at = now() WHERE id = $1 RETURNING *", withdrawal_id))
            await audit(conn, actor_id, "withdrawal.retry", "withdrawal", withdrawal_id,
                        before=withdrawal_dto(row).audit_view(), after=after.audit_view())
            return Decision(True, "retrying", after)

    async def mark_paid(self, withdrawal_id: int, actor_id: int, revision: int,
                        tx_hash: str) -> Decision:
        """Finance paid a refused payout by hand: record the hash, post the hold."""
        tx_hash = tx_hash.strip()
        async with ledger_transaction() as conn:
            row, refusal = await self._checked(conn, withdrawal_id, actor_id, revision,
                                               WithdrawalStatus.ERROR, "mark_paid")
            if refusal:
                return refusal
            if not _looks_like_a_payment(row["method"], tx_hash):
                return await self._refuse(conn, row, actor_id, "mark_paid", "no_tx_hash")
            if await conn.fetchval("SELECT 1 FROM withdrawals WHERE tx_hash = $1 AND id <> $2",
                                   tx_hash, withdrawal_id):
                return await self._refuse(conn, row, actor_id, "mark_paid", "tx_hash_used")
            await self.ledger.post_hold_in(conn, row["hold_id"], fee=row["fee"],
                                           actor=f"user:{actor_id}")
            after = withdrawal_dto(await conn.fetchrow(
                "UPDATE withdrawals SET status = 'completed', tx_hash = $2, paid_manually = true,"
                " revision = revision + 1, completed_at = now(), updated_at = now() "
                "WHERE id = $1 RETURNING *", withdrawal_id, tx_hash))
            await audit(conn, actor_id, "withdrawal.mark_paid", "withdrawal", withdrawal_id,
                        before=withdrawal_dto(row).audit_view(), after=after.audit_view())
            await NotificationService.enqueue_in(
                conn, f"withdrawal:{withdrawal_id}:completed", after.user_id, "withdrawal",
                "notify.withdrawal.completed", after.message_params(), user_id=after.user_id)
            return Decision(True, "paid_manually", after)

    async def approvers_of(self, withdrawal_id: int) -> list[int]:
        async with ledger_transaction() as conn:
            rows = await conn.fetch(
                "SELECT a.approver_id FROM withdrawal_approvals a JOIN withdrawals w "
                "ON w.id = a.withdrawal_id AND w.revision = a.revision "
                "WHERE a.withdrawal_id = $1 ORDER BY a.id", withdrawal_id)
        return [row["approver_id"] for row in rows]

    async def can_decide(self, actor_id: int) -> bool:
        """Whether the person may decide at all (asked before a reason is requested; the
        decision itself checks again)."""
        async with ledger_transaction() as conn:
            return await self.may_decide(conn, actor_id)

    # --- the checks every decision makes -------------------------------------------------------

    async def may_decide(self, conn: Any, actor_id: int) -> bool:
        role = await conn.fetchval("SELECT role FROM users WHERE id = $1", actor_id)
        if role == Role.FINANCE.value:
            return True
        return role == Role.ADMIN.value and (await self.config.settings()).admins_can_approve

    async def _checked(self, conn: Any, withdrawal_id: int, actor_id: int, revision: int,
                       states: WithdrawalStatus | tuple[WithdrawalStatus, ...], action: str
                       ) -> tuple[Any, Decision | None]:
        row = await conn.fetchrow("SELECT * FROM withdrawals WHERE id = $1 FOR UPDATE",
                                  withdrawal_id)
        wanted = (states,) if isinstance(states, WithdrawalStatus) else states
        if row is None:
            return None, Decision(False, "not_found", None)
        if not await self.may_decide(conn, actor_id):
            return row, await self._refuse(conn, row, actor_id, action, "not_allowed")
        if row["user_id"] == actor_id:
            return row, await self._refuse(conn, row, actor_id, action, "own_request")
        if row["status"] not in {state.value for state in wanted}:
            return row, await self._refuse(conn, row, actor_id, action, "already_decided")
        if row["revision"] != revision:
            return row, await self._refuse(conn, row, actor_id, action, "stale")
        return row, None

    @staticmethod
    async def _refuse(conn: Any, row: Any, actor_id: int, action: str, code: str) -> Decision:
        dto = withdrawal_dto(row)
        await audit(conn, actor_id, f"withdrawal.{action}_refused", "withdrawal", dto.id,
                    after={"code": code, "status": dto.status.value, "revision": dto.revision})
        return Decision(False, code, dto)
