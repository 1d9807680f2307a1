"""The audit chain's check (services/audit_chain.py), every hour: the head it reached is kept
in Redis, outside the database the chain lives in, so a chain cut short or recomputed from an
edit onwards shows too; a broken chain is told in the admin chat when it breaks and when it
checks out again, and exported as a gauge."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Gauge

from bot.settings import Settings
from services.audit_chain import Head, check_chain

log = logging.getLogger(__name__)

AUDIT_CHAIN_OK = Gauge("audit_chain_ok", "1 while the audit log's hash chain checks out")
AUDIT_CHAIN_ROWS = Gauge("audit_chain_rows", "Rows in the audit log's hash chain at its check")


def head_key(prefix: str) -> str:
    return f"{prefix}:audit_chain:head" if prefix else "audit_chain:head"


async def check_audit_chain(ctx: dict[str, Any]) -> str:
    settings: Settings = ctx["settings"]
    redis = ctx["redis"]
    key = head_key(settings.redis_prefix)
    report = await check_chain(Head.load(await redis.get(key)))
    AUDIT_CHAIN_OK.set(1 if report.ok else 0)
    AUDIT_CHAIN_ROWS.set(report.rows)
    if report.ok:
        if report.head is not None:
            await redis.set(key, report.head.dump())
        await _tell(ctx, {}, None)
        return report.describe()
    await _tell(ctx, {"": {"place": report.broken_at, "detail": report.detail}},
                f"admin.audit_alert.{report.problem}")
    log.error("%s", report.describe())
    return report.describe()


async def _tell(ctx: dict[str, Any], firing: dict[str, dict[str, object]],
                message_key: str | None) -> None:
    """Told when the chain breaks and when it checks out again (services/alerts.py)."""
    await ctx["services"].alerts.report("audit_chain", firing, ctx["settings"].admin_chat_id,
                                        message_key=message_key)
