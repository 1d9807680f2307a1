"""/status on a fresh install: an exchange without API credentials is "not configured" (not an
error, and not retried every tick); a CSV-only exchange shows its imports; red is kept for a
real failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exchanges.base import AffiliateSource
from services.events import EventService
from services.notifications import NotificationService
from services.sync import ExchangeStatus, SyncService
from services.sync.status import exchange_status

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_the_states_in_order_of_precedence() -> None:
    def status(**overrides: object) -> ExchangeStatus:
        given = {"enabled": True, "interval": HOUR, "last_run_failed": False,
                 "last_success_at": NOW - 10 * HOUR, "now": NOW, **overrides}
        return exchange_status(**given)  # type: ignore[arg-type]

    assert status(enabled=False, configured=False) is ExchangeStatus.DISABLED
    assert status(data_source="csv", last_success_at=None) is ExchangeStatus.CSV
    assert status(configured=False, last_success_at=None) is ExchangeStatus.NOT_CONFIGURED
    assert status(last_success_at=None) is ExchangeStatus.ERROR  # configured, never synced
    assert status(last_success_at=NOW - HOUR) is ExchangeStatus.OK
    assert status(last_success_at=NOW - HOUR, last_run_failed=True) is ExchangeStatus.ERROR


class _Nothing:
    """Stands for a built adapter; statuses() and due() never call it."""


def only(*configured: str) -> object:
    def build(exchange_id: str) -> AffiliateSource | None:
        if exchange_id in ("binance", "bitmart", "gate"):
            raise ValueError("CSV only")
        return _Nothing() if exchange_id in configured else None  # type: ignore[return-value]

    return build


async def test_a_fresh_install_is_not_all_red(db: str) -> None:
    sync = SyncService(only("okx"), NotificationService(), EventService(),  # type: ignore[arg-type]
                       clock=lambda: NOW)
    statuses = {status.exchange_id: status.status for status in await sync.statuses()}
    assert statuses["okx"] is ExchangeStatus.ERROR  # configured and never synced: a problem
    assert statuses["bybit"] is ExchangeStatus.NOT_CONFIGURED
    assert statuses["binance"] is ExchangeStatus.CSV
    assert await sync.due() == ["okx"]
