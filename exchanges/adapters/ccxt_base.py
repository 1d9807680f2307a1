"""Shared ccxt plumbing: construction, base-URL override, error mapping, retries, close.

Adapters call the exchange through ccxt's *implicit* API (one method per endpoint, raw JSON
back), so no markets are loaded and nothing but the affiliate endpoints is ever requested.
ccxt is untyped: `Any` stays inside this module and the adapters' parsing helpers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import ccxt.async_support as ccxt

from exchanges.base import AffiliateSource, Invitee
from exchanges.errors import PermanentError, map_ccxt_error, parse_retry_after, with_retries

log = logging.getLogger(__name__)

# ccxt logs every request's headers (API key, signature) at DEBUG on its own logger. Give each
# client a logger of ours that never passes DEBUG, so turning on debug logging leaks nothing.
_WIRE_LOG = logging.getLogger("exchanges.ccxt_wire")
_WIRE_LOG.setLevel(logging.INFO)

Sleep = Callable[[float], Awaitable[Any]]


def point_to(exchange: Any, base_url: str) -> None:
    """Replace scheme+host of every `urls['api']` entry, keeping each URL's path suffix."""
    base = base_url.rstrip("/")

    def rewrite(url: Any) -> Any:
        return re.sub(r"^https?://[^/]+", base, url) if isinstance(url, str) else url

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        return rewrite(node)

    exchange.urls["api"] = walk(exchange.urls["api"])


class CcxtSource(AffiliateSource):
    """Base of all ccxt-backed adapters. Subclasses set the class attributes and parse."""

    ccxt_id: ClassVar[str]

    def __init__(
        self,
        *,
        api_url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_password: str | None = None,
        timeout: float = 30.0,
        rate_limit: bool = True,
        retry_attempts: int = 5,
        retry_base_delay: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        config: dict[str, Any] = {
            "apiKey": api_key or "",
            "secret": api_secret or "",
            "password": api_password or "",
            "timeout": int(timeout * 1000),
            "enableRateLimit": rate_limit,
            # Keep time local: a clock sync would add a public request before each session.
            "options": {"adjustForTimeDifference": False},
        }
        self._ex: Any = getattr(ccxt, self.ccxt_id)(config)
        self._ex.logger = _WIRE_LOG
        # Implicit calls need no markets; make sure nothing fans out to currency endpoints.
        self._ex.has["fetchCurrencies"] = False
        self._prepare(self._ex)
        if api_url:
            point_to(self._ex, api_url)
            if api_url.startswith("http://"):
                # ccxt waits 250 ms on close so TLS connections can shut down; plain HTTP
                # (the simulator) has nothing to wait for.
                self._ex.timeout_on_exit = 0
        self._attempts = retry_attempts
        self._base_delay = retry_base_delay
        self._sleep = sleep

    def _prepare(self, exchange: Any) -> None:
        """Hook for per-exchange fixes to the ccxt client (runs before the URL override)."""

    async def close(self) -> None:
        await self._ex.close()

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call an implicit endpoint method by name; retries and maps errors."""
        return await self._guarded(method, lambda: getattr(self._ex, method)(params))

    async def _request(
        self, path: str, api: list[str], http_method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Call an endpoint ccxt has no implicit method for."""
        return await self._guarded(
            path, lambda: self._ex.request(path, api, http_method, params)
        )

    async def _guarded(self, what: str, make: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        async def once() -> dict[str, Any]:
            try:
                response = await make()
            except ccxt.BaseError as exc:
                retry_after = parse_retry_after(getattr(self._ex, "last_response_headers", None))
                raise map_ccxt_error(exc, retry_after) from exc
            if not isinstance(response, dict):
                # ccxt hands back the raw text when the body is not JSON.
                raise PermanentError(f"{self.exchange_id} {what}: response is not a JSON object")
            return response

        return await with_retries(
            once, attempts=self._attempts, base_delay=self._base_delay, sleep=self._sleep
        )

    async def check_uid(self, uid: str) -> Invitee | None:
        """Default: look the UID up in the full invitee list."""
        for invitee in await self.list_invitees(None):
            if invitee.uid == uid:
                return invitee
        return None

    # --- parsing helpers -------------------------------------------------------------------

    def _expect_code(self, response: dict[str, Any], *ok: str) -> None:
        """For exchanges whose ccxt error handler lets unknown error codes through."""
        code = str(response.get("code"))
        if code not in ok:
            raise PermanentError(
                f"{self.exchange_id}: error code {code}: {str(response.get('msg'))[:200]}"
            )

    def _malformed(self, what: str) -> PermanentError:
        return PermanentError(f"{self.exchange_id}: unexpected response shape ({what})")

    def _dict(self, node: Any, key: str) -> dict[str, Any]:
        value = node.get(key) if isinstance(node, dict) else None
        if not isinstance(value, dict):
            raise self._malformed(key)
        return value

    def _list(self, node: Any, key: str) -> list[dict[str, Any]]:
        # A missing key is a broken response (silently reading it as "no rows" would lose
        # money); an explicit null is how some exchanges say "empty".
        if not isinstance(node, dict) or key not in node:
            raise self._malformed(f"missing {key}")
        value = node[key]
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._malformed(key)
        return value

    def _decimal(self, value: Any) -> Decimal | None:
        """Exchanges send numbers as strings; '' and null mean "not reported"."""
        if value is None or value == "":
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise self._malformed(f"number {value!r}") from exc


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_start_ms(day: date) -> int:
    return to_ms(day_start(day))


def day_end_ms(day: date) -> int:
    """Last millisecond of a UTC day (windows are inclusive on both ends)."""
    return day_start_ms(day + timedelta(days=1)) - 1


def from_ms(value: Any) -> datetime | None:
    if value in (None, "", "0", 0):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


UTC8 = timedelta(hours=8)


def settlement_day(stamp: datetime) -> date:
    """UTC day of a day stamp from an exchange that settles on UTC+8 (Bitget, MEXC, BloFin, BingX).

    Such a stamp is the day's midnight in UTC+8 (16:00 UTC the day before); shifting by 8 h
    lands on the right date whether the exchange stamps UTC+8 or UTC midnight.
    """
    return (stamp + UTC8).date()


def settlement_window_ms(first: date, last: date) -> tuple[int, int]:
    """[start, end] in ms covering days first..last under either stamping (see above).

    An exchange that reads these bounds as whole UTC days returns one day more (last + 1 with
    UTC+8 stamps, first - 1 with UTC-midnight ones; issue 9): keep only first..last of each
    window's answer.
    """
    shift = int(UTC8.total_seconds() * 1000)
    return day_start_ms(first) - shift, day_end_ms(last) - shift


def utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass timezone-aware UTC times")
    return moment.astimezone(UTC).date()


def days(start: datetime, end: datetime) -> Iterator[date]:
    """Every UTC day from start's day to end's day, inclusive."""
    day, last = utc_day(start), utc_day(end)
    while day <= last:
        yield day
        day += timedelta(days=1)


def windows(start: datetime, end: datetime, max_days: int) -> Iterator[tuple[date, date]]:
    """Split [start's day, end's day] into inclusive windows of at most max_days days."""
    first, last = utc_day(start), utc_day(end)
    while first <= last:
        upto = min(last, first + timedelta(days=max_days - 1))
        yield first, upto
        first = upto + timedelta(days=1)
