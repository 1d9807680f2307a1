"""Tracked affiliate links: /r/<code> records the click and redirects to the exchange.

The code is signed (HMAC under SECRET_KEY), so it needs no table and cannot be forged to record
clicks for somebody else: ``<exchange>-<user id, base36>-<signature>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import string
from dataclasses import dataclass

from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.models import Platform

_ALPHABET = string.digits + string.ascii_lowercase
_SIGNATURE_LENGTH = 12  # hex digits of the HMAC kept in a code
_EXCHANGE_ID_MAX = 16  # Exchange.id is a CharField(max_length=16)
_USER_PART_MAX = 13  # len(_base36(2**63 - 1)): user ids are PostgreSQL bigints
# The longest code ``code()`` can produce; anything longer is rejected before it is parsed.
MAX_CODE_LENGTH = _EXCHANGE_ID_MAX + 1 + _USER_PART_MAX + 1 + _SIGNATURE_LENGTH
# Exactly what ``code()`` produces: exchange ids are lowercase ASCII, the user part canonical
# base36 (no leading zeros, so one id has one code), the signature lowercase hex.
_CODE = re.compile(
    rf"([a-z0-9_]{{1,{_EXCHANGE_ID_MAX}}})"
    rf"-(0|[1-9a-z][0-9a-z]{{0,{_USER_PART_MAX - 1}}})"
    rf"-([0-9a-f]{{{_SIGNATURE_LENGTH}}})",
    re.ASCII,
)


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
    def __init__(self, secret: bytes, link_base_url: str, catalog: ExchangeCatalog,
                 events: EventService):
        """``link_base_url``: the public base of the tracked links traders are given
        (LINK_BASE_URL, else PUBLIC_URL), not necessarily where this process listens."""
        self._secret = secret
        self._base_url = link_base_url.rstrip("/")
        self._catalog = catalog
        self._events = events

    def _sign(self, exchange_id: str, user_part: str) -> str:
        message = f"{exchange_id}:{user_part}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:_SIGNATURE_LENGTH]

    def code(self, exchange_id: str, user_id: int) -> str:
        user_part = _base36(user_id)
        return f"{exchange_id}-{user_part}-{self._sign(exchange_id, user_part)}"

    def tracked_url(self, exchange_id: str, user_id: int) -> str:
        return f"{self._base_url}/r/{self.code(exchange_id, user_id)}"

    async def open(self, code: str, user_agent: str | None = None) -> Redirect | None:
        """Resolve a code, record the click; None for a bad code or a disabled exchange.

        Whatever arrives in the URL is untrusted: a malformed code (non-ASCII, over-long, empty
        or extra parts, a user part that is not canonical base36) is None like a forged one,
        never an exception (which would be a 500)."""
        if len(code) > MAX_CODE_LENGTH:
            return None
        match = _CODE.fullmatch(code)
        if match is None:
            return None
        exchange_id, user_part, signature = match.groups()
        expected = self._sign(exchange_id, user_part)
        if not hmac.compare_digest(signature.encode("ascii"), expected.encode("ascii")):
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
