"""The worker's supervisor (bot/supervisor.py): a job loop lost with Redis is restarted once
Redis answers; any other end of the loop stops the process (non-zero) instead of leaving it
alive with no loop; a stop is obeyed while it waits for Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from bot import supervisor
from bot.supervisor import WorkerLoopFailed, supervise_worker
from tests.e2e.processes import free_port


class FakeWorker:
    """What the supervisor uses of arq's Worker; its loop ends with ``error`` (or runs on)."""

    def __init__(self, error: BaseException | None):
        self.error = error
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.ctx: dict[str, Any] = {}
        self.on_shutdown = None
        self.closed = False

    async def async_run(self) -> None:
        await asyncio.sleep(0.01)
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()

    async def close(self) -> None:
        self.closed = True

    @property
    def pool(self) -> Any:
        return self

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor, "RESTART_PAUSE_SECONDS", 0.0)


def builder(*errors: BaseException | None) -> tuple[list[FakeWorker], Any]:
    built: list[FakeWorker] = []

    def build() -> FakeWorker:
        built.append(FakeWorker(errors[min(len(built), len(errors) - 1)]))
        return built[-1]

    return built, build


async def test_a_loop_lost_with_redis_is_restarted(redis: Redis) -> None:
    built, build = builder(redis_errors.ConnectionError("Connection reset by peer"), None)
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(supervise_worker(build, redis, stop))  # type: ignore[arg-type]
    for _ in range(500):  # the restart is polled: the supervisor has no event to wait on
        if len(built) >= 2:
            break
        await asyncio.sleep(0.01)
    stop.set_result(None)
    await asyncio.wait_for(task, 5)
    assert built[0].closed and built[1].closed  # the lost one discarded, the live one closed


async def test_a_loop_that_ends_for_another_reason_stops_the_process(redis: Redis) -> None:
    built, build = builder(KeyError("a bug in on_startup"))
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(WorkerLoopFailed, match="KeyError"):
        await asyncio.wait_for(supervise_worker(build, redis, stop), 5)  # type: ignore[arg-type]
    assert len(built) == 1


async def test_a_stop_during_the_wait_for_redis_is_obeyed_at_once() -> None:
    gone = Redis(port=free_port(), socket_connect_timeout=0.2)
    built, build = builder(redis_errors.ConnectionError("Connection refused"))
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(supervise_worker(build, gone, stop))  # type: ignore[arg-type]
    await asyncio.sleep(0.5)  # waiting for a Redis that is not there
    started = time.monotonic()
    stop.set_result(None)
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 1 and len(built) == 1
    await gone.aclose()
