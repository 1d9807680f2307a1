"""Pending UIDs become verified (found among our invitees or in the records) or rejected
(not found in time), and each verified UID's first trading day is noticed; each change is told
to the trader through the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from tortoise.expressions import Q

from exchanges.base import AffiliateSource
from services.events import EventService
from services.models import (
    AccountStatus,
    CommissionRecord,
    Exchange,
    ExchangeAccount,
    Platform,
)
from services.notifications import NotificationService
from services.sync.outcomes import PendingPlan, UidLookup


class UidChecks:
    UID_CHECKS_PER_RUN = 200  # one-by-one UID checks are rate limited at the exchange

    def __init__(self, notifications: NotificationService, events: EventService, *,
                 uid_reject_after: timedelta, clock: Callable[[], datetime]):
        self._notifications = notifications
        self._events = events
        self._uid_reject_after = uid_reject_after
        self._now = clock

    async def verify(
        self, exchange: Exchange, source: AffiliateSource | None, *, reject: bool = True,
    ) -> tuple[list[str], int]:
        """Pending UIDs found among our invitees (or in the commission records) become
        verified; with ``reject``, those not found within uid_reject_after become rejected."""
        pending = await ExchangeAccount.filter(exchange_id=exchange.id,
                                               status=AccountStatus.PENDING)
        if not pending:
            return [], 0
        uids = {account.uid for account in pending}
        found: set[str] = {
            str(row["uid"]) for row in await CommissionRecord.filter(
                exchange_id=exchange.id, uid__in=uids).distinct().values("uid")
        }
        if source is not None and uids - found:
            if source.capabilities.uid_check:
                for uid in sorted(uids - found)[: self.UID_CHECKS_PER_RUN]:
                    if await source.check_uid(uid) is not None:
                        found.add(uid)
            else:
                found |= {invitee.uid for invitee in await source.list_invitees()} & uids
        now = self._now()
        verified: list[str] = []
        rejected = 0
        for account in pending:
            if account.uid in found:
                if await self._resolve(account, exchange, AccountStatus.VERIFIED, now):
                    verified.append(account.uid)
            elif reject and now - account.created_at >= self._uid_reject_after:
                rejected += await self._resolve(account, exchange, AccountStatus.REJECTED, now,
                                                reason="not_found")
        return verified, rejected

    @property
    def reject_after(self) -> timedelta:
        return self._uid_reject_after

    async def check_one(self, account: ExchangeAccount, exchange: Exchange,
                        source: AffiliateSource) -> bool:
        """Ask the exchange about this one pending UID; True if it was verified now (and its
        trader notified). Exchange errors are the caller's (raised)."""
        if await source.check_uid(account.uid) is None:
            return False
        return bool(await self._resolve(account, exchange, AccountStatus.VERIFIED, self._now()))

    async def tell_pending(self, account: ExchangeAccount, exchange: Exchange, lookup: str,
                           plan: PendingPlan) -> None:
        """Tell the trader why a UID they just linked is still pending and what happens next
        (once per account)."""
        if plan.via == "none":
            key = "notify.uid_pending.unconfigured"
        elif lookup in (UidLookup.NOT_FOUND, UidLookup.FAILED):
            key = f"notify.uid_pending.{lookup}"
        else:
            key = "notify.uid_pending.at_sync"
        params: dict[str, object] = {"exchange": exchange.name, "uid": account.uid}
        if plan.next_check_at is not None:
            params["next_at"] = plan.next_check_at.isoformat()
        if plan.reject_at is not None:
            params["reject_at"] = plan.reject_at.isoformat()
        user_id: int = account.user_id  # type: ignore[attr-defined]
        await self._notifications.enqueue(f"uid_pending:{account.id}", user_id, "uid_pending",
                                          key, params, user_id=user_id)

    async def _resolve(self, account: ExchangeAccount, exchange: Exchange,
                       status: AccountStatus, now: datetime, reason: str | None = None) -> int:
        # Conditional: only a still-pending account changes (two runs cannot both notify).
        changed = await ExchangeAccount.filter(id=account.id, status=AccountStatus.PENDING).update(
            status=status, reject_reason=reason,
            verified_at=now if status is AccountStatus.VERIFIED else None,
        )
        if not changed:
            return 0
        user_id: int = account.user_id  # type: ignore[attr-defined]
        kind = "uid_verified" if status is AccountStatus.VERIFIED else "uid_rejected"
        params: dict[str, object] = {"exchange": exchange.name, "uid": account.uid}
        if reason:
            params["reason"] = reason
        await self._notifications.enqueue(
            f"{kind}:{account.id}", user_id, kind, f"notify.{kind}", params, user_id=user_id
        )
        await self._events.record(kind, user_id, Platform.SYSTEM, exchange=exchange.id)
        return 1

    async def detect_first_trades(self, exchange: Exchange) -> int:
        """The first day with activity of each verified UID that had none yet."""
        accounts = await ExchangeAccount.filter(
            exchange_id=exchange.id, status=AccountStatus.VERIFIED, first_trade_at=None
        )
        detected = 0
        for account in accounts:
            first = await CommissionRecord.filter(
                Q(volume__gt=0) | Q(commission__gt=0), exchange_id=exchange.id, uid=account.uid,
            ).order_by("day").first()
            if first is None:
                continue
            first_day: date = first.day
            at = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
            if not await ExchangeAccount.filter(id=account.id, first_trade_at=None).update(
                first_trade_at=at
            ):
                continue
            user_id: int = account.user_id  # type: ignore[attr-defined]
            await self._notifications.enqueue(
                f"first_trade:{account.id}", user_id, "first_trade", "notify.first_trade",
                {"exchange": exchange.name, "uid": account.uid}, user_id=user_id,
            )
            await self._events.record("first_trade", user_id, Platform.SYSTEM,
                                      exchange=exchange.id)
            detected += 1
        return detected
