"""Share resolution and its history: the rates in force on a day, and their admin setters."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.audit import audit
from services.ledger import ledger_transaction
from services.models.rates import ALL, EstimateBasis

EPOCH = date(1970, 1, 1)


def today_utc() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class ShareQuote:
    share: Decimal
    source: str  # trader | group | exchange


@dataclass(frozen=True)
class EstimateQuote:
    basis: EstimateBasis
    rate: Decimal


class _History:
    """Values by key, each in force from its valid_from day until the next one."""

    def __init__(self) -> None:
        self._days: dict[Any, list[date]] = defaultdict(list)
        self._values: dict[Any, list[Any]] = defaultdict(list)

    def add(self, key: Any, valid_from: date, value: Any) -> None:
        # Rows arrive ordered by valid_from (ORDER BY in the loaders).
        self._days[key].append(valid_from)
        self._values[key].append(value)

    def has(self, key: Any) -> bool:
        return key in self._days

    def at(self, key: Any, day: date) -> tuple[bool, Any]:
        """(found, value in force on ``day``); value may be None (an ended override)."""
        days = self._days.get(key)
        if not days:
            return False, None
        index = bisect.bisect_right(days, day) - 1
        if index < 0:
            return False, None
        return True, self._values[key][index]


class RateBook:
    """The rates of one booking batch, loaded set-based and resolved in memory."""

    def __init__(self) -> None:
        self.exchange_current: dict[str, Decimal] = {}
        self.exchange_history = _History()
        self.group_shares = _History()  # (group_id, exchange_id | "*") → share | None
        self.members = _History()  # user_id → group_id | None
        self.trader_shares = _History()  # (user_id, exchange_id | "*") → share | None
        self.estimates = _History()  # (exchange_id, product | "*") → EstimateQuote

    @classmethod
    async def load(cls, conn: Any, user_ids: Iterable[int]) -> RateBook:
        users = sorted(set(user_ids))
        book = cls()
        for row in await conn.fetch("SELECT id, trader_share FROM exchanges"):
            book.exchange_current[row["id"]] = row["trader_share"]
        for row in await conn.fetch(
            "SELECT exchange_id, share, valid_from FROM rate_exchange_shares ORDER BY valid_from"
        ):
            book.exchange_history.add(row["exchange_id"], row["valid_from"], row["share"])
        for row in await conn.fetch(
            "SELECT group_id, exchange_id, share, valid_from FROM rate_group_shares "
            "ORDER BY valid_from"
        ):
            book.group_shares.add((row["group_id"], row["exchange_id"]), row["valid_from"],
                                  row["share"])
        for row in await conn.fetch(
            "SELECT user_id, group_id, valid_from FROM rate_group_members "
            "WHERE user_id = ANY($1::bigint[]) ORDER BY valid_from", users,
        ):
            book.members.add(row["user_id"], row["valid_from"], row["group_id"])
        for row in await conn.fetch(
            "SELECT user_id, exchange_id, share, valid_from FROM rate_trader_shares "
            "WHERE user_id = ANY($1::bigint[]) ORDER BY valid_from", users,
        ):
            book.trader_shares.add((row["user_id"], row["exchange_id"]), row["valid_from"],
                                   row["share"])
        for row in await conn.fetch(
            "SELECT exchange_id, product, basis, rate, valid_from FROM rate_estimates "
            "ORDER BY valid_from"
        ):
            book.estimates.add((row["exchange_id"], row["product"]), row["valid_from"],
                               EstimateQuote(EstimateBasis(row["basis"]), row["rate"]))
        return book

    def share_for(self, user_id: int, exchange_id: str, day: date) -> ShareQuote:
        """Per-trader rate, else group rate, else exchange default; in each, a rate for this
        exchange beats one for all exchanges."""
        for key in ((user_id, exchange_id), (user_id, ALL)):
            found, share = self.trader_shares.at(key, day)
            if found and share is not None:
                return ShareQuote(share, "trader")
        _, group_id = self.members.at(user_id, day)
        if group_id is not None:
            for key in ((group_id, exchange_id), (group_id, ALL)):
                found, share = self.group_shares.at(key, day)
                if found and share is not None:
                    return ShareQuote(share, "group")
        found, share = self.exchange_history.at(exchange_id, day)
        if found:
            return ShareQuote(share, "exchange")
        # Never changed through RateService: the configured value has always been in force.
        return ShareQuote(self.exchange_current[exchange_id], "exchange")

    def estimate_for(self, exchange_id: str, product: str, day: date) -> EstimateQuote | None:
        for key in ((exchange_id, product), (exchange_id, ALL)):
            found, quote = self.estimates.at(key, day)
            if found:
                return quote  # type: ignore[no-any-return]
        return None


class RateService:
    """Admin configuration of shares and estimate rates. Every setter records a value in force
    from ``valid_from`` (default: today, UTC); setting the same key and day again corrects it.
    Records already booked keep their amounts until ``RebateEngine.reaccrue`` is run."""

    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    async def set_exchange_share(
        self, exchange_id: str, share: Decimal, valid_from: date | None = None, *,
        actor_id: int | None = None,
    ) -> None:
        _check_share(share)
        if share != share.quantize(Decimal("0.0001")):
            # exchanges.trader_share (the current value shown to traders) has 4 decimals.
            raise ValueError("an exchange default share has at most 4 decimals")
        day = valid_from or today_utc()
        async with ledger_transaction(self._connection_name) as conn:
            current = await conn.fetchval(
                "SELECT trader_share FROM exchanges WHERE id = $1 FOR UPDATE", exchange_id
            )
            if current is None:
                raise ValueError(f"unknown exchange {exchange_id!r}")
            # The first change keeps the old default in force for all earlier days.
            await conn.execute(
                "INSERT INTO rate_exchange_shares (exchange_id, share, valid_from, created_at) "
                "SELECT $1::varchar, $2, $3, now() WHERE NOT EXISTS "
                "(SELECT 1 FROM rate_exchange_shares WHERE exchange_id = $1::varchar)",
                exchange_id, current, EPOCH,
            )
            await self._upsert(conn, "rate_exchange_shares", ("exchange_id",), (exchange_id,),
                               "share", share, day)
            await audit(conn, actor_id, "rate.exchange_share", "exchange", exchange_id,
                        {"share": current}, {"share": share, "valid_from": day})
            if day <= today_utc():
                await conn.execute(
                    "UPDATE exchanges SET trader_share = $2, updated_at = now() WHERE id = $1",
                    exchange_id, share,
                )

    async def apply_due_shares(self) -> int:
        """Exchanges whose share set for a later day is in force now: their shown share
        (exchanges.trader_share) follows. The engine reads the history itself."""
        async with ledger_transaction(self._connection_name) as conn:
            result = await conn.execute(
                "UPDATE exchanges e SET trader_share = h.share, updated_at = now() FROM ("
                " SELECT DISTINCT ON (exchange_id) exchange_id, share FROM rate_exchange_shares"
                " WHERE valid_from <= $1 ORDER BY exchange_id, valid_from DESC) h "
                "WHERE h.exchange_id = e.id AND e.trader_share <> h.share", today_utc())
        return int(result.split()[-1])

    async def create_group(self, name: str, *, actor_id: int | None = None) -> int:
        async with ledger_transaction(self._connection_name) as conn:
            group_id: int = await conn.fetchval(
                "INSERT INTO rate_groups (name, created_at) VALUES ($1, now()) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id", name,
            )
            await audit(conn, actor_id, "rate.group_create", "rate_group", group_id,
                        after={"name": name})
        return group_id

    async def set_group_share(
        self, group_id: int, share: Decimal | None, exchange_id: str = ALL,
        valid_from: date | None = None, *, actor_id: int | None = None,
    ) -> None:
        if share is not None:
            _check_share(share)
        day = valid_from or today_utc()
        async with ledger_transaction(self._connection_name) as conn:
            await self._upsert(conn, "rate_group_shares", ("group_id", "exchange_id"),
                               (group_id, exchange_id), "share", share, day)
            await audit(conn, actor_id, "rate.group_share", "rate_group", group_id,
                        after={"exchange_id": exchange_id, "share": share, "valid_from": day})

    async def set_user_group(
        self, user_id: int, group_id: int | None, valid_from: date | None = None, *,
        actor_id: int | None = None,
    ) -> None:
        day = valid_from or today_utc()
        async with ledger_transaction(self._connection_name) as conn:
            # The audit's "before": the group that day had until now (None: in none).
            before = await conn.fetchval(
                "SELECT group_id FROM rate_group_members WHERE user_id = $1 "
                "AND valid_from <= $2 ORDER BY valid_from DESC LIMIT 1", user_id, day)
            await self._upsert(conn, "rate_group_members", ("user_id",), (user_id,),
                               "group_id", group_id, day)
            await audit(conn, actor_id, "rate.member", "user", user_id,
                        {"group_id": before}, {"group_id": group_id, "valid_from": day})

    async def set_trader_share(
        self, user_id: int, share: Decimal | None, exchange_id: str = ALL,
        valid_from: date | None = None,
    ) -> None:
        if share is not None:
            _check_share(share)
        async with ledger_transaction(self._connection_name) as conn:
            await self._upsert(conn, "rate_trader_shares", ("user_id", "exchange_id"),
                               (user_id, exchange_id), "share", share, valid_from or today_utc())

    async def set_estimate_rate(
        self, exchange_id: str, basis: EstimateBasis, rate: Decimal, product: str = ALL,
        valid_from: date | None = None,
    ) -> None:
        if rate < 0:
            raise ValueError("an estimate rate cannot be negative")
        async with ledger_transaction(self._connection_name) as conn:
            await conn.execute(
                "INSERT INTO rate_estimates (exchange_id, product, basis, rate, valid_from, "
                "created_at) VALUES ($1, $2, $3, $4, $5, now()) "
                "ON CONFLICT (exchange_id, product, valid_from) "
                "DO UPDATE SET basis = EXCLUDED.basis, rate = EXCLUDED.rate",
                exchange_id, product, basis.value, rate, valid_from or today_utc(),
            )

    async def quote_share(self, user_id: int, exchange_id: str, day: date) -> ShareQuote:
        """The share that would apply to a record of this trader, exchange and day."""
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            book = await RateBook.load(conn, [user_id])
        return book.share_for(user_id, exchange_id, day)

    @staticmethod
    async def _upsert(
        conn: Any, table: str, key_columns: Sequence[str], key: Sequence[Any], value_column: str,
        value: Any, valid_from: date,
    ) -> None:
        # Table and column names come from this module only, never from input.
        columns = [*key_columns, value_column, "valid_from", "created_at"]
        params = ", ".join(f"${i}" for i in range(1, len(key_columns) + 3))
        conflict = ", ".join([*key_columns, "valid_from"])
        await conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({params}, now()) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {value_column} = EXCLUDED.{value_column}",
            *key, value, valid_from,
        )


def _check_share(share: Decimal) -> None:
    if not (0 <= share <= 1) or share != share.quantize(Decimal("0.000001")):
        raise ValueError("a share is a fraction between 0 and 1 with at most 6 decimals")
