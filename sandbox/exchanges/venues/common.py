"""What every emulated exchange shares: auth check, envelopes, parameter parsing."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import Dataset

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ParamError(Exception):
    """A request parameter the real exchange would reject."""


def now_ms() -> int:
    return int(time.time() * 1000)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def day_ms(day: date) -> int:
    return ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


def ms_to_day(value: int) -> date:
    return datetime.fromtimestamp(value / 1000, tz=UTC).date()


UTC8_MS = 8 * 3_600_000


def utc8_day_ms(day: date) -> int:
    """The day's midnight in UTC+8 (16:00 UTC the day before): how Bitget, MEXC and BloFin
    stamp a day in their documented examples."""
    return day_ms(day) - UTC8_MS


def on_utc_days(stamp: int, start: int | None, end: int | None) -> bool:
    """Whether a day stamp falls in [start, end] read at UTC-day granularity, both ends inclusive.

    For day-stamped endpoints whose docs do not say how startTime/endTime meet the stamp, this is
    the widest reading: a window includes every row stamped on the UTC date of its start through
    the UTC date of its end. Two adjacent windows shifted by -8 h ([00:00 UTC - 8 h of the first
    day, 23:59:59.999 UTC - 8 h of the last]) meet at 16:00 UTC of one UTC date, so both return the
    row stamped there (the next window's first day, as UTC+8 midnight) - the overlap Bitget showed
    live. `None` is unbounded.
    """
    day = ms_to_day(stamp)
    return (start is None or ms_to_day(start) <= day) and (end is None or day <= ms_to_day(end))


def money(value: Decimal) -> str:
    return f"{value:.8f}"


async def json_object(request: web.Request) -> dict[str, Any]:
    """A POST body that must be a JSON object (ParamError "body" otherwise)."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise ParamError("body") from exc
    if not isinstance(body, dict):
        raise ParamError("body")
    return body


def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ParamError(f"{name} must be an integer") from exc


class Venue:
    """One exchange. Subclasses add routes and set the envelope and auth details."""

    id: str = ""
    key_header: str = ""  # header carrying the API key
    sign_header: str | None = None  # header carrying the signature, or ...
    sign_query: str | None = None  # ... the query parameter carrying it

    def __init__(self, dataset: Dataset) -> None:
        self.data = dataset

    def routes(self) -> list[tuple[str, str, Handler]]:
        raise NotImplementedError

    # envelopes
    def json(self, body: Any, status: int = 200) -> web.Response:
        return web.Response(
            text=json.dumps(body), status=status, content_type="application/json"
        )

    def ok(self, data: Any, **extra: Any) -> web.Response:
        raise NotImplementedError

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        raise NotImplementedError

    def auth_error(self) -> web.Response:
        raise NotImplementedError

    def param_error(self, message: str) -> web.Response:
        raise NotImplementedError

    def rate_limited(self, retry_after: float) -> web.Response:
        """HTTP 429 with Retry-After; venues whose real API sends an error body override this."""
        return web.Response(
            status=429, text="Too Many Requests", headers={"Retry-After": f"{retry_after:g}"}
        )

    def malformed_body(self) -> str:
        return '{"code": "0", "data": [{"uid": "12'

    def authenticated(self, request: web.Request) -> bool:
        if request.headers.get(self.key_header) != self.data.api_key:
            return False
        if self.sign_header and not request.headers.get(self.sign_header):
            return False
        return not (self.sign_query and not request.query.get(self.sign_query))
