"""Linking a trader's exchange UIDs: validation, ownership, listing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from tortoise import Tortoise

from exchanges.base import UID_LENGTHS, validate_uid
from services.dto import AccountDTO
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.models import AccountStatus, Platform


class LinkOutcome(StrEnum):
    LINKED = "linked"
    INVALID = "invalid"  # reason says why: empty, not_digits, too_short, too_long
    TAKEN = "taken"  # another trader has it
    ALREADY_YOURS = "already_yours"
    EXCHANGE_UNAVAILABLE = "exchange_unavailable"


@dataclass(frozen=True)
class UidCheck:
    uid: str | None
    reason: str | None = None
    min_length: int = 0
    max_length: int = 0


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    uid: str | None = None
    reason: str | None = None
    account: AccountDTO | None = None


# Plain SQL: linking and listing are on the per-update path, where the ORM's query building
# costs more than the queries (bench/bench_dispatcher.py).
_LINK = """
INSERT INTO exchange_accounts (user_id, exchange_id, uid, status, created_at)
VALUES ($1, $2, $3, 'pending', $4)
ON CONFLICT (exchange_id, uid) DO NOTHING
RETURNING id, created_at
"""
_OWNER = "SELECT user_id FROM exchange_accounts WHERE exchange_id = $1 AND uid = $2"
_LIST = """
SELECT a.id, a.exchange_id, e.name AS exchange_name, a.uid, a.status, a.reject_reason,
       a.created_at, a.verified_at
FROM exchange_accounts a JOIN exchanges e ON e.id = a.exchange_id
WHERE a.user_id = $1
ORDER BY e.position, a.exchange_id, a.created_at
"""


class AccountService:
    def __init__(self, events: EventService, exchanges: ExchangeCatalog):
        self._events = events
        self._exchanges = exchanges

    @staticmethod
    def check_uid(exchange_id: str, text: str) -> UidCheck:
        """Format check only (no database): what the trader typed, normalised, or why not."""
        low, high = UID_LENGTHS.get(exchange_id, (0, 0))
        try:
            return UidCheck(uid=validate_uid(exchange_id, text), min_length=low, max_length=high)
        except ValueError as exc:
            return UidCheck(uid=None, reason=str(exc), min_length=low, max_length=high)

    async def holder(self, exchange_id: str, uid: str) -> int | None:
        """Who holds this UID on this exchange, if anybody (the id of that trader)."""
        rows = await Tortoise.get_connection("default").execute_query_dict(
            _OWNER, [exchange_id, uid])
        return int(rows[0]["user_id"]) if rows else None

    async def link(self, user_id: int, exchange_id: str, text: str) -> LinkResult:
        exchange = await self._exchanges.get(exchange_id)
        if exchange is None or not exchange.enabled:
            return LinkResult(LinkOutcome.EXCHANGE_UNAVAILABLE)
        check = self.check_uid(exchange_id, text)
        if check.uid is None:
            return LinkResult(LinkOutcome.INVALID, reason=check.reason)
        uid = check.uid
        # The unique (exchange, uid) constraint decides who gets a UID, races included: one
        # statement inserts it, or tells that somebody has it already.
        connection = Tortoise.get_connection("default")
        rows = await connection.execute_query_dict(_LINK, [user_id, exchange_id, uid,
                                                           datetime.now(UTC)])
        if not rows:
            owner = await connection.execute_query_dict(_OWNER, [exchange_id, uid])
            mine = bool(owner) and owner[0]["user_id"] == user_id
            return LinkResult(LinkOutcome.ALREADY_YOURS if mine else LinkOutcome.TAKEN, uid=uid)
        row = rows[0]
        await self._events.record("uid_linked", user_id, Platform.BOT, exchange=exchange_id)
        account = AccountDTO(id=row["id"], exchange_id=exchange_id, exchange_name=exchange.name,
                             uid=uid, status=AccountStatus.PENDING, reject_reason=None,
                             created_at=row["created_at"], verified_at=None)
        return LinkResult(LinkOutcome.LINKED, uid=uid, account=account)

    async def list_for_user(self, user_id: int) -> list[AccountDTO]:
        rows = await Tortoise.get_connection("default").execute_query_dict(_LIST, [user_id])
        return [
            AccountDTO(id=row["id"], exchange_id=row["exchange_id"],
                       exchange_name=row["exchange_name"], uid=row["uid"],
                       status=AccountStatus(row["status"]), reject_reason=row["reject_reason"],
                       created_at=row["created_at"], verified_at=row["verified_at"])
            for row in rows
        ]
