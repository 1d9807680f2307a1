"""Steps of a person in the Telegram stand-in that several end-to-end tests take."""

from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal

from sandbox.telegram import StubClient


def amount_in(text: str, label: str) -> Decimal:
    """The amount after ``label`` in a rendered screen ("Available: <b>1,212.00 USDT</b>")."""
    found = re.search(re.escape(label) + r"\s*(?:<b>)?([\d,]+(?:\.\d+)?) USDT", text)
    assert found, f"no {label!r} in {text!r}"
    return Decimal(found.group(1).replace(",", ""))


async def sync_now(tg: StubClient, chat_id: int, operator: int, exchange: str = "okx",
                   within: float = 60) -> None:
    """An operator's /sync, sent again while the scheduled sync (the first one runs when the
    worker starts) is still on it; returns once the result is posted."""
    deadline = time.monotonic() + within
    while True:
        await tg.send(chat_id, operator, f"/sync {exchange}")
        said = await tg.wait_for_bot_message(
            chat_id, lambda m: "Sync of" in (m.get("text") or "")
            or "already queued" in (m.get("text") or ""), timeout=15)
        if "already queued" not in said["text"]:
            break
        assert time.monotonic() < deadline, "the scheduled sync never ended"
        await asyncio.sleep(2)
    if "queued" in said["text"]:  # "Sync of OKX queued": the result follows
        said = await tg.wait_for_bot_message(chat_id, "Sync of", timeout=within)
    assert "done" in said["text"], said["text"]
