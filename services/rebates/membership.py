"""A trader's rate group (VIP tier) set from the admin screens: into a group, or out of every
one, from a day on — today or later, never earlier (the rule of the admin chat's /member: a day
already booked would change money traders have been shown). The actor's role is read again
from the database (services/permissions.py: rates); a refusal of the role is audited; the change
itself is written and audited by RateService.set_user_group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tortoise import Tortoise

from services.audit import audit
from services.ledger.entries import ledger_transaction
from services.models import Role
from services.permissions import Permission, allowed
from services.rebates.shares import RateService


class MembershipRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # the actor's role does not set rates
    UNKNOWN_USER = "unknown_user"
    NOT_TRADER = "not_trader"  # operators earn no rebates: no group for them
    UNKNOWN_GROUP = "unknown_group"
    PAST_DAY = "past_day"  # before today: days already booked stay as they were


class MembershipError(Exception):
    def __init__(self, refusal: MembershipRefusal, field: str | None = None) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.field = field  # the request's field at fault, if one is


@dataclass(frozen=True)
class GroupChange:
    """A membership change set for a later day (group_id None: out of every group then)."""

    valid_from: date
    group_id: int | None
    name: str | None


class MembershipAdmin:
    def __init__(self, rates: RateService | None = None) -> None:
        self._rates = rates or RateService()

    async def set_group(self, actor_id: int, user_id: int, group_id: int | None,
                        valid_from: date | None, today: date) -> None:
        conn = Tortoise.get_connection("default")
        actor = await conn.execute_query_dict(
            "SELECT role, is_banned FROM users WHERE id = $1", [actor_id])
        if not actor or actor[0]["is_banned"] or not allowed(Role(actor[0]["role"]),
                                                             Permission.RATES):
            async with ledger_transaction() as tx:
                await audit(tx, actor_id, "rate.member_refused", "user", user_id,
                            after={"reason": MembershipRefusal.NOT_ALLOWED.value,
                                   "role": actor[0]["role"] if actor else None})
            raise MembershipError(MembershipRefusal.NOT_ALLOWED)
        target = await conn.execute_query_dict("SELECT role FROM users WHERE id = $1",
                                               [user_id])
        if not target:
            raise MembershipError(MembershipRefusal.UNKNOWN_USER)
        if target[0]["role"] != Role.TRADER.value:
            raise MembershipError(MembershipRefusal.NOT_TRADER)
        if group_id is not None and not await conn.execute_query_dict(
                "SELECT 1 FROM rate_groups WHERE id = $1", [group_id]):
            raise MembershipError(MembershipRefusal.UNKNOWN_GROUP, "group_id")
        day = valid_from or today
        if day < today:
            raise MembershipError(MembershipRefusal.PAST_DAY, "valid_from")
        await self._rates.set_user_group(user_id, group_id, day, actor_id=actor_id)

    @staticmethod
    async def upcoming(user_id: int, today: date) -> GroupChange | None:
        """The next membership change set for a day after today, if any."""
        rows = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT m.valid_from, m.group_id, g.name FROM rate_group_members m "
            "LEFT JOIN rate_groups g ON g.id = m.group_id WHERE m.user_id = $1 "
            "AND m.valid_from > $2 ORDER BY m.valid_from LIMIT 1", [user_id, today])
        if not rows:
            return None
        return GroupChange(rows[0]["valid_from"], rows[0]["group_id"], rows[0]["name"])
