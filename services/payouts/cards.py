"""What a finance card shows about one request: the request, the trader's history, the risk
flags and the decisions so far. Read fresh for every render, so a card never shows a state the
database does not hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.payouts.views import WithdrawalDTO, withdrawal_dto

NEEDS_A_CARD = ("awaiting_approval", "error")


@dataclass(frozen=True)
class Person:
    id: int
    name: str  # @username, or the first name


@dataclass(frozen=True)
class TraderHistory:
    person: Person
    joined_at: datetime
    earned: Decimal  # lifetime rebate booked
    withdrawn: Decimal  # completed withdrawals, gross
    withdrawals: int  # completed
    accounts: int
    verified_accounts: int


@dataclass(frozen=True)
class CardView:
    withdrawal: WithdrawalDTO
    trader: TraderHistory
    approvers: tuple[Person, ...]  # of the current revision
    decided_by: Person | None  # who rejected / retried / paid it by hand, from the audit log
    decided_at: datetime | None
    network_name: str | None

    @property
    def state_key(self) -> str:
        """Changes whenever what the card shows changes: the job edits the card then."""
        w = self.withdrawal
        return f"{w.status.value}:{w.revision}:{len(self.approvers)}:{w.tx_hash or ''}"[:64]


def _person(row: Any, prefix: str = "") -> Person:
    username = row[f"{prefix}username"]
    return Person(row[f"{prefix}id"], f"@{username}" if username else row[f"{prefix}first_name"])


async def _query(sql: str, *args: object) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(args))


async def card_view(withdrawal_id: int) -> CardView | None:
    rows = await _query("SELECT * FROM withdrawals WHERE id = $1", withdrawal_id)
    if not rows:
        return None
    w = withdrawal_dto(rows[0])
    [trader] = await _query(
        "SELECT u.id, u.username, u.first_name, u.created_at, "
        " (SELECT coalesce(sum(trader_amount), 0) FROM rebate_accruals r WHERE r.user_id = u.id)"
        "   AS earned,"
        " (SELECT coalesce(sum(amount), 0) FROM withdrawals x WHERE x.user_id = u.id"
        "   AND x.status = 'completed') AS withdrawn,"
        " (SELECT count(*) FROM withdrawals x WHERE x.user_id = u.id"
        "   AND x.status = 'completed') AS completed,"
        " (SELECT count(*) FROM exchange_accounts a WHERE a.user_id = u.id) AS accounts,"
        " (SELECT count(*) FROM exchange_accounts a WHERE a.user_id = u.id"
        "   AND a.status = 'verified') AS verified "
        "FROM users u WHERE u.id = $1", w.user_id)
    approvers = await _query(
        "SELECT u.id, u.username, u.first_name FROM withdrawal_approvals a "
        "JOIN users u ON u.id = a.approver_id WHERE a.withdrawal_id = $1 AND a.revision = $2 "
        "ORDER BY a.id", w.id, w.revision)
    decision = await _query(
        "SELECT l.created_at, u.id, u.username, u.first_name FROM audit_log l "
        "JOIN users u ON u.id = l.actor_id WHERE l.object_type = 'withdrawal' "
        "AND l.object_id = $1 AND l.action IN ('withdrawal.reject', 'withdrawal.retry', "
        "'withdrawal.mark_paid', 'withdrawal.approve') ORDER BY l.id DESC LIMIT 1", str(w.id))
    network = await _query("SELECT name FROM payout_networks WHERE id = $1", w.network_id)
    return CardView(
        withdrawal=w,
        trader=TraderHistory(
            person=_person(trader), joined_at=trader["created_at"],
            earned=Decimal(trader["earned"]), withdrawn=Decimal(trader["withdrawn"]),
            withdrawals=trader["completed"], accounts=trader["accounts"],
            verified_accounts=trader["verified"]),
        approvers=tuple(_person(row) for row in approvers),
        decided_by=_person(decision[0]) if decision else None,
        decided_at=decision[0]["created_at"] if decision else None,
        network_name=network[0]["name"] if network else None,
    )


async def cards_to_render(limit: int = 20) -> list[CardView]:
    """Requests whose card is missing or shows an older state: those that need a human and
    have no card yet, and those with a card whose state moved on (in the last week)."""
    # The state key computed here as CardView.state_key does, so that only cards that moved
    # are read in full (this runs every payout tick).
    rows = await _query(
        "SELECT id FROM (SELECT w.id, w.card_state, "
        " left(w.status || ':' || w.revision || ':' || (SELECT count(*) FROM "
        "  withdrawal_approvals a JOIN users u ON u.id = a.approver_id "
        "  WHERE a.withdrawal_id = w.id AND a.revision = w.revision) || ':' || "
        "  coalesce(w.tx_hash, ''), 64) AS state_key FROM withdrawals w "
        " WHERE (w.card_message_id IS NULL AND w.status = ANY($1::text[])) OR "
        " (w.card_message_id IS NOT NULL AND w.updated_at > now() - interval '7 days')) c "
        "WHERE state_key IS DISTINCT FROM card_state ORDER BY id LIMIT $2",
        list(NEEDS_A_CARD), limit)
    views = [await card_view(row["id"]) for row in rows]
    return [view for view in views if view is not None]


async def record_card(withdrawal_id: int, chat_id: int, message_id: int, state_key: str) -> None:
    await _query(
        "UPDATE withdrawals SET card_chat_id = $2, card_message_id = $3, card_state = $4 "
        "WHERE id = $1", withdrawal_id, chat_id, message_id, state_key)
