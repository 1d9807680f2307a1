"""The operators' users directory and a user's file for the admin screens (seed 002 §2.2,
§4.1, §5.1.1): search, filters, sorting and pages over the users; for one user the ledger
operations that touched their accounts, each with all its postings, and their events.
Read-only: changes go through services/staff.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

SORTS = {
    "newest": "u.created_at DESC, u.id DESC",
    "oldest": "u.created_at, u.id",
    "balance": "available DESC, u.id",
    "name": "lower(u.first_name), u.id",
}
STATES = ("active", "banned")
OPERATIONS_SHOWN = 50
EVENTS_SHOWN = 50


@dataclass(frozen=True)
class UserFilters:
    query: str = ""  # Telegram id, @username, a name, or an exchange UID
    state: str | None = None  # active | banned
    role: str | None = None
    source: str | None = None
    exchange: str | None = None
    has_balance: bool | None = None
    sort: str = "newest"


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    username: str | None
    role: str
    banned: bool
    source: str
    locale: str | None
    created_at: datetime
    exchanges: tuple[str, ...]
    available: Decimal


@dataclass(frozen=True)
class UsersPage:
    users: tuple[UserRow, ...]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class Posting:
    account: str  # kind, and owner where there is one: "trader_available:42"
    amount: Decimal


@dataclass(frozen=True)
class Operation:
    id: int
    kind: str
    at: datetime
    memo: str
    postings: tuple[Posting, ...]


_FROM = """
FROM users u
LEFT JOIN ledger_accounts la ON la.owner = u.id::text AND la.kind = 'trader_available'
     AND la.asset = 'USDT'
WHERE {where}
"""
_ROWS = """
SELECT u.id, u.first_name, u.username, u.role, u.is_banned, u.signup_source, u.locale,
       u.created_at, coalesce(la.balance, 0) AS available,
       coalesce((SELECT array_agg(DISTINCT a.exchange_id ORDER BY a.exchange_id)
                 FROM exchange_accounts a WHERE a.user_id = u.id), '{{}}') AS exchanges
""" + _FROM + "ORDER BY {order} LIMIT ${limit} OFFSET ${offset}"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conditions(filters: UserFilters) -> tuple[list[str], list[Any]]:
    conditions: list[str] = ["true"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    query = filters.query.strip()
    if query.isdigit():
        conditions.append(f"(u.id = {arg(int(query) if len(query) < 19 else -1)} OR EXISTS ("
                          f"SELECT 1 FROM exchange_accounts a WHERE a.user_id = u.id "
                          f"AND a.uid = {arg(query)}))")
    elif query.startswith("@"):
        conditions.append(f"lower(u.username) = lower({arg(query[1:65])})")
    elif query:
        pattern = arg(_like(query[:64]))
        conditions.append(f"(u.first_name ILIKE {pattern} OR u.username ILIKE {pattern} OR "
                          f"EXISTS (SELECT 1 FROM exchange_accounts a WHERE a.user_id = u.id "
                          f"AND a.uid = {arg(query[:64])}))")
    if filters.state is not None:
        conditions.append("u.is_banned" if filters.state == "banned" else "NOT u.is_banned")
    if filters.role is not None:
        conditions.append(f"u.role = {arg(filters.role)}")
    if filters.source is not None:
        conditions.append(f"u.signup_source = {arg(filters.source)}")
    if filters.exchange is not None:
        conditions.append(f"EXISTS (SELECT 1 FROM exchange_accounts a WHERE a.user_id = u.id "
                          f"AND a.exchange_id = {arg(filters.exchange)})")
    if filters.has_balance is not None:
        conditions.append("coalesce(la.balance, 0) " + ("> 0" if filters.has_balance
                                                        else "= 0"))
    return conditions, args


def _row(row: Any) -> UserRow:
    return UserRow(id=row["id"], name=row["first_name"], username=row["username"],
                   role=row["role"], banned=row["is_banned"], source=row["signup_source"],
                   locale=row["locale"], created_at=row["created_at"],
                   exchanges=tuple(row["exchanges"]), available=row["available"])


class UserDirectory:
    async def search(self, filters: UserFilters, page: int, page_size: int) -> UsersPage:
        if filters.sort not in SORTS:
            raise ValueError(f"unknown sort {filters.sort!r}")
        conditions, args = _conditions(filters)
        where = " AND ".join(conditions)
        client = Tortoise.get_connection("default")
        async with client.acquire_connection() as conn:
            total = await conn.fetchval("SELECT count(*) " + _FROM.format(where=where), *args)
            rows = await conn.fetch(
                _ROWS.format(where=where, order=SORTS[filters.sort], limit=len(args) + 1,
                             offset=len(args) + 2), *args, page_size, (page - 1) * page_size)
        return UsersPage(tuple(_row(row) for row in rows), page, page_size, int(total))

    async def user(self, user_id: int) -> UserRow | None:
        page = await self.search(UserFilters(query=str(user_id)), 1, 50)
        return next((row for row in page.users if row.id == user_id), None)

    async def operations(self, user_id: int) -> tuple[Operation, ...]:
        """The newest ledger entries that moved the user's money, each with every posting
        (both sides: where it came from and where it went)."""
        client = Tortoise.get_connection("default")
        async with client.acquire_connection() as conn:
            rows = await conn.fetch(
                "WITH mine AS (SELECT id FROM ledger_accounts WHERE owner = $1 AND kind IN "
                " ('trader_available', 'trader_held')), "
                "entries AS (SELECT DISTINCT p.entry_id FROM ledger_postings p "
                " WHERE p.account_id IN (SELECT id FROM mine) ORDER BY p.entry_id DESC "
                " LIMIT $2) "
                "SELECT e.id, e.kind, e.created_at, e.memo, a.kind AS account_kind, a.owner, "
                " p.amount FROM entries x JOIN ledger_entries e ON e.id = x.entry_id "
                "JOIN ledger_postings p ON p.entry_id = e.id "
                "JOIN ledger_accounts a ON a.id = p.account_id ORDER BY e.id DESC, p.id",
                str(user_id), OPERATIONS_SHOWN)
        operations: dict[int, tuple[Any, list[Posting]]] = {}
        for row in rows:
            entry = operations.setdefault(row["id"], (row, []))
            label = f"{row['account_kind']}:{row['owner']}" if row["owner"] else str(
                row["account_kind"])
            entry[1].append(Posting(label, row["amount"]))
        return tuple(Operation(id=head["id"], kind=head["kind"], at=head["created_at"],
                               memo=head["memo"], postings=tuple(postings))
                     for head, postings in operations.values())

    async def events(self, user_id: int) -> list[tuple[str, datetime]]:
        rows = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT name, created_at FROM events WHERE user_id = $1 "
            "ORDER BY created_at DESC LIMIT $2", [user_id, EVENTS_SHOWN])
        return [(row["name"], row["created_at"]) for row in rows]


@dataclass(frozen=True)
class AuditFilters:
    actor_id: int | None = None
    action: str | None = None  # a prefix: "withdrawal." matches every withdrawal decision
    object_type: str | None = None
    object_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: datetime
    actor_id: int | None
    action: str
    object_type: str
    object_id: str
    before: str | None  # JSON text as stored
    after: str | None


async def audit_page(filters: AuditFilters, page: int,
                     page_size: int) -> tuple[tuple[AuditRow, ...], int]:
    """The audit log, newest first, filtered; (rows of the page, rows matching)."""
    conditions, args = ["true"], []
    for sql, value in (("actor_id = ${}", filters.actor_id),
                       ("action LIKE ${} || '%'", filters.action),
                       ("object_type = ${}", filters.object_type),
                       ("object_id = ${}", filters.object_id),
                       ("created_at >= ${}", filters.start), ("created_at < ${}", filters.end)):
        if value is not None:
            args.append(value)
            conditions.append(sql.format(len(args)))
    where = " AND ".join(conditions)
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM audit_log WHERE {where}", *args)
        rows = await conn.fetch(
            "SELECT seq, created_at, actor_id, action, object_type, object_id, "
            f"before::text AS before, after::text AS after FROM audit_log WHERE {where} "
            f"ORDER BY seq DESC LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
            *args, page_size, (page - 1) * page_size)
    return tuple(AuditRow(seq=r["seq"], at=r["created_at"], actor_id=r["actor_id"],
                          action=r["action"], object_type=r["object_type"],
                          object_id=r["object_id"], before=r["before"], after=r["after"])
                 for r in rows), int(total)
