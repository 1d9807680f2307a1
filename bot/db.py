"""Tortoise ORM configuration and database lifecycle (one place, used by every entry point)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from tortoise import Tortoise

MODELS = ["services.models"]
ANALYTICS_CONNECTION = "analytics"
# The Mini App dashboard's reads (services/dashboard.py): read-only, and not reset on release.
READS_CONNECTION = "reads"
READS_POOL_MAX = 8  # DATABASE_READS_POOL's default (bot/settings.py)


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The reads pool's reset. asyncpg's own resets every released connection with a round
    trip (advisory locks, cursors, listeners, settings: RESET ALL); the statements on this pool
    are plain reads that leave none of those, and its transactions are read-only, so there is
    nothing to reset. (asyncpg still rolls back a transaction left open before calling this.)
    The round trip cost the dashboard a third of its p99 under load (bench/bench_miniapp.py)."""


def parse_database_url(url: str) -> dict[str, Any]:
    """postgres://user:pass@host:port/db?host=/socket/dir → asyncpg credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "asyncpg"):
        raise ValueError("must be a postgres:// URL")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ValueError("names no database")
    return {
        "host": host,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": database,
    }


def tortoise_config(database_url: str, *, pool_max: int = 20,
                    reads_max: int = READS_POOL_MAX) -> dict[str, Any]:
    credentials = parse_database_url(database_url)
    default = {**credentials, "minsize": 1, "maxsize": pool_max}
    # Analytics events are not money: they are written without waiting for the WAL flush
    # (a crash can lose the last fraction of a second of events, never a ledger row).
    analytics = {**credentials, "minsize": 1, "maxsize": 5,
                 "server_settings": {"synchronous_commit": "off"}}
    # Opened on first use (only the web process reads the dashboard): a write on it is refused.
    # Smaller than the default pool: its queries are the heaviest a request makes, and more of
    # them at once than the database has cores only queue inside PostgreSQL (bench_miniapp:
    # 20 at once on a 2-core database cost a tenth of the dashboard's throughput).
    reads = {**credentials, "minsize": 1, "maxsize": reads_max, "reset": _nothing_to_reset,
             "server_settings": {"default_transaction_read_only": "on"}}
    return {
        "connections": {
            "default": {"engine": "tortoise.backends.asyncpg", "credentials": default},
            ANALYTICS_CONNECTION: {"engine": "tortoise.backends.asyncpg",
                                   "credentials": analytics},
            READS_CONNECTION: {"engine": "tortoise.backends.asyncpg", "credentials": reads},
        },
        "apps": {
            "models": {
                "models": MODELS,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def ensure_database(database_url: str) -> None:
    """Create the database named in the URL if it does not exist yet."""
    creds = parse_database_url(database_url)
    admin = await asyncpg.connect(
        host=creds["host"], port=creds["port"], user=creds["user"],
        password=creds["password"] or None, database="postgres",
    )
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1",
                                      creds["database"])
        if not exists:
            await admin.execute(f'CREATE DATABASE "{creds["database"]}"')
    finally:
        await admin.close()


async def open_database(database_url: str, *, pool_max: int = 20,
                        reads_max: int = READS_POOL_MAX) -> None:
    # The global fallback makes the ORM visible from every task of the process (aiohttp and
    # aiogram run handlers in their own tasks, which do not inherit a context set at startup).
    await Tortoise.init(config=tortoise_config(database_url, pool_max=pool_max,
                                               reads_max=reads_max),
                        _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Apply the migrations in migrations/ (Tortoise's built-in migration engine)."""
    from tortoise.migrations.api.migrate import migrate as migrate_api

    await migrate_api(config=tortoise_config(database_url, pool_max=2))
