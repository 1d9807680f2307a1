""""This UID is mine": a trader claims a UID that another trader holds. Only people can settle
whose it is, so the claim goes to the admin chat (through the outbox) with both sides' details;
the claimant is told it was passed on. One claim per (exchange, UID, claimant): pressing again
does not post it twice."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tortoise import Tortoise

from services.events import EventService
from services.models import Platform
from services.notifications import NotificationService


class DisputeOutcome(StrEnum):
    OPENED = "opened"
    ALREADY_OPEN = "already_open"  # this trader claimed this UID before
    NOT_TAKEN = "not_taken"  # nobody else holds it (any more): they can simply link it
    OWN = "own"  # the claimant holds it themselves
    NO_ADMIN_CHAT = "no_admin_chat"  # nobody to tell: the claimant is sent to support


@dataclass(frozen=True)
class DisputeResult:
    outcome: DisputeOutcome
    exchange_name: str = ""


# Both sides in one statement: the holder's account and both people with their number of
# linked accounts (a quick sense of who is who for the operator).
_SIDES = """
SELECT e.name AS exchange_name, a.status, a.created_at AS linked_at, a.verified_at,
       h.id AS holder_id, h.username AS holder_username, h.first_name AS holder_name,
       h.created_at AS holder_since,
       (SELECT count(*) FROM exchange_accounts x WHERE x.user_id = h.id) AS holder_accounts,
       c.id AS claimant_id, c.username AS claimant_username, c.first_name AS claimant_name,
       c.created_at AS claimant_since,
       (SELECT count(*) FROM exchange_accounts x WHERE x.user_id = c.id) AS claimant_accounts
FROM exchange_accounts a
JOIN exchanges e ON e.id = a.exchange_id
JOIN users h ON h.id = a.user_id
JOIN users c ON c.id = $3
WHERE a.exchange_id = $1 AND a.uid = $2
"""


def _who(name: str, username: str | None) -> str:
    return f"{name} (@{username})" if username else name


class UidDisputeService:
    def __init__(self, notifications: NotificationService, events: EventService):
        self._notifications = notifications
        self._events = events

    async def open(self, claimant_id: int, exchange_id: str, uid: str,
                   admin_chat_id: int | None) -> DisputeResult:
        rows = await Tortoise.get_connection("default").execute_query_dict(
            _SIDES, [exchange_id, uid, claimant_id])
        if not rows:
            return DisputeResult(DisputeOutcome.NOT_TAKEN)
        row = rows[0]
        name = str(row["exchange_name"])
        if row["holder_id"] == claimant_id:
            return DisputeResult(DisputeOutcome.OWN, name)
        if admin_chat_id is None:
            return DisputeResult(DisputeOutcome.NO_ADMIN_CHAT, name)
        params = {
            "exchange": name, "uid": uid, "status": str(row["status"]),
            "linked_at": row["linked_at"].isoformat(),  # shown in the reader's words
            "verified_at": row["verified_at"].isoformat() if row["verified_at"] else "—",
            "holder_id": row["holder_id"],
            "holder": _who(row["holder_name"], row["holder_username"]),
            "holder_since": f"{row['holder_since']:%Y-%m-%d}",
            "holder_accounts": row["holder_accounts"],
            "claimant_id": claimant_id,
            "claimant": _who(row["claimant_name"], row["claimant_username"]),
            "claimant_since": f"{row['claimant_since']:%Y-%m-%d}",
            "claimant_accounts": row["claimant_accounts"],
        }
        new = await self._notifications.enqueue(
            f"uid_dispute:{exchange_id}:{uid}:{claimant_id}", admin_chat_id, "uid_dispute",
            "admin.uid_dispute", params)
        if not new:
            return DisputeResult(DisputeOutcome.ALREADY_OPEN, name)
        await self._events.record("uid_dispute_opened", claimant_id, Platform.BOT,
                                  exchange=exchange_id)
        return DisputeResult(DisputeOutcome.OPENED, name)
