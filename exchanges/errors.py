"""The small error hierarchy adapters raise, the ccxt mapping, and a retry helper.

Callers only ever see these classes: ccxt's own exceptions stop at the adapter boundary.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class ExchangeError(Exception):
    """Base of everything an adapter raises."""


class TemporaryError(ExchangeError):
    """Network trouble, timeouts, 5xx, maintenance: retrying later may succeed."""


class RateLimited(TemporaryError):
    """The exchange asked us to slow down; `retry_after` seconds when it said so."""

    def __init__(self, message: str = "rate limited", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ExchangeError):
    """Bad, expired or under-privileged API key: a human must fix the credentials."""


class PermanentError(ExchangeError):
    """The request or the response is wrong; retrying the same thing will not help."""


# ccxt puts the request URL into its messages; some exchanges sign in the query string.
_SECRET_QUERY = re.compile(
    r"((?:signature|Signature|AccessKeyId|apiKey|api_key|passphrase)=)[^&\s\"']+"
)


def redact(text: str) -> str:
    """Mask signatures and keys that ccxt error messages may carry in URLs."""
    return _SECRET_QUERY.sub(r"\1***", text)


def map_ccxt_error(exc: Exception, retry_after: float | None = None) -> ExchangeError:
    """Translate a ccxt exception. Order matters: RateLimitExceeded and DDoSProtection are
    NetworkErrors, PermissionDenied is an AuthenticationError, which is an ExchangeError."""
    # Imported here, not at module level: importing ccxt imports every exchange class (about
    # 0.6 s), and the services import this module at every process start.
    import ccxt.async_support as ccxt

    message = redact(f"{type(exc).__name__}: {exc}")[:1000]
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimited(message, retry_after)
    if isinstance(exc, ccxt.NetworkError) and " 429 " in str(exc):
        # okx and blofin map a bare HTTP 429 to ExchangeNotAvailable (ccxt issue 9612).
        return RateLimited(message, retry_after)
    if isinstance(exc, ccxt.NetworkError):  # RequestTimeout, ExchangeNotAvailable, ...
        return TemporaryError(message)
    if isinstance(exc, ccxt.AuthenticationError):  # PermissionDenied, AccountSuspended
        return AuthError(message)
    if isinstance(exc, ccxt.BaseError):  # BadResponse, ExchangeError, BadRequest, ...
        return PermanentError(message)
    return PermanentError(message)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (the delta form; the HTTP-date form is ignored)."""
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None
    return None


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run `call`, retrying TemporaryError (incl. RateLimited) with exponential backoff.

    Full jitter keeps many workers from retrying in step; a server's Retry-After is a floor.
    After `attempts` tries the last error is raised. Auth and permanent errors are not retried.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except TemporaryError as exc:
            if attempt == attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * rand()
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, max_delay))
            log.info("retrying after %s (attempt %d/%d, %.2fs)", type(exc).__name__,
                     attempt, attempts, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # the loop either returns or raises
