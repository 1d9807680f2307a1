"""Operators' alerts with a beginning and an end (issue 14): told once when a condition starts,
not again while it lasts, "resolved" once when it clears, told anew if it comes back; and seed
000's sync, activation and revenue rules at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.alert_jobs import check_alerts
from bot.settings import Settings
from services import alert_rules
from services.alerts import AlertService
from services.models import AccountStatus, ExchangeAccount, Notification, User
from services.rebates import RebateEngine
from services.sync import ExchangeStatus, ExchangeStatusDTO
from tests.ledger.helpers import make_trader, next_id, put_record

D = Decimal
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CHAT = -100500


async def _told() -> list[tuple[str, dict[str, Any]]]:
    return [(n.text_key, n.params) for n in await Notification.filter(kind="alert").order_by("id")]


async def test_an_alert_is_told_when_it_starts_and_when_it_clears(db: str) -> None:
    alerts = AlertService()
    quiet = await alerts.report("sync_failed", {}, CHAT, now=NOW)
    assert (quiet.raised, quiet.resolved) == ((), ())
    okx = {"name": "OKX", "error": "timeout", "since": "—"}
    assert (await alerts.report("sync_failed", {"okx": okx}, CHAT, now=NOW)).raised == (
        "sync_failed:okx",)
    for minutes in (5, 10):  # still failing: nothing more
        later = NOW + timedelta(minutes=minutes)
        moved = await alerts.report("sync_failed", {"okx": okx}, CHAT, now=later)
        assert (moved.raised, moved.resolved) == ((), ())
    # Another exchange starts failing; OKX recovers: each told on its own.
    bybit = {"name": "Bybit", "error": "401", "since": "—"}
    moved = await alerts.report("sync_failed", {"bybit": bybit}, CHAT,
                                now=NOW + timedelta(minutes=15))
    assert (moved.raised, moved.resolved) == (("sync_failed:bybit",), ("sync_failed:okx",))
    assert [key for key, _ in await _told()] == [
        "admin.alert.sync_failed", "admin.alert.sync_failed", "admin.alert_resolved.sync_failed"]
    resolved = (await _told())[-1][1]
    assert resolved["name"] == "OKX" and resolved["since"] == "2026-12-03 12:00 UTC"
    assert [a["key"] for a in await alerts.firing()] == ["sync_failed:bybit"]
    # OKX failing again later is a new alert, told again.
    again = await alerts.report("sync_failed", {"bybit": bybit, "okx": okx}, CHAT,
                                now=NOW + timedelta(hours=2))
    assert again.raised == ("sync_failed:okx",)
    assert len(await _told()) == 4


async def test_without_an_admin_chat_nothing_is_kept_or_told(db: str) -> None:
    moved = await AlertService().report("revenue_drop", {"": {"percent": "40"}}, None)
    assert moved.raised == () and await _told() == []


class _Statuses:
    def __init__(self, statuses: list[ExchangeStatusDTO]) -> None:
        self._statuses = statuses

    async def statuses(self) -> list[ExchangeStatusDTO]:
        return self._statuses


def _status(exchange_id: str, status: ExchangeStatus, last_ok: datetime | None,
            error: str | None, source: str = "api") -> ExchangeStatusDTO:
    return ExchangeStatusDTO(exchange_id=exchange_id, name=exchange_id.upper(), status=status,
                             last_success_at=last_ok, next_due_at=None, last_error=error,
                             data_source=source)


async def test_sync_failed_means_failing_with_no_good_sync_for_an_hour() -> None:
    statuses = _Statuses([
        _status("okx", ExchangeStatus.ERROR, NOW - timedelta(minutes=61), "timeout"),
        _status("bybit", ExchangeStatus.LAG, NOW - timedelta(minutes=59), "timeout"),
        _status("mexc", ExchangeStatus.ERROR, None, "401 invalid key"),
        _status("bitget", ExchangeStatus.OK, NOW - timedelta(hours=2), None),
        _status("gate", ExchangeStatus.NOT_CONFIGURED, None, None),
        _status("binance", ExchangeStatus.CSV, None, "bad file", source="csv"),
    ])
    firing = await alert_rules.sync_failed(statuses, NOW)  # type: ignore[arg-type]
    assert sorted(firing) == ["mexc", "okx"]
    assert firing["okx"]["since"] == "2026-12-03 10:59 UTC" and firing["mexc"]["since"] == "—"


async def _signups(count: int, verified: int, *, days_ago: int = 1) -> None:
    for n in range(count):
        user_id = next_id()
        await User.create(id=user_id, first_name="t")
        await User.filter(id=user_id).update(created_at=NOW - timedelta(days=days_ago))
        if n < verified:
            await ExchangeAccount.create(user_id=user_id, exchange_id="okx",
                                         uid=str(user_id)[-9:], status=AccountStatus.VERIFIED)


@pytest.mark.parametrize("signups, verified, fires", [
    (20, 4, True),  # 20 %
    (20, 5, False),  # 25 %: at the floor, not below it
    (19, 0, False),  # too few to judge
])
async def test_activation_below_a_quarter_of_a_weeks_signups(
    db: str, signups: int, verified: int, fires: bool
) -> None:
    await _signups(signups, verified)
    await _signups(30, 0, days_ago=8)  # older signups do not count
    firing = await alert_rules.activation_low(NOW)
    assert bool(firing) is fires
    if fires:
        assert firing[""] == {"percent": "20.0", "active": 4, "signups": 20}


@pytest.mark.parametrize("this_week, fires", [(D(60), True), (D(70), False)])
async def test_revenue_down_more_than_30_percent_week_on_week(
    db: str, this_week: Decimal, fires: bool
) -> None:
    _, uid = await make_trader("okx")
    end = NOW.date() - timedelta(days=2)
    # Our share is 40 % of the commission: 100 the week before, this_week in the last one,
    # each week's first and last day.
    for back in (0, 6):
        await put_record("okx", uid, end - timedelta(days=7 + back), commission=D(125))
        await put_record("okx", uid, end - timedelta(days=back), commission=this_week * 5 / 4)
    await put_record("okx", uid, end - timedelta(days=14), commission=D(5000))  # before both
    await put_record("okx", uid, NOW.date(), commission=D(0.01))  # too recent to count
    await RebateEngine().accrue_all()
    firing = await alert_rules.revenue_drop(NOW)
    assert bool(firing) is fires
    if fires:
        assert firing[""]["percent"] == "40.0" and firing[""]["until"] == end.isoformat()


async def test_the_job_tells_the_admin_chat(db: str, services: Any, settings: Settings) -> None:
    await _signups(20, 0, days_ago=0)
    assert await check_alerts({"services": services, "settings": settings}) == (
        "+activation_low")
    assert await check_alerts({"services": services, "settings": settings}) == "no change"
    [(key, params)] = await _told()
    assert key == "admin.alert.activation_low" and params["signups"] == 20
