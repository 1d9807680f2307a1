"""Analytics events: one append-only row per meaningful action (PRODUCT.md, "Analytics").

Events are buffered in the process and written in batches (one multi-row INSERT every
FLUSH_SECONDS, or sooner when the buffer fills) on a connection with asynchronous commit. They
are not money: a crash can lose the last fraction of a second of events, and never delays a
button press by a database round trip. Money never goes through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime

from tortoise import Tortoise

from services.models import Event, Platform

log = logging.getLogger(__name__)

# A connection with asynchronous commit (see bot/db.py).
ANALYTICS_CONNECTION = "analytics"
_COLUMNS = ("name", "user_id", "platform", "properties", "created_at")


class EventService:
    FLUSH_SECONDS = 0.5
    BATCH_SIZE = 500
    MAX_BUFFER = 50_000  # while the database is unreachable; beyond this, the oldest are dropped

    def __init__(self) -> None:
        # (name, user_id, platform, properties as JSON text, created_at), in COPY order.
        self._buffer: list[tuple[str, int | None, str, str, datetime]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    async def record(
        self, name: str, user_id: int | None, platform: Platform, **properties: object
    ) -> None:
        self._buffer.append((name, user_id, platform.value, json.dumps(properties, default=str),
                             datetime.now(UTC)))
        if len(self._buffer) > self.MAX_BUFFER:
            del self._buffer[: len(self._buffer) - self.MAX_BUFFER]
        if len(self._buffer) >= self.BATCH_SIZE:
            await self.flush()

    async def flush(self) -> int:
        async with self._flush_lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                client = Tortoise.get_connection(ANALYTICS_CONNECTION)
                async with client.acquire_connection() as connection:
                    await connection.copy_records_to_table("events", records=batch,
                                                           columns=_COLUMNS)
            except Exception:
                # Keep them for the next try; the database may be back by then.
                log.exception("could not write %d analytics events; will retry", len(batch))
                self._buffer[:0] = batch
                return 0
            return len(batch)

    async def start(self) -> None:
        """Start the periodic flush (the process keeps the task and stops it in close())."""
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically())

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.FLUSH_SECONDS)
            await self.flush()

    async def count(self, name: str, user_id: int | None = None) -> int:
        await self.flush()
        query = Event.filter(name=name)
        if user_id is not None:
            query = query.filter(user_id=user_id)
        return await query.count()
