"""Waiting for PostgreSQL and Redis at start-up: a process started before its stores (compose
starting everything at once, a database restarting) waits with backoff, saying so in its log,
instead of exiting at the first refused connection; past its bound it gives up with one line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from services.outages import is_store_outage

log = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 5.0


class StoreUnreachable(Exception):
    """A store did not answer within the start-up bound."""


async def wait_for_store(
    name: str, probe: Callable[[], Awaitable[object]], *, within: float,
) -> None:
    """Run ``probe`` until it succeeds; retry store outages with backoff for ``within``
    seconds. Any other error (a wrong password, a bad URL) is raised at once: waiting would
    not fix it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    delay = FIRST_DELAY
    attempt = 1
    while True:
        try:
            await probe()
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            left = deadline - loop.time()
            if left <= 0:
                raise StoreUnreachable(
                    f"{name} did not answer within {within:.0f} s "
                    f"({type(exc).__name__}: {exc})") from None
            log.warning("%s is not reachable yet (%s: %s); attempt %d, retrying in %.1f s",
                        name, type(exc).__name__, exc, attempt, min(delay, left))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, MAX_DELAY)
            attempt += 1
            continue
        if attempt > 1:
            log.info("%s answers (after %d attempts)", name, attempt)
        return


async def wait_for_redis(redis: Redis, *, within: float) -> None:
    await wait_for_store("Redis", redis.ping, within=within)
