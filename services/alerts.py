"""Operators' alerts with a beginning and an end: each check reports which of its alerts fire
now; an alert that starts firing is told in the admin chat once, and when its condition clears
a "resolved" message follows, once. A condition that stays true is not told again (the
previous rule, "once an hour", repeated it every hour it lasted).

An alert is a family (``sync_failed``, ``payout_pending_old`` …) and, where one family covers
several things, a subject (``sync_failed:okx``). Messages: ``admin.alert.<family>`` when it
starts, ``admin.alert_resolved.<family>`` when it ends, both with the params it fired with.
The state is in ``alert_states``; each change and its message commit together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.ledger.entries import ledger_transaction
from services.notifications import NotificationService

Params = Mapping[str, object]


@dataclass(frozen=True)
class Transitions:
    raised: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()


def _key(family: str, subject: str) -> str:
    return f"{family}:{subject}" if subject else family


class AlertService:
    async def report(self, family: str, firing: Mapping[str, Params], chat_id: int | None,
                     *, now: datetime | None = None,
                     message_key: str | None = None) -> Transitions:
        """``firing``: subject ("" for a family of one) → the params of its message, for every
        alert of ``family`` whose condition holds now; the family's others have cleared.
        ``message_key`` words a start other than ``admin.alert.<family>``."""
        if chat_id is None:
            return Transitions()
        now = now or datetime.now(UTC)
        raised: list[str] = []
        resolved: list[str] = []
        async with ledger_transaction() as conn:
            rows = await conn.fetch(
                "SELECT key, firing, since, params::text AS params FROM alert_states "
                "WHERE family = $1 FOR UPDATE", family)
            known = {row["key"]: row for row in rows}
            for subject, params in firing.items():
                key = _key(family, subject)
                row = known.get(key)
                if row is not None and row["firing"]:
                    continue  # told when it started
                await conn.execute(
                    "INSERT INTO alert_states (key, family, firing, since, params) "
                    "VALUES ($1, $2, true, $3, $4::text::jsonb) ON CONFLICT (key) DO UPDATE "
                    "SET firing = true, since = $3, params = $4::text::jsonb, resolved_at = NULL",
                    key, family, now, json.dumps(dict(params)))
                await NotificationService.enqueue_in(
                    conn, f"alert:{key}:{now.isoformat()}", chat_id, "alert",
                    message_key or f"admin.alert.{family}", params)
                raised.append(key)
            still = {_key(family, subject) for subject in firing}
            for key, row in known.items():
                if not row["firing"] or key in still:
                    continue
                await conn.execute(
                    "UPDATE alert_states SET firing = false, resolved_at = $2 WHERE key = $1",
                    key, now)
                params = json.loads(row["params"])
                await NotificationService.enqueue_in(
                    conn, f"alert_resolved:{key}:{row['since'].isoformat()}", chat_id,
                    "alert", f"admin.alert_resolved.{family}", {**params,
                                                                "since": _hhmm(row["since"])})
                resolved.append(key)
        return Transitions(tuple(raised), tuple(resolved))

    async def firing(self) -> list[dict[str, Any]]:
        """What fires now, oldest first (the admin screens' list)."""
        async with ledger_transaction() as conn:
            rows = await conn.fetch("SELECT key, family, since, params::text AS params "
                                    "FROM alert_states WHERE firing ORDER BY since")
        return [{"key": r["key"], "family": r["family"], "since": r["since"],
                 "params": json.loads(r["params"])} for r in rows]


def _hhmm(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
