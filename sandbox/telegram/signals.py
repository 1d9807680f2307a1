"""A broadcast "something changed" signal for long-polling waiters (getUpdates, page, tests)."""

from __future__ import annotations

import asyncio


class Signal:
    """Wakes every current waiter on :meth:`fire`; waiters re-check their own condition.

    Futures are created lazily inside the running loop, so a state object can be built
    before any loop exists (e.g. at import time in ``python -m bot demo``).
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def fire(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait(self, within: float) -> bool:
        """Wait up to ``within`` seconds; True if fired."""
        if within <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            done, _ = await asyncio.wait({fut}, timeout=within)
        finally:
            self._waiters.discard(fut)
            if not fut.done():
                fut.cancel()
        return bool(done)
