"""What counts as "a store is unavailable": the errors PostgreSQL and Redis clients raise when
the server is down, restarting or unreachable, as opposed to a bug, a bad query, a wrong
password, or a failure of Telegram or an exchange.

Callers use it to answer "temporarily unavailable, try again" instead of failing silently, and
to ask Telegram to deliver an update again instead of consuming it. Too broad a reading would
re-run a buggy handler for minutes, so each kind is taken narrowly:
- typed store errors: Redis connection/timeout errors (not authentication), PostgreSQL
  connection errors and "operator intervention" (57P01 terminating, 57P03 starting up);
- a bare OSError (refused, reset, a unix socket that is gone, a timeout) only when it was raised
  inside a store client's code: the same error from a file, Telegram or an exchange is not;
- the chain of causes is followed, but not past an error of Telegram or of an exchange."""

from __future__ import annotations

import os
import traceback

import asyncpg
import redis
import tortoise
from redis import exceptions as redis_errors
from tortoise.exceptions import DBConnectionError

from exchanges.errors import ExchangeError

_STORE_ERRORS: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,  # refused, reset, still loading its data after a restart
    redis_errors.TimeoutError,
    asyncpg.PostgresConnectionError,  # the connection was lost or could not be made
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, terminated
    DBConnectionError,
)
_NOT_OUTAGES: tuple[type[BaseException], ...] = (
    redis_errors.AuthenticationError,  # a wrong password: waiting will not fix it
    redis_errors.AuthorizationError,
)
# Errors of the outside world; callers add their own (the bot: Telegram's errors).
_FOREIGN: tuple[type[BaseException], ...] = (ExchangeError,)
_STORE_CODE = tuple(os.path.dirname(module.__file__ or "") + os.sep
                    for module in (asyncpg, redis, tortoise))

# Handler data key: the caller of feed_update will have the update delivered again if it fails
# (the webhook route, whose 503 makes Telegram re-send it), so it is not retried in-process.
TELEGRAM_REDELIVERS = "telegram_redelivers"
# Handler data key of an update fed again after an outage (handlers/outage.py): flood control
# counted it when it first came.
OUTAGE_RETRY_KEY = "outage_retry"


class StoreUnavailable(Exception):
    """Raised after an outage was reported to the user, so that the caller (the webhook, the
    polling retry) knows the update was not handled."""


def _raised_in_store_code(exc: BaseException) -> bool:
    return any(frame.f_code.co_filename.startswith(_STORE_CODE)
               for frame, _ in traceback.walk_tb(exc.__traceback__))


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, _NOT_OUTAGES):
        return False
    if isinstance(exc, (StoreUnavailable, *_STORE_ERRORS)):
        return True
    if isinstance(exc, asyncpg.InterfaceError):  # also client-side misuse: only a lost link
        return "closed" in str(exc) and _raised_in_store_code(exc)
    return isinstance(exc, OSError) and _raised_in_store_code(exc)


def is_store_outage(
    exc: BaseException, foreign: tuple[type[BaseException], ...] = (),
) -> bool:
    """True when ``exc`` or what caused it is a store outage (see the module's rules); the
    chain of causes is not followed past an exchange's error or one of ``foreign``."""
    stop = (*_FOREIGN, *foreign)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _is_outage_itself(current):
            return True
        if isinstance(current, stop):
            return False
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
