"""What the benchmarks share: a throw-away database on the machine's PostgreSQL, Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from tortoise import Tortoise

from bot import db as bot_db

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def bench_database(label: str) -> AsyncIterator[str]:
    """A freshly migrated database, opened in Tortoise, dropped afterwards."""
    name = f"cr_bench_{label}_{uuid.uuid4().hex[:6]}"
    head = ADMIN_DATABASE_URL.partition("?")[0].rsplit("/", 1)[0]
    url = f"{head}/{name}"
    await bot_db.ensure_database(url)
    await bot_db.migrate(url)
    await Tortoise.close_connections()
    await bot_db.open_database(url)
    try:
        yield url
    finally:
        await bot_db.close_database()
        creds = bot_db.parse_database_url(ADMIN_DATABASE_URL)
        admin = await asyncpg.connect(host=creds["host"], port=creds["port"],
                                      user=creds["user"], database=creds["database"])
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
