"""Operators acting on people: find a user, read their file, ban or unban, give or take a role.

Every change re-checks the actor's role from the database (services/permissions.py), is
written together with its audit row and the message to the person it concerns (one
transaction: all three or none), and every refusal is audited too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise import Tortoise

from services.audit import audit
from services.dto import UserDTO
from services.ledger.entries import ledger_transaction
from services.models import Role
from services.notifications import NotificationService
from services.permissions import Permission, allowed
from services.users import UserService

MAX_FOUND = 10
_USERNAME = re.compile(r"^@?([A-Za-z0-9_]{3,64})$")


class StaffRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # the actor's role does not allow it
    UNKNOWN_USER = "unknown_user"
    YOURSELF = "yourself"  # one's own role or ban: another admin must do it
    STAFF_BAN = "staff_ban"  # an operator is demoted before being banned
    UNCHANGED = "unchanged"  # already so


class StaffError(Exception):
    def __init__(self, refusal: StaffRefusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True)
class Change:
    user: UserDTO  # as it is now
    before: Any
    after: Any


class StaffService:
    def __init__(self, users: UserService) -> None:
        self._users = users

    async def find(self, query: str) -> list[UserDTO]:
        """By Telegram id, @username or an exchange UID (a number may be either)."""
        text = query.strip()
        conn = Tortoise.get_connection("default")
        if text.isdigit():
            rows = await conn.execute_query_dict(
                "SELECT DISTINCT u.id FROM users u LEFT JOIN exchange_accounts a "
                "ON a.user_id = u.id WHERE u.id = $1 OR a.uid = $2 ORDER BY u.id LIMIT $3",
                [int(text) if len(text) < 19 else -1, text, MAX_FOUND])
        elif (match := _USERNAME.match(text)) and text.startswith("@"):
            rows = await conn.execute_query_dict(
                "SELECT id FROM users WHERE lower(username) = lower($1) ORDER BY id LIMIT $2",
                [match[1], MAX_FOUND])
        else:
            rows = await conn.execute_query_dict(
                "SELECT DISTINCT user_id AS id FROM exchange_accounts WHERE uid = $1 "
                "ORDER BY user_id LIMIT $2", [text[:64], MAX_FOUND])
        found = [await self._users.get(row["id"], fresh=True) for row in rows]
        return [user for user in found if user is not None]

    async def _actor(self, actor_id: int, permission: Permission, action: str,
                     target_id: int) -> UserDTO:
        actor = await self._users.get(actor_id, fresh=True)
        if actor is None or actor.is_banned or not allowed(actor.role, permission):
            async with ledger_transaction() as conn:
                await audit(conn, actor_id, f"{action}_refused", "user", target_id,
                            after={"reason": StaffRefusal.NOT_ALLOWED.value,
                                   "role": actor.role.value if actor else None})
            raise StaffError(StaffRefusal.NOT_ALLOWED)
        return actor

    async def set_role(self, actor_id: int, target_id: int, role: Role) -> Change:
        await self._actor(actor_id, Permission.USERS_ROLE, "user.role", target_id)
        async with ledger_transaction() as conn:
            # Role changes one at a time, the actor's own role read again under the lock: two
            # admins demoting each other at once cannot leave nobody to grant roles.
            await conn.execute("SELECT pg_advisory_xact_lock(7294020)")
            actor_role = await conn.fetchval(
                "SELECT role FROM users WHERE id = $1 AND NOT is_banned", actor_id)
            target = await conn.fetchrow("SELECT role FROM users WHERE id = $1 FOR UPDATE",
                                         target_id)
            refusal = (StaffRefusal.NOT_ALLOWED
                       if actor_role is None or not allowed(Role(actor_role),
                                                            Permission.USERS_ROLE)
                       else self._role_refusal(actor_id, target_id, target, role))
            if refusal is not None:
                await audit(conn, actor_id, "user.role_refused", "user", target_id,
                            after={"reason": refusal.value, "role": role.value})
            else:
                await conn.execute("UPDATE users SET role = $2 WHERE id = $1", target_id,
                                   role.value)
                place = await audit(conn, actor_id, "user.role", "user", target_id,
                                    {"role": target["role"]}, {"role": role.value})
                await NotificationService.enqueue_in(
                    conn, f"user.role:{target_id}:{place}", target_id, "staff",
                    f"staff.role_now.{role.value}", user_id=target_id)
        if refusal is not None:
            raise StaffError(refusal)
        return await self._changed(target_id, target["role"], role.value)

    @staticmethod
    def _role_refusal(actor_id: int, target_id: int, target: Any,
                      role: Role) -> StaffRefusal | None:
        if target is None:
            return StaffRefusal.UNKNOWN_USER
        if target_id == actor_id:
            return StaffRefusal.YOURSELF
        if target["role"] == role.value:
            return StaffRefusal.UNCHANGED
        return None

    async def set_banned(self, actor_id: int, target_id: int, banned: bool) -> Change:
        action = "user.ban" if banned else "user.unban"
        await self._actor(actor_id, Permission.USERS_BAN, action, target_id)
        async with ledger_transaction() as conn:
            target = await conn.fetchrow(
                "SELECT role, is_banned FROM users WHERE id = $1 FOR UPDATE", target_id)
            refusal = None
            if target is None:
                refusal = StaffRefusal.UNKNOWN_USER
            elif target_id == actor_id:
                refusal = StaffRefusal.YOURSELF
            elif target["is_banned"] == banned:
                refusal = StaffRefusal.UNCHANGED
            elif banned and target["role"] != Role.TRADER.value:
                refusal = StaffRefusal.STAFF_BAN
            if refusal is not None:
                await audit(conn, actor_id, f"{action}_refused", "user", target_id,
                            after={"reason": refusal.value})
            else:
                await conn.execute("UPDATE users SET is_banned = $2 WHERE id = $1", target_id,
                                   banned)
                place = await audit(conn, actor_id, action, "user", target_id,
                                    {"banned": target["is_banned"]}, {"banned": banned})
                await NotificationService.enqueue_in(
                    conn, f"{action}:{target_id}:{place}", target_id,
                    "staff", "staff.banned" if banned else "staff.unbanned", user_id=target_id)
        if refusal is not None:
            raise StaffError(refusal)
        return await self._changed(target_id, target["is_banned"], banned)

    async def _changed(self, target_id: int, before: Any, after: Any) -> Change:
        user = await self._users.get(target_id, fresh=True)  # replaces this process's cache
        assert user is not None
        return Change(user, before, after)

    async def audit_refused_command(self, actor_id: int, command: str) -> None:
        """An admin-chat command or button from someone whose role does not allow it."""
        async with ledger_transaction() as conn:
            await audit(conn, actor_id, "admin.refused", "command", command[:64])

