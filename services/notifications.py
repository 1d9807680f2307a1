"""The notification outbox: services write rows here; a worker job (bot/outbox.py) delivers them
to Telegram at its rate limits. Nothing here talks to Telegram.

Delivery protocol, for any number of delivery loops in any number of processes:

1. ``claim_due`` takes due pending rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and stamps a
   claim lease (``claimed_until``) in the same statement: no other loop sees a claimed row until
   its lease runs out, so two loops never send one row at the same time, and the claim of a
   loop that crashed simply expires.
2. The loop sends, then records the outcome: ``mark_sent`` (Telegram confirmed it),
   ``reschedule`` (try again later; exponential backoff, and after ``max_attempts`` the row
   fails), ``mark_failed`` (permanent: blocked, chat not found) or ``release`` (not attempted).

Delivery is at-least-once: a crash between Telegram's answer and ``mark_sent`` sends that message
again after the lease. We prefer a rare duplicate to a lost message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise

from services.models import NotificationStatus

# Longer than one delivery batch can take (bot/outbox.py stops starting sends well before it).
DEFAULT_LEASE = timedelta(seconds=60)
# Backoff after the n-th failed attempt: 5 s · 2^(n-1), capped at an hour; twelve attempts span
# about three and a half hours, which rides out a Telegram or network outage without retrying
# forever.
DEFAULT_MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)
_ERROR_LENGTH = 200  # the column's size


@dataclass(frozen=True)
class NotificationDTO:
    """A claimed notification with what rendering it needs: the recipient's language choices."""

    id: int
    dedupe_key: str
    chat_id: int
    user_id: int | None
    kind: str
    text_key: str
    params: dict[str, Any]
    silent: bool
    attempts: int  # counted send attempts made before this claim
    user_locale: str | None  # the language chosen in Settings (None: none, or not a user)
    telegram_language: str | None  # Telegram's language_code of the recipient, if a user


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _clip(error: str) -> str:
    return error if len(error) <= _ERROR_LENGTH else error[: _ERROR_LENGTH - 1] + "…"


def _params(value: object) -> dict[str, Any]:
    # asyncpg hands jsonb back as text unless a codec was registered; accept both.
    loaded = json.loads(value) if isinstance(value, str | bytes) else value
    return dict(loaded) if isinstance(loaded, Mapping) else {}


_ENQUEUE = (
    "INSERT INTO notifications (dedupe_key, chat_id, user_id, kind, text_key, params, "
    "silent, status, attempts, not_before, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, 'pending', 0, $8, $9) "
    "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"
)

# Claim in one statement: lock a window of due rows with SKIP LOCKED (concurrent claimers take
# different rows instead of waiting), keep the oldest row per chat, stamp the lease. One row per
# chat per batch means the delivery loop never holds a claimed row while it waits out a chat's
# 1/s behind another row of its own batch; chats with a row claimed elsewhere are left out, so a
# chat's messages go out one at a time, oldest first. Rows locked but not kept are free again
# when the statement ends.
_CLAIM = """
WITH locked AS (
    SELECT id, chat_id FROM notifications n
    WHERE status = 'pending' AND (not_before IS NULL OR not_before <= $1)
      AND (claimed_until IS NULL OR claimed_until <= $1)
      AND NOT EXISTS (
          SELECT 1 FROM notifications c
          WHERE c.chat_id = n.chat_id AND c.status = 'pending' AND c.claimed_until > $1
      )
    ORDER BY id LIMIT $2 * 4
    FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT id FROM (SELECT DISTINCT ON (chat_id) id FROM locked ORDER BY chat_id, id) firsts
    ORDER BY id LIMIT $2
), claimed AS (
    UPDATE notifications n SET claimed_until = $3
    FROM picked WHERE n.id = picked.id
    RETURNING n.id, n.dedupe_key, n.chat_id, n.user_id, n.kind, n.text_key,
              n.params::text AS params, n.silent, n.attempts
)
SELECT c.*, u.locale AS user_locale, u.telegram_language
FROM claimed c
LEFT JOIN users u ON u.id = coalesce(c.user_id, CASE WHEN c.chat_id > 0 THEN c.chat_id END)
ORDER BY c.id
"""


class NotificationService:
    def __init__(
        self,
        *,
        lease: timedelta = DEFAULT_LEASE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        connection_name: str = "default",
    ) -> None:
        self.lease = lease
        self.max_attempts = max_attempts
        self._connection_name = connection_name

    async def _query(self, sql: str, values: Sequence[object]) -> list[dict[str, Any]]:
        connection = Tortoise.get_connection(self._connection_name)
        return await connection.execute_query_dict(sql, list(values))

    # --- writing --------------------------------------------------------------------------

    async def enqueue(
        self,
        dedupe_key: str,
        chat_id: int,
        kind: str,
        text_key: str,
        params: Mapping[str, object] | None = None,
        *,
        user_id: int | None = None,
        silent: bool = False,
        not_before: datetime | None = None,
    ) -> bool:
        """Write a notification once per ``dedupe_key``; True if it is new.

        ``params`` must be JSON values; user data among them is escaped when the text is
        rendered, so pass it raw.
        """
        rows = await self._query(_ENQUEUE, [
            dedupe_key, chat_id, user_id, kind, text_key, json.dumps(dict(params or {})),
            silent, not_before, _utcnow()])
        return bool(rows)

    @staticmethod
    async def enqueue_in(
        conn: Any, dedupe_key: str, chat_id: int, kind: str, text_key: str,
        params: Mapping[str, object] | None = None, *, user_id: int | None = None,
        silent: bool = False,
    ) -> bool:
        """``enqueue`` on the caller's asyncpg connection, inside its transaction: the message
        is written if and only if the change it tells of commits."""
        row = await conn.fetchrow(_ENQUEUE, dedupe_key, chat_id, user_id, kind, text_key,
                                  json.dumps(dict(params or {})), silent, None, _utcnow())
        return row is not None

    # --- delivering -----------------------------------------------------------------------

    async def claim_due(self, limit: int, now: datetime | None = None) -> list[NotificationDTO]:
        """Claim up to ``limit`` due rows (at most one per chat) for ``self.lease``."""
        now = now or _utcnow()
        rows = await self._query(_CLAIM, [now, limit, now + self.lease])
        return [
            NotificationDTO(
                id=row["id"], dedupe_key=row["dedupe_key"], chat_id=row["chat_id"],
                user_id=row["user_id"], kind=row["kind"], text_key=row["text_key"],
                params=_params(row["params"]), silent=row["silent"], attempts=row["attempts"],
                user_locale=row["user_locale"], telegram_language=row["telegram_language"],
            )
            for row in rows
        ]

    async def mark_sent(self, notification_id: int, now: datetime | None = None) -> bool:
        """Telegram confirmed the message. False if the row was no longer pending (another
        loop, after this one's lease ran out, got there first)."""
        rows = await self._query(
            "UPDATE notifications SET status = 'sent', sent_at = $2, attempts = attempts + 1, "
            "claimed_until = NULL, last_error = NULL "
            "WHERE id = $1 AND status = 'pending' RETURNING id",
            [notification_id, now or _utcnow()],
        )
        return bool(rows)

    async def reschedule(
        self,
        notification_id: int,
        not_before: datetime | None,
        error: str,
        *,
        count_attempt: bool = True,
        now: datetime | None = None,
    ) -> NotificationStatus | None:
        """Try again at ``not_before`` (None: exponential backoff by the attempts made).

        A counted attempt that reaches ``max_attempts`` fails the row for good. A 429 is not the
        message's fault and passes ``count_attempt=False``: flood waits never use up attempts.
        Returns the row's new status (None if it was no longer pending).
        """
        increment = 1 if count_attempt else 0
        # One statement: the attempt count, the give-up rule and the backoff are decided on the
        # row's current value, whatever another (stale) loop did to it meanwhile.
        rows = await self._query(
            """
            UPDATE notifications SET
                attempts = attempts + $2,
                status = CASE WHEN $2 = 1 AND attempts + 1 >= $6 THEN 'failed' ELSE 'pending' END,
                not_before = coalesce($3, $4::timestamptz + make_interval(secs => least(
                    $7::float8, $8::float8 * power(2, greatest(0, attempts + $2 - 1))))),
                last_error = CASE WHEN $2 = 1 AND attempts + 1 >= $6
                    THEN left('gave up after ' || (attempts + 1) || ' attempts: ' || $5, $9)
                    ELSE $5 END,
                claimed_until = NULL
            WHERE id = $1 AND status = 'pending'
            RETURNING status
            """,
            [notification_id, increment, not_before, now or _utcnow(), _clip(error),
             self.max_attempts, BACKOFF_CAP.total_seconds(), BACKOFF_BASE.total_seconds(),
             _ERROR_LENGTH],
        )
        return NotificationStatus(rows[0]["status"]) if rows else None

    async def mark_failed(self, notification_id: int, error: str) -> bool:
        """Permanently undeliverable (the bot is blocked, the chat does not exist …)."""
        rows = await self._query(
            "UPDATE notifications SET status = 'failed', attempts = attempts + 1, "
            "last_error = $2, claimed_until = NULL "
            "WHERE id = $1 AND status = 'pending' RETURNING id",
            [notification_id, _clip(error)],
        )
        return bool(rows)

    async def release(
        self, notification_ids: Sequence[int], not_before: datetime | None = None
    ) -> None:
        """Give claimed rows back without an attempt: they were not sent (the chat's limit
        is further away than the loop wants to wait, or the loop is stopping)."""
        if not notification_ids:
            return
        await self._query(
            "UPDATE notifications SET claimed_until = NULL, "
            "not_before = coalesce($2, not_before) "
            "WHERE id = ANY($1::bigint[]) AND status = 'pending'",
            [list(notification_ids), not_before],
        )
