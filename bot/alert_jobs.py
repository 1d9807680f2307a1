"""Every five minutes: seed 000's sync and business alerts (services/alert_rules.py), told in
the admin chat when they start and when they clear (services/alerts.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.app import Services
from bot.settings import Settings
from services import alert_rules


async def check_alerts(ctx: dict[str, Any]) -> str:
    services: Services = ctx["services"]
    settings: Settings = ctx["settings"]
    now = datetime.now(UTC)
    rules = {
        "sync_failed": await alert_rules.sync_failed(services.sync, now),
        "activation_low": await alert_rules.activation_low(now),
        "revenue_drop": await alert_rules.revenue_drop(now),
        "key_expiry": await alert_rules.key_expiry(now),
        "key_expired": await alert_rules.key_expired(now),
    }
    told = []
    for family, firing in rules.items():
        moved = await services.alerts.report(family, firing, settings.admin_chat_id, now=now)
        told += [f"+{key}" for key in moved.raised] + [f"-{key}" for key in moved.resolved]
    return ", ".join(told) or "no change"
