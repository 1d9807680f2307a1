"""The payout queue of the admin screen: the requests that need a human (waiting for approval,
refused by the exchange) and those in flight (approved, being sent, outcome unknown), each as
the finance card shows it (services/payouts/cards.py: the trader's history, the risk flags,
who approved), with what the person looking may do with it.

Reading only: every decision goes through ApprovalService, the finance chat's own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise

from services.models import Role, WithdrawalStatus
from services.payouts.cards import CardView, card_view
from services.payouts.config import PayoutConfig

# Waiting for a person first, then what the engine is on, oldest first within each.
QUEUE_STATUSES = ("awaiting_approval", "error", "unknown", "submitting", "approved")
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class Actions:
    """What the person may do now (the decision checks everything again)."""

    approve: bool
    reject: bool
    retry: bool
    paid: bool


@dataclass(frozen=True)
class QueueItem:
    card: CardView
    actions: Actions


class PayoutQueue:
    def __init__(self, config: PayoutConfig | None = None) -> None:
        self.config = config or PayoutConfig()

    async def may_decide(self, role: Role) -> bool:
        """ApprovalService.may_decide's rule, for drawing the buttons."""
        if role is Role.FINANCE:
            return True
        return role is Role.ADMIN and (await self.config.settings()).admins_can_approve

    @staticmethod
    def actions(view: CardView, viewer_id: int, may_decide: bool) -> Actions:
        w = view.withdrawal
        if not may_decide or w.user_id == viewer_id:
            return Actions(False, False, False, False)
        waiting = w.status is WithdrawalStatus.AWAITING_APPROVAL
        refused = w.status is WithdrawalStatus.ERROR
        approved_already = any(p.id == viewer_id for p in view.approvers)
        return Actions(approve=waiting and not approved_already, reject=waiting or refused,
                       retry=refused, paid=refused)

    async def items(self, viewer_id: int, role: Role,
                    limit: int = QUEUE_LIMIT) -> tuple[list[QueueItem], int]:
        """The queue (at most ``limit`` items) and how many requests it holds in all."""
        rows: list[dict[str, Any]] = await Tortoise.get_connection(
            "default").execute_query_dict(
            "SELECT id, count(*) OVER () AS total FROM withdrawals "
            "WHERE status = ANY($1::text[]) "
            "ORDER BY array_position($1::text[], status::text), created_at, id LIMIT $2",
            [list(QUEUE_STATUSES), limit])
        may = await self.may_decide(role)
        found = []
        for row in rows:
            view = await card_view(row["id"])
            if view is not None:
                found.append(QueueItem(view, self.actions(view, viewer_id, may)))
        return found, int(rows[0]["total"]) if rows else 0

    async def item(self, withdrawal_id: int, viewer_id: int, role: Role) -> QueueItem | None:
        view = await card_view(withdrawal_id)
        if view is None:
            return None
        return QueueItem(view, self.actions(view, viewer_id, await self.may_decide(role)))
