"""The admin chat's alert for an exchange API key about to expire (issue 14, seed 000): told
when a stored key expires within 7 days (not at 8), told again when its day comes, one alert
per exchange, de-duplicated while it lasts, and resolved when the key is replaced."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.alert_jobs import check_alerts
from bot.outbox import render
from bot.settings import Settings
from services import alert_rules
from services.alerts import AlertService
from services.credential_store import CredentialBook
from services.credentials import ApiSecret
from services.i18n import Catalog
from services.ledger.entries import ledger_transaction
from services.models import Notification
from services.notifications import NotificationDTO

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CHAT = -100500


async def _key(book: CredentialBook, exchange_id: str, expires_on: date | None,
               key: str = "an-api-key-1234") -> None:
    async with ledger_transaction() as conn:
        await book.replace(conn, exchange_id, ApiSecret(key, "its-secret"), expires_on, 900)


async def _told() -> list[tuple[str, dict[str, Any]]]:
    return [(n.text_key, n.params) for n in await Notification.filter(kind="alert").order_by("id")]


async def _check(alerts: AlertService, now: datetime) -> list[str]:
    moved = []
    for family, rule in (("key_expiry", alert_rules.key_expiry),
                         ("key_expired", alert_rules.key_expired)):
        result = await alerts.report(family, await rule(now), CHAT, now=now)
        moved += [f"+{k}" for k in result.raised] + [f"-{k}" for k in result.resolved]
    return moved


async def test_fires_at_seven_days_not_at_eight_and_resolves_when_replaced(
    db: str, services: Any, i18n: Catalog,
) -> None:
    book, alerts = services.credentials, AlertService()
    today = NOW.date()
    await _key(book, "okx", today + timedelta(days=8))
    await _key(book, "bybit", None)  # no expiry date: never
    assert await _check(alerts, NOW) == []  # 8 days left
    assert await _check(alerts, NOW + timedelta(days=1)) == ["+key_expiry:okx"]  # 7 left
    assert await _check(alerts, NOW + timedelta(days=2)) == []  # told once
    [(key, params)] = await _told()
    assert (key, params) == ("admin.alert.key_expiry", {
        "name": "OKX", "hint": "1234", "day": (today + timedelta(days=8)).isoformat()})
    # Its day comes: it has expired, told too (the warning goes on until it is replaced).
    assert await _check(alerts, NOW + timedelta(days=8)) == ["+key_expired:okx"]
    # Replaced with a key valid for a year: both clear, each told once.
    await _key(book, "okx", today + timedelta(days=365), key="the-new-key-5678")
    assert await _check(alerts, NOW + timedelta(days=8, hours=1)) == [
        "-key_expiry:okx", "-key_expired:okx"]
    assert await _check(alerts, NOW + timedelta(days=9)) == []
    assert [k for k, _ in await _told()] == [
        "admin.alert.key_expiry", "admin.alert.key_expired",
        "admin.alert_resolved.key_expiry", "admin.alert_resolved.key_expired"]
    for note in await Notification.filter(kind="alert").order_by("id"):
        for locale in ("en", "ru"):
            text = render(i18n, NotificationDTO(
                id=note.id, dedupe_key=note.dedupe_key, chat_id=note.chat_id, user_id=None,
                kind="alert", text_key=note.text_key, params=note.params, silent=False,
                attempts=0, user_locale=locale, telegram_language=None))
            assert "OKX" in text and "its-secret" not in text and "an-api-key" not in text


async def test_one_alert_per_exchange_and_a_removed_key_resolves(db: str, services: Any) -> None:
    book, alerts = services.credentials, AlertService()
    today = NOW.date()
    await _key(book, "okx", today + timedelta(days=3))
    await _key(book, "bybit", today + timedelta(days=1))
    await _key(book, "mexc", today + timedelta(days=30))
    assert await _check(alerts, NOW) == ["+key_expiry:bybit", "+key_expiry:okx"]
    async with ledger_transaction() as conn:
        await book.revoke(conn, "bybit", 900)
    assert await _check(alerts, NOW + timedelta(minutes=5)) == ["-key_expiry:bybit"]


async def test_the_alert_job_checks_stored_keys(db: str, services: Any,
                                                settings: Settings) -> None:
    await _key(services.credentials, "okx", datetime.now(UTC).date() + timedelta(days=2))
    context = {"services": services, "settings": settings}
    assert await check_alerts(context) == "+key_expiry:okx"
    assert await check_alerts(context) == "no change"
