"""The dashboard's pool (bot.db.READS_CONNECTION): read-only, and released without asyncpg's
reset round trip, which it does not need; the default pool still resets (a session's advisory
lock does not outlive its use)."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise import Tortoise

from bot.db import READS_CONNECTION


async def test_the_reads_pool_refuses_a_write(db: str) -> None:
    client = Tortoise.get_connection(READS_CONNECTION)
    async with client.acquire_connection() as conn:
        assert await conn.fetchval("SELECT current_setting('transaction_read_only')") == "on"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("UPDATE users SET first_name = 'x'")


async def test_a_transaction_left_open_is_rolled_back_on_release(db: str) -> None:
    client = Tortoise.get_connection(READS_CONNECTION)
    async with client.acquire_connection() as conn:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("BEGIN")  # not asyncpg's managed transaction: left open
    async with client.acquire_connection() as conn:
        assert await conn.fetchval("SELECT pg_backend_pid()") == backend  # the same session
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 "
                                   "AND state = 'idle in transaction'", backend) == 0


async def test_the_default_pool_still_resets_a_released_session(db: str) -> None:
    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as conn:
        assert await conn.fetchval("SELECT pg_try_advisory_lock(4242)")  # never unlocked
    other = await asyncpg.connect(db)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock(4242)")  # reset freed it
        await other.execute("SELECT pg_advisory_unlock(4242)")
    finally:
        await other.close()
