"""Tracked affiliate links: /r/<code> records the click and redirects to the exchange.

The code is signed (HMAC under SECRET_KEY), so it needs no table and cannot be forged to record
clicks for somebody else: ``<exchange>-<user id, base36>-<signature>``.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from dataclasses import dataclass

from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.models import Platform

_ALPHABET = string.digits + string.ascii_lowercase


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("negative id")
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _ALPHABET[rest] + digits
        if number == 0:
            return digits


@dataclass(frozen=True)
class Redirect:
    url: str
    exchange_id: str
    user_id: int


class ReferralService:
    def __init__(self, secret: bytes, base_url: str, catalog: ExchangeCatalog,
                 events: EventService):
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self._catalog = catalog
        self._events = events

    def _sign(self, exchange_id: str, user_part: str) -> str:
        message = f"{exchange_id}:{user_part}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:12]

    def code(self, exchange_id: str, user_id: int) -> str:
        user_part = _base36(user_id)
        return f"{exchange_id}-{user_part}-{self._sign(exchange_id, user_part)}"

    def tracked_url(self, exchange_id: str, user_id: int) -> str:
        return f"{self._base_url}/r/{self.code(exchange_id, user_id)}"

    async def open(self, code: str, user_agent: str | None = None) -> Redirect | None:
        """Resolve a code, record the click; None for a bad code or a disabled exchange."""
        parts = code.split("-")
        if len(parts) != 3:
            return None
        exchange_id, user_part, signature = parts
        if not hmac.compare_digest(signature, self._sign(exchange_id, user_part)):
            return None
        exchange = await self._catalog.get(exchange_id)
        if exchange is None or not exchange.enabled:
            return None
        user_id = int(user_part, 36)
        await self._events.record(
            "link_opened", user_id, Platform.WEB, exchange=exchange_id,
            agent=(user_agent or "")[:120],
        )
        return Redirect(exchange.link_template.replace("{sub}", user_part), exchange_id, user_id)
