"""What a trader sees of their money: balances and the per-day, per-exchange rebate lines.

Earned amounts come from what the rebate engine booked (rebate_accruals, written in the same
transaction as the ledger entries); available and held come from the ledger's balances; paid out
from posted holds. Totals are sums of exactly the lines shown (the same SQL feeds both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from tortoise import Tortoise

from services.ledger import USDT, ZERO


@dataclass(frozen=True)
class ExchangeEarnings:
    exchange_id: str
    exchange_name: str
    volume: Decimal | None
    fee: Decimal | None
    gross: Decimal
    earned: Decimal
    estimated: Decimal  # the part of ``earned`` that is still estimated


@dataclass(frozen=True)
class BalanceSummary:
    user_id: int
    asset: str
    available: Decimal
    held: Decimal
    paid_out: Decimal  # posted holds, fees included
    total_earned: Decimal
    estimated_earned: Decimal
    per_exchange: tuple[ExchangeEarnings, ...]


@dataclass(frozen=True)
class HistoryLine:
    day: date
    exchange_id: str
    exchange_name: str
    volume: Decimal | None  # None: the exchange reported none that day
    fee: Decimal | None
    gross: Decimal  # our commission (estimated where ``estimated``)
    share_percent: Decimal
    rebate: Decimal
    estimated: bool


@dataclass(frozen=True)
class HistoryTotals:
    volume: Decimal
    fee: Decimal
    gross: Decimal
    rebate: Decimal
    lines: int


@dataclass(frozen=True)
class HistoryPage:
    lines: tuple[HistoryLine, ...]
    page: int
    page_size: int
    totals: HistoryTotals  # over all lines matching the filters, not only this page

    @property
    def pages(self) -> int:
        return max(1, -(-self.totals.lines // self.page_size))


# One line per (day, exchange). Within a line the share is normally one value (rates are per
# day); if records differ (e.g. a partial re-accrual) the effective share rebate/gross is shown.
# {where} is only ever _filters()' conditions with $n placeholders: values go as parameters.
_LINES = """
SELECT b.day, b.exchange_id, e.name AS exchange_name, e.position,
       sum(b.volume_usdt) AS volume, sum(b.fee_usdt) AS fee, sum(b.gross) AS gross,
       sum(b.trader_amount) AS rebate, min(b.share) AS min_share, max(b.share) AS max_share,
       bool_or(b.estimated) AS estimated
FROM rebate_accruals b JOIN exchanges e ON e.id = b.exchange_id
WHERE {where}
GROUP BY b.day, b.exchange_id, e.name, e.position
"""
_NEWEST_FIRST = "ORDER BY b.day DESC, e.position, b.exchange_id"


def _filters(user_id: int, exchange_id: str | None, start: date | None,
             end: date | None) -> tuple[str, list[Any]]:
    """The WHERE conditions and their parameters ($1.. in order). Only the filters given become
    conditions, so the planner sees a plain range on the (user_id, day) index."""
    if start is not None and end is not None and start > end:
        raise ValueError("start is after end")
    conditions: list[str] = ["b.user_id = $1"]
    args: list[Any] = [user_id]
    for sql, value in (("b.exchange_id = ${}", exchange_id), ("b.day >= ${}", start),
                       ("b.day <= ${}", end)):
        if value is not None:
            args.append(value)
            conditions.append(sql.format(len(args)))
    return " AND ".join(conditions), args


class Standing(NamedTuple):
    """Where a trader stands, in one read: the ledger's balances, what was paid out (posted
    holds, fees included), what was earned (estimated part too) and the exchanges linked. (A
    NamedTuple: the Mini App's dashboard makes one per request.)"""

    available: Decimal
    held: Decimal
    paid_out: Decimal
    earned: Decimal
    estimated: Decimal
    linked: frozenset[str]


# $1 user id, $2 the same as text (ledger accounts are owned by text), $3 asset. One row; the
# Mini App's dashboard reads it inside its own statement (services/dashboard.py).
STANDING_SQL = """
SELECT coalesce((SELECT balance FROM ledger_accounts WHERE owner = $2 AND asset = $3
                 AND kind = 'trader_available'), 0) AS available,
       coalesce((SELECT balance FROM ledger_accounts WHERE owner = $2 AND asset = $3
                 AND kind = 'trader_held'), 0) AS held,
       (SELECT coalesce(sum(amount), 0) FROM ledger_holds
        WHERE user_id = $1 AND asset = $3 AND state = 'posted') AS paid_out,
       e.earned, e.estimated,
       (SELECT coalesce(array_agg(DISTINCT exchange_id), '{}') FROM exchange_accounts
        WHERE user_id = $1) AS linked
FROM (SELECT coalesce(sum(trader_amount), 0) AS earned,
             coalesce(sum(trader_amount) FILTER (WHERE estimated), 0) AS estimated
      FROM rebate_accruals WHERE user_id = $1) e
"""


async def read_standing(conn: Any, user_id: int, asset: str = USDT) -> Standing:
    """One query on the caller's connection: the bot's balance screen and the Mini App's
    dashboard read the same figures the same way."""
    return standing_of(await conn.fetchrow(STANDING_SQL, user_id, str(user_id), asset))


def standing_of(row: Any) -> Standing:
    """A Standing from a row of STANDING_SQL's columns."""
    return Standing(available=row["available"], held=row["held"], paid_out=row["paid_out"],
                    earned=row["earned"], estimated=row["estimated"],
                    linked=frozenset(row["linked"]))


class BalanceService:
    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    async def summary(self, user_id: int, asset: str = USDT) -> BalanceSummary:
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            standing = await read_standing(conn, user_id, asset)
            rows = await conn.fetch(
                """
                SELECT b.exchange_id, e.name, sum(b.volume_usdt) AS volume,
                       sum(b.fee_usdt) AS fee, sum(b.gross) AS gross,
                       sum(b.trader_amount) AS earned,
                       coalesce(sum(b.trader_amount) FILTER (WHERE b.estimated), 0) AS estimated
                FROM rebate_accruals b JOIN exchanges e ON e.id = b.exchange_id
                WHERE b.user_id = $1
                GROUP BY b.exchange_id, e.name, e.position
                ORDER BY e.position, b.exchange_id
                """,
                user_id,
            )
        per_exchange = tuple(
            ExchangeEarnings(
                exchange_id=row["exchange_id"], exchange_name=row["name"], volume=row["volume"],
                fee=row["fee"], gross=row["gross"], earned=row["earned"],
                estimated=row["estimated"],
            )
            for row in rows
        )
        return BalanceSummary(
            user_id=user_id, asset=asset,
            available=standing.available,
            held=standing.held,
            paid_out=standing.paid_out,
            total_earned=sum((e.earned for e in per_exchange), ZERO),
            estimated_earned=sum((e.estimated for e in per_exchange), ZERO),
            per_exchange=per_exchange,
        )

    async def history(
        self, user_id: int, page: int = 1, page_size: int = 30, *, exchange_id: str | None = None,
        start: date | None = None, end: date | None = None,
    ) -> HistoryPage:
        """Newest day first; ``page`` counts from 1. The filters (an exchange, days from
        ``start`` to ``end`` inclusive) apply to the lines and to the totals alike."""
        if page < 1 or not 1 <= page_size <= 500:
            raise ValueError("page starts at 1 and page_size is 1..500")
        where, args = _filters(user_id, exchange_id, start, end)
        lines = _LINES.format(where=where)
        paging = f"LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}"
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            rows = await conn.fetch(f"{lines} {_NEWEST_FIRST} {paging}",
                                    *args, page_size, (page - 1) * page_size)
            totals = await conn.fetchrow(
                f"SELECT coalesce(sum(volume), 0) AS volume, coalesce(sum(fee), 0) AS fee, "
                f"coalesce(sum(gross), 0) AS gross, coalesce(sum(rebate), 0) AS rebate, "
                f"count(*) AS lines FROM ({lines}) AS lines",
                *args,
            )
        return HistoryPage(
            lines=tuple(_line(row) for row in rows), page=page, page_size=page_size,
            totals=HistoryTotals(volume=totals["volume"], fee=totals["fee"],
                                 gross=totals["gross"], rebate=totals["rebate"],
                                 lines=totals["lines"]),
        )

    async def history_lines(
        self, user_id: int, *, exchange_id: str | None = None, start: date | None = None,
        end: date | None = None, limit: int = 100_000,
    ) -> tuple[HistoryLine, ...]:
        """Every line matching the filters (the CSV export), in the order and with the figures
        of ``history``'s pages; at most ``limit`` lines, so an export stays bounded."""
        if limit < 1:
            raise ValueError("limit is at least 1")
        where, args = _filters(user_id, exchange_id, start, end)
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            rows = await conn.fetch(
                f"{_LINES.format(where=where)} {_NEWEST_FIRST} LIMIT ${len(args) + 1}",
                *args, limit,
            )
        return tuple(_line(row) for row in rows)


def _line(row: Any) -> HistoryLine:
    if row["min_share"] == row["max_share"] or not row["gross"]:
        share = row["max_share"]
    else:
        share = row["rebate"] / row["gross"]
    return HistoryLine(
        day=row["day"], exchange_id=row["exchange_id"], exchange_name=row["exchange_name"],
        volume=row["volume"], fee=row["fee"], gross=row["gross"],
        share_percent=(share * 100).quantize(Decimal("0.01")), rebate=row["rebate"],
        estimated=row["estimated"],
    )
