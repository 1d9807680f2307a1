"""What counts as "a store is unavailable": the errors PostgreSQL and Redis clients raise when
the server is down, restarting or unreachable (as opposed to a bug or a bad query).

Callers use it to answer "temporarily unavailable, try again" instead of failing silently, and
to ask Telegram to deliver an update again instead of consuming it."""

from __future__ import annotations

import asyncpg
from redis import exceptions as redis_errors
from tortoise.exceptions import DBConnectionError

_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    # Redis: refused, reset, timed out, still loading its data after a restart.
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    # PostgreSQL: the connection was lost or could not be made; the server is shutting down,
    # starting up or was told to terminate connections (57P01, 57P03: "operator intervention").
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    DBConnectionError,
    # Below both clients: refused, reset, timed out, or a unix socket that is gone (the
    # builtin ConnectionError and TimeoutError are OSErrors).
    OSError,
)


# Handler data key: the caller of feed_update will have the update delivered again if it fails
# (the webhook route, whose 503 makes Telegram re-send it), so it is not retried in-process.
TELEGRAM_REDELIVERS = "telegram_redelivers"


class StoreUnavailable(Exception):
    """Raised after an outage was reported to the user, so that the caller (the webhook, the
    polling retry) knows the update was not handled."""


def is_store_outage(exc: BaseException) -> bool:
    """True when ``exc`` or anything in its cause chain is a store outage."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (StoreUnavailable, *_OUTAGE_TYPES)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
