"""The database itself enforces the ledger's rules: raw SQL that bypasses services/ledger/ is
rejected."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest
from tortoise import Tortoise

from services.ledger import AccountRef, Ledger, Leg
from tests.ledger.helpers import next_id

D = Decimal


async def _accounts(conn: asyncpg.Connection, user_id: int) -> tuple[int, int]:
    trader = await conn.fetchval(
        "INSERT INTO ledger_accounts (kind, owner) VALUES ('trader_available', $1) RETURNING id",
        str(user_id),
    )
    revenue = await conn.fetchval(
        "INSERT INTO ledger_accounts (kind, owner) VALUES ('suspense', $1) RETURNING id",
        f"test-{user_id}",
    )
    return trader, revenue


async def _entry(conn: asyncpg.Connection, key: str) -> int:
    return await conn.fetchval(
        "INSERT INTO ledger_entries (idempotency_key, kind, content_hash) "
        "VALUES ($1, 'test', 'x') RETURNING id", key,
    )


async def _raw(statements: list[tuple[str, tuple[object, ...]]]) -> None:
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as conn, conn.transaction():
        for sql, args in statements:
            await conn.execute(sql, *args)


async def test_unbalanced_entry_is_rejected_at_commit(db: str) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, other = await _accounts(conn, next_id())
        with pytest.raises(asyncpg.CheckViolationError, match="unbalanced"):
            async with conn.transaction():
                entry = await _entry(conn, "raw:unbalanced")
                await conn.execute(
                    "INSERT INTO ledger_postings (entry_id, account_id, amount) "
                    "VALUES ($1, $2, 5), ($1, $3, -4)", entry, trader, other,
                )
        assert await conn.fetchval("SELECT count(*) FROM ledger_entries") == 0
        assert await conn.fetchval("SELECT balance FROM ledger_accounts WHERE id = $1",
                                   trader) == 0


async def test_entry_without_two_postings_is_rejected(db: str) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        with pytest.raises(asyncpg.CheckViolationError, match="fewer than two"):
            async with conn.transaction():
                await _entry(conn, "raw:empty")


async def test_entry_with_one_posting_is_rejected(db: str) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, _ = await _accounts(conn, next_id())
        with pytest.raises(asyncpg.CheckViolationError, match="fewer than two"):
            async with conn.transaction():
                entry = await _entry(conn, "raw:single")
                await conn.execute("INSERT INTO ledger_postings (entry_id, account_id, amount) "
                                   "VALUES ($1, $2, 5)", entry, trader)


async def test_entry_must_balance_per_asset(db: str) -> None:
    """+5 USDT and -5 BTC sum to zero, but not per asset."""
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, _ = await _accounts(conn, next_id())
        btc = await conn.fetchval(
            "INSERT INTO ledger_accounts (kind, owner, asset) VALUES ('suspense', $1, 'BTC') "
            "RETURNING id", f"btc-{next_id()}",
        )
        with pytest.raises(asyncpg.CheckViolationError, match="unbalanced"):
            async with conn.transaction():
                entry = await _entry(conn, "raw:assets")
                await conn.execute("INSERT INTO ledger_postings (entry_id, account_id, amount) "
                                   "VALUES ($1, $2, 5), ($1, $3, -5)", entry, trader, btc)


async def test_one_bad_entry_among_many_across_statements_is_found(db: str) -> None:
    """The commit check sees every entry of the transaction, with postings added by several
    statements: a later statement can balance an entry, and one entry left unbalanced in the
    middle of many fails the whole transaction."""
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, other = await _accounts(conn, next_id())
        async with conn.transaction():  # balanced only after the second statement: accepted
            entry = await _entry(conn, "raw:two-statements")
            await conn.execute("INSERT INTO ledger_postings (entry_id, account_id, amount) "
                               "VALUES ($1, $2, 5)", entry, trader)
            await conn.execute("INSERT INTO ledger_postings (entry_id, account_id, amount) "
                               "VALUES ($1, $2, -5)", entry, other)
        with pytest.raises(asyncpg.CheckViolationError, match="unbalanced") as caught:
            async with conn.transaction():
                entries = [await _entry(conn, f"raw:many:{n}") for n in range(20)]
                for n, entry in enumerate(entries):
                    amount = 4 if n == 13 else 5  # entry 13: +5 / -4
                    await conn.execute(
                        "INSERT INTO ledger_postings (entry_id, account_id, amount) "
                        "VALUES ($1, $2, 5), ($1, $3, $4::numeric)",
                        entry, trader, other, -amount,
                    )
        assert f"entry {entries[13]} " in str(caught.value)
        assert await conn.fetchval("SELECT balance FROM ledger_accounts WHERE id = $1",
                                   trader) == 5


async def test_balanced_entry_in_raw_sql_is_accepted_and_moves_balances(db: str) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, other = await _accounts(conn, next_id())
        async with conn.transaction():
            entry = await _entry(conn, "raw:ok")
            await conn.execute(
                "INSERT INTO ledger_postings (entry_id, account_id, amount) "
                "VALUES ($1, $2, 5), ($1, $3, -5)", entry, trader, other,
            )
        assert await conn.fetchval("SELECT balance FROM ledger_accounts WHERE id = $1",
                                   trader) == 5


async def test_postings_cannot_join_an_old_entry(db: str) -> None:
    ledger = Ledger()
    user_id = next_id()
    first = await ledger.post_entry("t:old", "test", [
        Leg(AccountRef.trader_available(user_id), D(5)), Leg(AccountRef.suspense(), D(-5)),
    ])
    account = await _scalar_account(user_id)
    with pytest.raises(asyncpg.RaiseError, match="same transaction"):
        await _raw([("INSERT INTO ledger_postings (entry_id, account_id, amount) "
                     "VALUES ($1, $2, 1)", (first.entry_id, account))])


async def _scalar_account(user_id: int) -> int:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        return await conn.fetchval(
            "SELECT id FROM ledger_accounts WHERE kind = 'trader_available' AND owner = $1",
            str(user_id),
        )


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_postings SET amount = amount * 2",
    "DELETE FROM ledger_postings",
    "UPDATE ledger_entries SET memo = 'edited'",
    "DELETE FROM ledger_entries",
    "DELETE FROM ledger_accounts",
])
async def test_history_is_insert_only(db: str, sql: str) -> None:
    user_id = next_id()
    await Ledger().post_entry("t:immutable", "test", [
        Leg(AccountRef.trader_available(user_id), D(5)), Leg(AccountRef.suspense(), D(-5)),
    ])
    with pytest.raises(asyncpg.RaiseError, match="insert-only"):
        await _raw([(sql, ())])


async def test_cached_balance_changes_only_through_postings(db: str) -> None:
    user_id = next_id()
    await Ledger().post_entry("t:cache", "test", [
        Leg(AccountRef.trader_available(user_id), D(5)), Leg(AccountRef.suspense(), D(-5)),
    ])
    with pytest.raises(asyncpg.RaiseError, match="only through postings"):
        await _raw([("UPDATE ledger_accounts SET balance = 1000 WHERE owner = $1",
                     (str(user_id),))])


async def test_negative_available_balance_is_rejected(db: str) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, other = await _accounts(conn, next_id())
        with pytest.raises(asyncpg.CheckViolationError) as caught:
            async with conn.transaction():
                entry = await _entry(conn, "raw:negative")
                await conn.execute(
                    "INSERT INTO ledger_postings (entry_id, account_id, amount) "
                    "VALUES ($1, $2, -1), ($1, $3, 1)", entry, trader, other,
                )
        assert caught.value.constraint_name == "ledger_accounts_trader_nonnegative"


async def test_posting_to_an_unknown_account_is_rejected(db: str) -> None:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        trader, _ = await _accounts(conn, next_id())
        with pytest.raises(asyncpg.RaiseError, match="does not exist"):
            async with conn.transaction():
                entry = await _entry(conn, "raw:unknown")
                await conn.execute(
                    "INSERT INTO ledger_postings (entry_id, account_id, amount) "
                    "VALUES ($1, $2, 1), ($1, 999999999, -1)", entry, trader,
                )


async def test_entry_cannot_claim_another_transaction(db: str) -> None:
    with pytest.raises(asyncpg.RaiseError, match="inserting transaction"):
        await _raw([("INSERT INTO ledger_entries (idempotency_key, kind, content_hash, tx_id) "
                     "VALUES ('raw:forged', 'test', 'x', 1)", ())])


async def test_hold_resolves_once_in_the_database(db: str) -> None:
    ledger = Ledger()
    user_id = next_id()
    await ledger.post_entry("t:fund", "test", [
        Leg(AccountRef.trader_available(user_id), D(5)), Leg(AccountRef.suspense(), D(-5)),
    ])
    hold = await ledger.hold("raw-hold", user_id, D(2))
    await ledger.void_hold(hold.hold_id)
    with pytest.raises(asyncpg.RaiseError, match="cannot go from voided"):
        await _raw([("UPDATE ledger_holds SET state = 'posted' WHERE id = $1", (hold.hold_id,))])
    with pytest.raises(asyncpg.RaiseError, match="never deleted"):
        await _raw([("DELETE FROM ledger_holds WHERE id = $1", (hold.hold_id,))])
