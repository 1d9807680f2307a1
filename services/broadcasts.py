"""Broadcasts: one message from the operators to many traders, through the outbox.

Starting one writes, in one transaction, the broadcast, an outbox row per recipient (dedupe key
``broadcast:<id>:<user>``: a recipient gets it once, however often delivery is retried or the
worker restarts) and the audit row. Delivery is the outbox's: Telegram's limits, 429s obeyed,
a blocked chat failed for good. Each recipient's row carries the text of their language (their
Settings choice, else Telegram's, else the default, as the outbox resolves it): one text per
language, English always there (for a language without its own).

Audiences: every trader, those of a language (their choice, else Telegram's), those with an
account at an exchange, those with a booked trading day in the last 30 days. Banned traders
never get one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise

from services.audit import audit
from services.ledger.entries import ledger_transaction
from services.models import Broadcast

AUDIENCES = ("all", "language", "exchange", "active")
ACTIVE_DAYS = 30
MAX_TEXT = 3500  # Telegram allows 4096; room for the catalog's frame


@dataclass(frozen=True)
class Audience:
    kind: str  # one of AUDIENCES
    value: str = ""  # the language or the exchange id

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    blocked: int  # the trader blocked the bot (or deleted their account): Telegram's 403
    failed: int  # any other permanent failure
    pending: int

    @property
    def done(self) -> bool:
        return self.pending == 0


# A user's language as the outbox resolves it (services.i18n.Catalog.resolve_locale): their
# Settings choice, else Telegram's language_code without its region, if supported; else the
# default ({default}: a parameter).
LANGUAGE = ("(SELECT l FROM (VALUES (1, u.locale), "
            "(2, split_part(lower(u.telegram_language), '-', 1)), (3, {default})) v(n, l) "
            "WHERE l IN ('en', 'ru') ORDER BY n LIMIT 1)")


def _where(audience: Audience, default_locale: str) -> tuple[str, list[Any]]:
    """The recipients' condition on users u (values as parameters from $1)."""
    base = "u.role = 'trader' AND NOT u.is_banned"
    if audience.kind == "all":
        return base, []
    if audience.kind == "language":
        # Their Settings choice, else Telegram's language (as the outbox resolves it).
        return f"{base} AND {LANGUAGE.format(default='$2::text')} = $1", [
            audience.value, default_locale]
    if audience.kind == "exchange":
        return (f"{base} AND EXISTS (SELECT 1 FROM exchange_accounts a WHERE a.user_id = u.id "
                "AND a.exchange_id = $1)", [audience.value])
    if audience.kind == "active":
        return (f"{base} AND EXISTS (SELECT 1 FROM rebate_accruals r WHERE r.user_id = u.id "
                "AND r.day >= $1)", [datetime.now(UTC).date() - timedelta(days=ACTIVE_DAYS)])
    raise ValueError(f"unknown audience {audience.kind!r}")


class BroadcastService:
    def __init__(self, default_locale: str = "en") -> None:
        self._default_locale = default_locale

    async def count(self, audience: Audience) -> int:
        where, args = _where(audience, self._default_locale)
        rows = await Tortoise.get_connection("default").execute_query_dict(
            f"SELECT count(*) AS n FROM users u WHERE {where}", args)
        return int(rows[0]["n"])

    async def start(self, actor_id: int, texts: dict[str, str], audience: Audience,
                    progress_chat_id: int | None = None) -> Broadcast:
        if not texts.get("en") or any(len(text) > MAX_TEXT for text in texts.values()):
            raise ValueError("a broadcast needs an English text of at most 3500 characters")
        where, args = _where(audience, self._default_locale)
        now = datetime.now(UTC)
        async with ledger_transaction() as conn:
            broadcast_id = await conn.fetchval(
                "INSERT INTO broadcasts (created_by, texts, audience, recipients, "
                "progress_chat_id, created_at) VALUES ($1, $2::text::jsonb, $3::text::jsonb, 0, "
                "$4, $5) RETURNING id", actor_id, json.dumps(texts),
                json.dumps(audience.as_json()), progress_chat_id, now)
            n = len(args)
            # $texts ->> the reader's language, else the English text.
            inserted = await conn.execute(
                "INSERT INTO notifications (dedupe_key, chat_id, user_id, kind, text_key, "
                "params, silent, status, attempts, created_at) "
                f"SELECT 'broadcast:' || ${n + 1}::bigint || ':' || u.id, u.id, u.id, "
                "'broadcast', 'broadcast.message', jsonb_build_object('text', coalesce("
                f"${n + 2}::jsonb ->> {LANGUAGE.format(default=f'${n + 3}::text')}, "
                f"${n + 2}::jsonb ->> 'en')), false, 'pending', 0, ${n + 4} "
                f"FROM users u WHERE {where} ON CONFLICT (dedupe_key) DO NOTHING",
                *args, broadcast_id, json.dumps(texts), self._default_locale, now)
            recipients = int(inserted.split()[-1])
            await conn.execute("UPDATE broadcasts SET recipients = $2 WHERE id = $1",
                               broadcast_id, recipients)
            await audit(conn, actor_id, "broadcast.send", "broadcast", broadcast_id,
                        after={"audience": audience.as_json(), "recipients": recipients,
                               "languages": sorted(texts)})
        return await Broadcast.get(id=broadcast_id)

    async def progress(self, broadcast_id: int) -> Progress:
        rows = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'sent') AS sent, "
            " count(*) FILTER (WHERE status = 'failed' AND last_error LIKE $2) AS blocked, "
            " count(*) FILTER (WHERE status = 'failed' AND last_error NOT LIKE $2) AS failed, "
            " count(*) FILTER (WHERE status = 'pending') AS pending "
            "FROM notifications WHERE kind = 'broadcast' AND dedupe_key LIKE $1",
            [f"broadcast:{broadcast_id}:%", "TelegramForbiddenError%"])
        row = rows[0]
        return Progress(row["total"], row["sent"], row["blocked"], row["failed"],
                        row["pending"])

    async def unfinished(self) -> list[Broadcast]:
        return await Broadcast.filter(finished_at=None).order_by("id")

    async def set_progress_message(self, broadcast_id: int, chat_id: int,
                                   message_id: int) -> None:
        await Broadcast.filter(id=broadcast_id).update(progress_chat_id=chat_id,
                                                       progress_message_id=message_id)

    async def finish(self, broadcast_id: int) -> None:
        await Broadcast.filter(id=broadcast_id).update(finished_at=datetime.now(UTC))
