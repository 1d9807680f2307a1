"""Shared fixtures: a real PostgreSQL database per test run (migrated with our migrations), a
Redis key prefix per run, the production Dispatcher with a mocked bot session.

URLs come from the environment with the machine's defaults: TEST_DATABASE_URL (an existing
database to connect to for CREATE/DROP DATABASE) and TEST_REDIS_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis
from tortoise import Tortoise

from bot import db as bot_db
from bot.app import Services, build_services, create_dispatcher
from bot.settings import Settings, load_settings
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Catalog
from services.seed import seed_reference_data
from tests.support.mocked_bot import MockedBot

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:8]


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    name = f"cr_test_{os.getpid()}_{RUN_ID}"
    url = _with_database(ADMIN_DATABASE_URL, name)
    await bot_db.ensure_database(url)
    await bot_db.migrate(url)
    await Tortoise.close_connections()
    yield url
    await Tortoise.close_connections()
    creds = bot_db.parse_database_url(ADMIN_DATABASE_URL)
    admin = await asyncpg.connect(host=creds["host"], port=creds["port"], user=creds["user"],
                                  password=creds["password"] or None,
                                  database=creds["database"])
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def orm(database_url: str) -> AsyncIterator[str]:
    await bot_db.open_database(database_url)
    yield database_url
    await bot_db.close_database()


async def truncate_all() -> None:
    connection = Tortoise.get_connection("default")
    rows = await connection.execute_query_dict(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'tortoise_migrations'"
    )
    tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
    await connection.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture
async def db(orm: str, services: Services) -> str:
    """A clean database with the reference data (the eleven exchanges) seeded, and the shared
    services' in-process caches emptied with it."""
    await truncate_all()
    await seed_reference_data(ExchangeCatalog())
    services.users.forget_cache()
    services.exchanges.forget_cache()
    services.credentials.forget()
    return orm


@pytest.fixture(scope="session")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    async for key in client.scan_iter(match=f"test-{RUN_ID}*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix of this test alone, so tests share one Redis without seeing each other."""
    return f"test-{RUN_ID}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("data")
    return load_settings({
        "BOT_TOKEN": "42:TEST",
        "SECRET_KEY": "test-secret",
        "DATA_DIR": str(data_dir),
        "ADMIN_IDS": "900",
        "ADMIN_CHAT_ID": "-100500",
        "FINANCE_CHAT_ID": "-100600",
        "REDIS_PREFIX": f"test-{RUN_ID}",
        "FLOOD_LIMIT": "1000",
    })


@pytest.fixture(scope="session")
def i18n() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="session")
def services(settings: Settings) -> Services:
    return build_services(settings, b"test-secret")


@pytest.fixture(scope="session")
def dispatcher(redis: Redis, settings: Settings, services: Services, i18n: Catalog):  # type: ignore[no-untyped-def]
    # Routers are module-level (aiogram's canonical style) and can join only one Dispatcher, so
    # the test session shares one; each test isolates itself through its own user ids and the
    # per-test database reset.
    return create_dispatcher(redis=redis, settings=settings, services=services, i18n=i18n)


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()
