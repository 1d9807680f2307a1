"""Store outages under the real processes (issue 10): ``python -m bot run`` and ``python -m bot
worker`` on a private PostgreSQL and a private Redis that the test stops and starts again,
traders talking through the Telegram stand-in.

What must hold: both processes stay up and recover by themselves once the store is back; every
trader who wrote during the outage is told, once, that we are temporarily unavailable, and is
answered once the store is back, exactly once (long polling retries in-process; the webhook's
503 makes the stand-in re-deliver, as Telegram does); the worker runs the next job; a worker
started while PostgreSQL is down waits for it and comes up when it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from bot.db import parse_database_url
from sandbox.telegram import StubClient, StubState, run_stub
from services.health import heartbeat_key
from services.jobs import enqueue_sync_now
from tests.e2e.processes import ROOT, free_port, spawn_bot, stop_process, wait_healthy
from tests.support.stores import KillableRedis, StoppablePostgres

pytestmark = pytest.mark.timeout(240)

OPERATOR, ADMIN_CHAT = 8_100_009, -1_008_100
UNAVAILABLE = "temporarily unavailable"
WELCOME = "Welcome"


@dataclass
class Stores:
    postgres: StoppablePostgres
    redis: KillableRedis
    directory: Path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    directory = tmp_path_factory.mktemp("outage-stores")
    postgres = StoppablePostgres(directory)
    redis = KillableRedis(directory / "redis")
    postgres.start()
    redis.start()
    try:
        yield Stores(postgres, redis, directory)
    finally:
        redis.stop()
        postgres.close()


@dataclass
class Product:
    stores: Stores
    telegram: StubClient
    state: StubState
    env: dict[str, str]
    web_url: str
    logs: Path
    web: asyncio.subprocess.Process | None = None
    worker: asyncio.subprocess.Process | None = None

    async def start_web(self) -> None:
        self.web = await spawn_bot(["run"], self.env, self.logs / "web.log")
        try:
            await wait_healthy(f"{self.web_url}/healthz", self.web, 60)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n{self.log('web')}") from exc

    async def start_worker(self) -> None:
        self.worker = await spawn_bot(["worker"], self.env, self.logs / "worker.log")

    def log(self, name: str, tail: int = 6000) -> str:
        return (self.logs / f"{name}.log").read_text()[-tail:]

    def alive(self) -> None:
        for name, process in (("web", self.web), ("worker", self.worker)):
            if process is not None:
                assert process.returncode is None, f"the {name} exited:\n{self.log(name)}"

    async def stop(self) -> None:
        for process in (self.web, self.worker):
            if process is not None:
                await stop_process(process)


@contextlib.asynccontextmanager
async def product(stores: Stores, tmp_path: Path, prefix: str, users: list[int],
                  webhook: bool = False) -> AsyncIterator[Product]:
    state = StubState()
    state.webhook_retry_delay = 1.0
    for user_id in users:
        state.add_user(user_id, f"Trader{user_id % 1000}", f"t{user_id}", "en")
    state.add_user(OPERATOR, "Olga", "olga", "en")
    state.add_group(ADMIN_CHAT, "Admins", members=[OPERATOR], admins=[OPERATOR])
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    async with run_stub(state, "127.0.0.1", 0) as telegram_url:
        env = {
            "BOT_TOKEN": state.token, "TELEGRAM_API_URL": telegram_url,
            "DATABASE_URL": stores.postgres.url, "REDIS_URL": stores.redis.url,
            "REDIS_PREFIX": prefix, "WEB_PORT": str(port),
            "SECRET_KEY": "outage-secret-of-at-least-32-characters",
            "FLOOD_LIMIT": "1000", "ADMIN_CHAT_ID": str(ADMIN_CHAT),
            "ADMIN_IDS": str(OPERATOR), "DATA_DIR": str(tmp_path),
        }
        if webhook:
            env |= {"PUBLIC_URL": web_url, "WEBHOOK_SECRET": "outage-webhook-secret"}
        migrate = await asyncio.create_subprocess_exec(
            *_python(), "-m", "bot", "migrate", cwd=ROOT, env=_full(env),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await migrate.communicate()
        assert migrate.returncode == 0, output.decode()
        async with StubClient(telegram_url) as telegram:
            running = Product(stores, telegram, state, env, web_url, tmp_path)
            try:
                yield running
            finally:
                await running.stop()


def _python() -> list[str]:
    return [sys.executable]


def _full(env: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), **env}


async def bot_texts(telegram: StubClient, chat_id: int) -> list[str]:
    return [m.get("text") or "" for m in await telegram.bot_messages(chat_id)]


async def wait_until(check: Any, within: float, what: str, step: float = 0.25) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(Exception):
            if await check():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(step)


async def count_of(telegram: StubClient, chat_id: int, needle: str) -> int:
    return sum(needle in text for text in await bot_texts(telegram, chat_id))


async def health(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as response:
        return response.status


async def heartbeat(stores: Stores, prefix: str) -> bool:
    client = Redis.from_url(stores.redis.url, socket_connect_timeout=1)
    try:
        return await client.get(heartbeat_key(prefix)) is not None
    finally:
        await client.aclose()


async def manual_runs(stores: Stores) -> int:
    credentials = parse_database_url(stores.postgres.url)
    connection = await asyncpg.connect(**{**credentials, "password": None})
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM sync_runs WHERE trigger = 'manual'"))
    finally:
        await connection.close()


async def the_worker_runs_a_job(stores: Stores, prefix: str) -> None:
    """A manual sync queued now is run (its run row appears: okx has no API key here, so the
    run records that and ends)."""
    before = await manual_runs(stores)
    pool = await create_pool(RedisSettings.from_dsn(stores.redis.url))
    try:
        assert await enqueue_sync_now(pool, prefix, "okx")
    finally:
        await pool.aclose()

    async def ran() -> bool:
        return await manual_runs(stores) > before

    await wait_until(ran, 30, "the worker ran the queued sync")


async def told_then_answered(telegram: StubClient, traders: list[int], within: float) -> None:
    """Each trader was told once that we are unavailable, and welcomed once."""
    async def all_welcomed() -> bool:
        counts = [await count_of(telegram, user_id, WELCOME) for user_id in traders]
        return all(count >= 1 for count in counts)

    await wait_until(all_welcomed, within, "every trader of the outage answered")
    await asyncio.sleep(2)  # anything answered twice would show by now
    for user_id in traders:
        texts = await bot_texts(telegram, user_id)
        assert sum(UNAVAILABLE in text for text in texts) == 1, texts
        assert sum(WELCOME in text for text in texts) == 1, texts


async def test_redis_killed_and_restarted_empty(stores: Stores, tmp_path: Path) -> None:
    first, *during = [8_100_001 + index for index in range(6)]
    async with product(stores, tmp_path, "outage-redis", [first, *during]) as running:
        await running.start_web()
        await running.start_worker()
        telegram = running.telegram
        await telegram.send(first, first, "/start")
        await telegram.wait_for_bot_message(first, WELCOME, timeout=20)
        await wait_until(lambda: heartbeat(stores, "outage-redis"), 30, "first heartbeat")

        stores.redis.kill()
        outage_started = time.monotonic()
        for user_id in during:
            await telegram.send(user_id, user_id, "/start")

        async def all_told() -> bool:
            return all([await count_of(telegram, user_id, UNAVAILABLE) == 1
                        for user_id in during])

        await wait_until(all_told, 15, "every trader of the outage told to retry")
        assert await health(running.web_url) == 503
        await asyncio.sleep(max(0.0, 10 - (time.monotonic() - outage_started)))
        stores.redis.start()  # empty: --save "" and a SIGKILL

        await told_then_answered(telegram, during, within=40)
        await telegram.send(first, first, "/menu")
        await telegram.wait_for_bot_message(first, timeout=15)
        await wait_until(lambda: _is(health(running.web_url), 200), 15, "/healthz back to 200")
        await wait_until(lambda: heartbeat(stores, "outage-redis"), 40, "heartbeat back")
        await the_worker_runs_a_job(stores, "outage-redis")
        running.alive()
        assert "restarting it once Redis answers" in running.log("worker", tail=10**7)


async def _is(value: Any, expected: Any) -> bool:
    return await value == expected


async def test_postgres_stopped_in_polling_and_a_worker_started_meanwhile(
    stores: Stores, tmp_path: Path,
) -> None:
    first, *during = [8_100_101 + index for index in range(4)]
    async with product(stores, tmp_path, "outage-pg-polling", [first, *during]) as running:
        await running.start_web()
        telegram = running.telegram
        await telegram.send(first, first, "/start")
        await telegram.wait_for_bot_message(first, WELCOME, timeout=20)

        stores.postgres.stop()
        try:
            await running.start_worker()  # started while PostgreSQL is down: it must wait
            for user_id in during:
                await telegram.send(user_id, user_id, "/start")

            async def all_told() -> bool:
                return all([await count_of(telegram, user_id, UNAVAILABLE) == 1
                            for user_id in during])

            await wait_until(all_told, 15, "every trader of the outage told to retry")
            assert await health(running.web_url) == 503
            async def worker_waits() -> bool:
                return "PostgreSQL is not reachable yet" in running.log("worker", tail=10**7)

            await wait_until(worker_waits, 30, "the worker waiting for PostgreSQL")
            await asyncio.sleep(3)
            running.alive()  # the worker waits instead of exiting
        finally:
            stores.postgres.restart()

        await told_then_answered(telegram, during, within=45)
        await wait_until(lambda: heartbeat(stores, "outage-pg-polling"), 40,
                         "the worker came up")
        await the_worker_runs_a_job(stores, "outage-pg-polling")
        running.alive()


async def test_postgres_stopped_in_webhook_mode(stores: Stores, tmp_path: Path) -> None:
    first, *during = [8_100_201 + index for index in range(3)]
    async with product(stores, tmp_path, "outage-pg-webhook", [first, *during],
                       webhook=True) as running:
        await running.start_web()
        await running.start_worker()  # runs through the outage: its jobs fail, it stays up
        telegram = running.telegram
        await telegram.send(first, first, "/start")
        await telegram.wait_for_bot_message(first, WELCOME, timeout=20)

        stores.postgres.stop()
        try:
            for user_id in during:
                await telegram.send(user_id, user_id, "/start")
            # The stand-in delivers one update at a time and re-delivers a failed one, as
            # Telegram does: the first sender is told, the others wait in the queue.
            await wait_until(lambda: _told(telegram, during[0]), 15, "the first sender told")
            await asyncio.sleep(4)  # several re-deliveries during the outage: told only once
            webhook = (await telegram.state())["webhook"]
            assert "503" in (webhook.get("last_error_message") or ""), webhook
        finally:
            stores.postgres.restart()

        async def all_welcomed() -> bool:
            return all([await count_of(telegram, user_id, WELCOME) == 1 for user_id in during])

        await wait_until(all_welcomed, 40, "every trader of the outage answered")
        await asyncio.sleep(2)
        assert await count_of(telegram, during[0], UNAVAILABLE) == 1
        for user_id in during:
            assert await count_of(telegram, user_id, WELCOME) == 1
        await the_worker_runs_a_job(stores, "outage-pg-webhook")
        running.alive()


async def _told(telegram: StubClient, user_id: int) -> bool:
    return await count_of(telegram, user_id, UNAVAILABLE) == 1
