"""Linking a trader's exchange UIDs: validation, ownership, listing."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tortoise.exceptions import IntegrityError

from exchanges.base import UID_LENGTHS, validate_uid
from services.dto import AccountDTO
from services.events import EventService
from services.models import AccountStatus, Exchange, ExchangeAccount, Platform


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


def _to_dto(account: ExchangeAccount, exchange_name: str) -> AccountDTO:
    return AccountDTO(
        id=account.id,
        exchange_id=account.exchange_id,  # type: ignore[attr-defined]
        exchange_name=exchange_name,
        uid=account.uid,
        status=AccountStatus(account.status),
        reject_reason=account.reject_reason,
        created_at=account.created_at,
        verified_at=account.verified_at,
    )


class AccountService:
    def __init__(self, events: EventService):
        self._events = events

    @staticmethod
    def check_uid(exchange_id: str, text: str) -> UidCheck:
        """Format check only (no database): what the trader typed, normalised, or why not."""
        low, high = UID_LENGTHS.get(exchange_id, (0, 0))
        try:
            return UidCheck(uid=validate_uid(exchange_id, text), min_length=low, max_length=high)
        except ValueError as exc:
            return UidCheck(uid=None, reason=str(exc), min_length=low, max_length=high)

    async def link(self, user_id: int, exchange_id: str, text: str) -> LinkResult:
        exchange = await Exchange.get_or_none(id=exchange_id, enabled=True)
        if exchange is None:
            return LinkResult(LinkOutcome.EXCHANGE_UNAVAILABLE)
        check = self.check_uid(exchange_id, text)
        if check.uid is None:
            return LinkResult(LinkOutcome.INVALID, reason=check.reason)
        uid = check.uid
        owner = await ExchangeAccount.get_or_none(exchange_id=exchange_id, uid=uid)
        if owner is not None:
            mine = owner.user_id == user_id  # type: ignore[attr-defined]
            outcome = LinkOutcome.ALREADY_YOURS if mine else LinkOutcome.TAKEN
            return LinkResult(outcome, uid=uid)
        try:
            account = await ExchangeAccount.create(
                user_id=user_id, exchange_id=exchange_id, uid=uid
            )
        except IntegrityError:
            # The unique (exchange, uid) constraint decided a race between two traders.
            return LinkResult(LinkOutcome.TAKEN, uid=uid)
        await self._events.record("uid_linked", user_id, Platform.BOT, exchange=exchange_id)
        return LinkResult(LinkOutcome.LINKED, uid=uid, account=_to_dto(account, exchange.name))

    async def list_for_user(self, user_id: int) -> list[AccountDTO]:
        accounts = await ExchangeAccount.filter(user_id=user_id).select_related("exchange")
        accounts.sort(key=lambda a: (a.exchange.position, a.exchange_id, a.created_at))  # type: ignore[attr-defined]
        return [_to_dto(a, a.exchange.name) for a in accounts]  # type: ignore[attr-defined]
