"""One run per exchange at a time (a PostgreSQL advisory lock), and the runs of dead workers.

A live run holds its exchange's advisory lock on its own connection for its whole length; the
database drops it together with a dead worker's connection. So a run still "running" whose lock
is free belongs to a worker that died (SIGKILL, OOM, a lost host): it is closed as interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from tortoise import Tortoise
from tortoise.expressions import Q

from services.models import SyncRun, SyncRunStatus

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"  # error_class of a run whose worker died


# A CSV import takes no lock (it is no exchange run); its "running" row is closed only when
# it is older than any import could take.
CSV_IMPORT_LONGEST = timedelta(hours=1)


def sync_lock_key(exchange_id: str) -> str:
    """Held for one run of the exchange's sync (SyncService.run)."""
    return f"sync:{exchange_id}"


def job_lock_key(exchange_id: str) -> str:
    """Held for a whole worker job of the exchange: its sync and the booking after it."""
    return f"sync-job:{exchange_id}"


class RunLocks:
    def __init__(self, clock: Callable[[], datetime]):
        self._now = clock

    async def close_interrupted_runs(self, exchange_id: str | None = None) -> int:
        """Close the runs left "running" by a worker that died. The exchange's advisory lock
        tells: a live run holds it for its whole length, and the database drops it with the
        dead worker's connection."""
        query = SyncRun.filter(status=SyncRunStatus.RUNNING)
        if exchange_id is not None:
            query = query.filter(exchange_id=exchange_id)
        exchange_ids = {row["exchange_id"] for row in await query.values("exchange_id")}
        closed = 0
        client = Tortoise.get_connection("default")
        for exchange in sorted(exchange_ids):
            async with client.acquire_connection() as connection:
                key = sync_lock_key(exchange)
                if not await connection.fetchval("SELECT pg_try_advisory_lock(hashtext($1))",
                                                 key):
                    continue  # a live run holds it
                try:
                    closed += await self.close_interrupted(exchange)
                finally:
                    await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
        return closed

    @asynccontextmanager
    async def holding(self, key: str) -> AsyncIterator[bool]:
        """Try to take advisory lock ``key`` for the block, on a connection of its own; yields
        whether it was taken (False: someone else holds it)."""
        client = Tortoise.get_connection("default")
        async with client.acquire_connection() as connection:
            held = bool(await connection.fetchval("SELECT pg_try_advisory_lock(hashtext($1))",
                                                  key))
            try:
                yield held
            finally:
                if held:
                    await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", key)

    async def is_idle(self, exchange_id: str) -> bool:
        """No job and no run of this exchange is going on anywhere (nobody holds either)."""
        for key in (job_lock_key(exchange_id), sync_lock_key(exchange_id)):
            async with self.holding(key) as free:
                if not free:
                    return False
        return True

    async def close_interrupted(self, exchange_id: str) -> int:
        """Under the exchange's lock: every run still "running" belongs to a dead worker."""
        now = self._now()
        closed = await SyncRun.filter(
            Q(trigger__not="csv") | Q(started_at__lt=now - CSV_IMPORT_LONGEST),
            exchange_id=exchange_id, status=SyncRunStatus.RUNNING,
        ).update(
            status=SyncRunStatus.FAILED, error_class=INTERRUPTED, finished_at=now,
            error="the worker stopped during this run (killed, restarted or timed out); "
                  "nothing of it was stored, the next run reads its window again",
        )
        if closed:
            log.warning("sync %s: closed %d run(s) left running by a dead worker",
                        exchange_id, closed)
        return closed
