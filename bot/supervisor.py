"""Keeping the worker's job loop alive across store outages.

arq's loop ends with the first Redis error it meets (its poll, its heartbeat); a process that
only waited for a signal then stayed alive with no loop: no jobs, no heartbeat, no error in the
log, and nothing for a supervisor to restart. Here the loop is watched: when it ends, its jobs
are cancelled (each is safe to run again), Redis is waited for, and a new loop starts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from arq.worker import Worker
from redis.asyncio import Redis

from bot.stores import wait_for_redis
from services.outages import is_store_outage

log = logging.getLogger(__name__)

# Redis may be gone for long: the loop waits for it as long as this, then the process exits
# non-zero so that its supervisor (compose's restart policy) takes over.
REDIS_WAIT_SECONDS = 600.0
RESTART_PAUSE_SECONDS = 1.0  # a loop that fails at once is not restarted in a tight loop


class WorkerLoopFailed(Exception):
    """The job loop ended for a reason a restart will not fix: the process exits non-zero."""


async def supervise_worker(
    build: Callable[[], Worker], redis: Redis, stop: asyncio.Future[Any],
) -> None:
    """Run a worker from ``build`` until ``stop`` completes; whenever its loop ends because a
    store went away, wait for ``redis`` and run a new one. Any other end of the loop (a bug in
    start-up, say) raises WorkerLoopFailed: a process alive without a job loop is worse than
    one that exits for its supervisor to restart. ``stop`` is obeyed during every wait."""
    while True:
        worker = build()
        loop_task = asyncio.create_task(worker.async_run())
        await asyncio.wait({loop_task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            await _close(worker, loop_task, graceful=True)
            return
        error = loop_task.exception() if not loop_task.cancelled() else None
        await _close(worker, loop_task, graceful=False)
        if error is None or not is_store_outage(error):
            raise WorkerLoopFailed(f"the worker's job loop ended: {error!r}") from error
        log.error("the worker's job loop stopped (%s: %s); restarting it once Redis answers",
                  type(error).__name__, error)
        waiting = asyncio.create_task(_pause_then_wait(redis))
        await asyncio.wait({waiting, stop}, return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)
            return
        waiting.result()  # StoreUnreachable after REDIS_WAIT_SECONDS: the process exits 3


async def _pause_then_wait(redis: Redis) -> None:
    await asyncio.sleep(RESTART_PAUSE_SECONDS)
    await wait_for_redis(redis, within=REDIS_WAIT_SECONDS)


async def _close(worker: Worker, loop_task: asyncio.Task[None], *, graceful: bool) -> None:
    """Stop a loop and its jobs. A graceful close lets running jobs finish (arq's close); after
    a failure they are cancelled: Redis is gone, so their results and locks are too."""
    if graceful:
        with contextlib.suppress(Exception):
            await worker.close()
    else:
        jobs = list(worker.tasks.values())
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        if worker.on_shutdown is not None and "services" in worker.ctx:
            with contextlib.suppress(Exception):
                await worker.on_shutdown(worker.ctx)
        with contextlib.suppress(Exception):
            await worker.pool.aclose()
    loop_task.cancel()
    await asyncio.gather(loop_task, return_exceptions=True)
