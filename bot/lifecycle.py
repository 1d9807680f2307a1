"""How a process waits for its end: SIGINT or SIGTERM, then an orderly shutdown."""

from __future__ import annotations

import asyncio
import signal


async def wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
