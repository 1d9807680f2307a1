"""What the operators read about shares: each exchange's trader share now and the changes
scheduled, and the rate groups (VIP tiers) with their shares and members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise import Tortoise


@dataclass(frozen=True)
class ExchangeShareLine:
    exchange_id: str
    name: str
    share: Decimal  # in force today (a fraction)
    since: date | None  # when it took effect (None: the seeded default, never changed)
    upcoming: tuple[tuple[date, Decimal], ...]  # changes already set for later days


@dataclass(frozen=True)
class GroupLine:
    id: int
    name: str
    shares: tuple[tuple[str, Decimal | None, date], ...]  # (exchange or "*", share, from)
    members: int  # traders in the group today


async def exchange_shares(today: date) -> list[ExchangeShareLine]:
    conn = Tortoise.get_connection("default")
    exchanges = await conn.execute_query_dict(
        "SELECT id, name, trader_share FROM exchanges ORDER BY position, id", [])
    history = await conn.execute_query_dict(
        "SELECT exchange_id, share, valid_from FROM rate_exchange_shares "
        "WHERE valid_from > '1970-01-01' ORDER BY valid_from", [])
    lines = []
    for exchange in exchanges:
        mine = [(row["valid_from"], row["share"]) for row in history
                if row["exchange_id"] == exchange["id"]]
        past = [change for change in mine if change[0] <= today]
        lines.append(ExchangeShareLine(
            exchange_id=exchange["id"], name=exchange["name"],
            share=past[-1][1] if past else exchange["trader_share"],
            since=past[-1][0] if past else None,
            upcoming=tuple(change for change in mine if change[0] > today)))
    return lines


async def groups(today: date) -> list[GroupLine]:
    conn = Tortoise.get_connection("default")
    rows = await conn.execute_query_dict("SELECT id, name FROM rate_groups ORDER BY name", [])
    shares = await conn.execute_query_dict(
        "SELECT group_id, exchange_id, share, valid_from FROM rate_group_shares "
        "ORDER BY group_id, exchange_id, valid_from", [])
    members = {row["group_id"]: row["count"] for row in await conn.execute_query_dict(
        "SELECT group_id, count(*) AS count FROM (SELECT DISTINCT ON (user_id) user_id, "
        "group_id FROM rate_group_members WHERE valid_from <= $1 "
        "ORDER BY user_id, valid_from DESC) m WHERE group_id IS NOT NULL GROUP BY group_id",
        [today])}
    return [GroupLine(id=row["id"], name=row["name"],
                      shares=tuple((s["exchange_id"], s["share"], s["valid_from"])
                                   for s in shares if s["group_id"] == row["id"]),
                      members=members.get(row["id"], 0)) for row in rows]


async def group_named(name: str) -> int | None:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT id FROM rate_groups WHERE lower(name) = lower($1)", [name])
    return rows[0]["id"] if rows else None


async def member_group(user_id: int, today: date) -> GroupLine | None:
    """The rate group a trader is in today (the last membership change on or before it), or
    None: in none, or taken out of one."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT m.group_id FROM rate_group_members m WHERE m.user_id = $1 "
        "AND m.valid_from <= $2 ORDER BY m.valid_from DESC LIMIT 1", [user_id, today])
    if not rows or rows[0]["group_id"] is None:
        return None
    return next((line for line in await groups(today) if line.id == rows[0]["group_id"]), None)
