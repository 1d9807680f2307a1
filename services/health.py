"""The worker's heartbeat: the worker writes the time every few seconds; the web process reads
its age for /healthz, the ``worker_heartbeat_age_seconds`` metric and the admin chat's alert.

A heartbeat proves more than a living process: it is written by a cron job of the arq loop, so
it stops when the loop stops (the failure that once left a worker alive and idle)."""

from __future__ import annotations

import time

from prometheus_client import Gauge
from redis.asyncio import Redis

HEARTBEAT_EVERY_SECONDS = 10
# Three missed beats: stale. Long enough for a busy event loop, short enough to act on.
STALE_AFTER_SECONDS = 45
# The key outlives many beats so that a stale worker is reported with its age, not as missing.
_KEY_TTL_SECONDS = 24 * 3600

WORKER_HEARTBEAT_AGE = Gauge(
    "worker_heartbeat_age_seconds",
    "Seconds since the worker's last heartbeat (-1: none recorded, e.g. Redis lost its data)",
)


def heartbeat_key(prefix: str) -> str:
    return f"{prefix}:worker:heartbeat"


async def write_heartbeat(redis: Redis, prefix: str) -> None:
    await redis.set(heartbeat_key(prefix), f"{time.time():.3f}", ex=_KEY_TTL_SECONDS)


async def heartbeat_age(redis: Redis, prefix: str) -> float | None:
    """Seconds since the last heartbeat, or None if none is recorded; also sets the gauge."""
    raw = await redis.get(heartbeat_key(prefix))
    age = None if raw is None else max(0.0, time.time() - float(raw))
    WORKER_HEARTBEAT_AGE.set(-1 if age is None else age)
    return age


def is_stale(age: float | None) -> bool:
    return age is None or age > STALE_AFTER_SECONDS
