"""The admin screens' dashboards (seed 000 §1, §2, §4): the executive snapshot (the admin
chat's /stats, services/stats.py), the product dashboard (services/product_stats.py) and the
payout dashboard (services/payout_stats.py). Who sees which is seed 000 §8's: the executive
and product ones every operator, the exchange one operations (admin, ops, viewer), the payout
one finance and admins. Figures come worded: the page writes no number itself."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from aiohttp import web

from services.exchange_stats import ExchangeStats
from services.formatting import percent as number_text
from services.payout_stats import PeriodPayouts
from services.permissions import Permission
from services.stats import Compared, Share
from services.sync.wording import sync_line
from webapp.api.admin import operator
from webapp.api.common import (
    ApiError,
    Caller,
    amount_text,
    change_json,
    json_answer,
    moment_json,
    money_json,
    plain,
)
from webapp.api.deps import API

PERIODS = {"7d": 7, "30d": 30, "90d": 90}


def _days(request: web.Request, who: Caller, default: str) -> tuple[str, int]:
    period = request.query.get("period", default)
    if period not in PERIODS:
        raise ApiError(400, "bad_period", plain(who.t(
            "api.error.bad_choice", field="period", choices=", ".join(PERIODS))), "period")
    return period, PERIODS[period]


def count_json(count: int, locale: str) -> dict[str, Any]:
    return {"count": count, "text": number_text(Decimal(count), locale)}


def percent_json(value: Decimal | None, locale: str) -> dict[str, str] | None:
    if value is None:
        return None
    return {"percent": amount_text(value), "text": f"{number_text(value, locale)}%"}


def _compared_money(value: Compared, locale: str) -> dict[str, Any]:
    return {"value": money_json(value.now, locale), "change": change_json(value.change, locale)}


def _compared_count(value: Compared, locale: str) -> dict[str, Any]:
    return {"value": count_json(int(value.now), locale),
            "change": change_json(value.change, locale)}


def _compared_percent(value: Compared, locale: str) -> dict[str, Any]:
    """A rate against the period before: its change in percentage points, not percent."""
    points = value.now - value.before
    return {"value": percent_json(value.now, locale),
            "change": change_json(points if value.before or value.now else None, locale)}


def _shares(shares: tuple[Share, ...], who: Caller, prefix: str | None) -> list[dict[str, Any]]:
    """Each share with its label: worded from the catalog under ``prefix`` (a code the
    product defines), else the code itself (a screen's or a network's name)."""
    def label(key: str) -> str:
        worded = f"{prefix}{key}"
        return plain(who.t(worded)) if prefix and who.t.has(worded) else key

    return [{"key": share.key, "label": label(share.key),
             "count": count_json(share.count, who.locale),
             "percent": percent_json(share.percent, who.locale)} for share in shares]


def _way_label(way: str, who: Caller) -> str:
    """"internal" and "manual" are worded; a network is named by its id (USDT-TRC20)."""
    key = f"app.admin.dashboards.way.{way}"
    return plain(who.t(key)) if who.t.has(key) else way


def _period(period: str, start: Any, end: Any) -> dict[str, Any]:
    return {"period": period, "start": start.isoformat(), "end": end.isoformat()}


async def executive(request: web.Request) -> web.Response:
    who = await operator(request, Permission.STATS)
    period, days = _days(request, who, "30d")
    today = request.app[API].clock().astimezone(UTC).date()
    snap = await request.app[API].stats.snapshot(today, days)
    locale = who.locale
    others = plain(who.t("app.admin.dashboards.others"))
    return json_answer({
        **_period(period, snap.start, snap.end),
        "volume": _compared_money(snap.volume, locale),
        "revenue": _compared_money(snap.revenue, locale),
        "gross": money_json(snap.gross, locale),
        "traders": count_json(snap.traders, locale),
        "new_traders": _compared_count(snap.new_traders, locale),
        "activation": _compared_percent(snap.activation, locale),
        "by_exchange": [{"id": line.exchange_id, "name": line.name or others,
                         "revenue": money_json(line.revenue, locale),
                         "share": percent_json(line.share, locale)}
                        for line in snap.by_exchange],
        "days": [{"day": day.isoformat(), "volume": amount_text(volume),
                  "revenue": amount_text(revenue)} for day, volume, revenue in snap.days],
        "pending_withdrawals": count_json(snap.pending_withdrawals, locale),
        "alerts_firing": count_json(snap.alerts_firing, locale),
    })


async def product(request: web.Request) -> web.Response:
    who = await operator(request, Permission.STATS)
    period, days = _days(request, who, "30d")
    today = request.app[API].clock().astimezone(UTC).date()
    snap = await request.app[API].product_stats.snapshot(today, days)
    locale = who.locale
    return json_answer({
        **_period(period, snap.start, snap.end),
        "new_traders": _compared_count(snap.new_traders, locale),
        "activation": _compared_percent(snap.activation, locale),
        "retention_d30": _compared_percent(snap.retention_d30, locale),
        "exchanges_per_trader": {
            "value": {"amount": amount_text(snap.exchanges_per_trader.now),
                      "text": number_text(snap.exchanges_per_trader.now, locale)},
            "change": change_json(snap.exchanges_per_trader.change, locale)},
        "funnel": [{"key": step.key,
                    "label": plain(who.t(f"app.admin.dashboards.funnel.{step.key}")),
                    "count": count_json(step.count, locale),
                    "conversion": percent_json(step.conversion, locale)}
                   for step in snap.funnel],
        "cohorts": [{"week_start": cohort.week_start.isoformat(),
                     "signups": count_json(cohort.signups, locale),
                     "retention": [percent_json(value, locale) for value in cohort.retention]}
                    for cohort in snap.cohorts],
        "active_traders": count_json(snap.active_traders, locale),
        "features": _shares(snap.features, who, "app.admin.dashboards.screen."),
        "platforms": _shares(snap.platforms, who, "app.admin.dashboards.platform."),
        "sources": _shares(snap.sources, who, "app.admin.source."),
        "first_trade": _shares(snap.first_trade, who, "app.admin.dashboards.bucket."),
    })


async def exchanges(request: web.Request) -> web.Response:
    who = await operator(request, Permission.EXCHANGES_VIEW)
    period, days = _days(request, who, "30d")
    deps = request.app[API]
    now = deps.clock().astimezone(UTC)
    snap = await ExchangeStats(deps.sync).snapshot(now.date(), now, days)
    locale = who.locale

    def status_text(code: str) -> str:
        return plain(who.t(f"app.admin.dashboards.status.{code}"))

    return json_answer({
        **_period(period, snap.start, snap.end),
        "revenue": money_json(snap.revenue, locale),
        "exchanges": [{
            "id": line.status.exchange_id, "name": line.status.name,
            "status": line.status.status.value,
            "status_text": status_text(line.status.status.value),
            "sync_text": plain(sync_line(who.t, line.status, now)),
            "traders": count_json(line.traders, locale),
            "volume": money_json(line.volume, locale), "gross": money_json(line.gross, locale),
            "revenue": _compared_money(line.revenue, locale),
            "runs": {"ok": count_json(line.runs_ok, locale),
                     "failed": count_json(line.runs_failed, locale),
                     "running": count_json(line.runs_running, locale)}}
            for line in snap.lines],
    })


def _payouts(figures: PeriodPayouts, locale: str) -> dict[str, Any]:
    return {"completed": count_json(figures.completed, locale),
            "completed_amount": money_json(figures.completed_amount, locale),
            "failed": count_json(figures.failed, locale),
            "failed_amount": money_json(figures.failed_amount, locale),
            "rejected": count_json(figures.rejected, locale),
            "success": percent_json(figures.success, locale)}


async def payouts(request: web.Request) -> web.Response:
    who = await operator(request, Permission.PAYOUTS_DECIDE)
    period, days = _days(request, who, "7d")
    today = request.app[API].clock().astimezone(UTC).date()
    snap = await request.app[API].payout_stats.snapshot(today, days)
    locale = who.locale
    change = snap.success_change
    return json_answer({
        **_period(period, snap.start, snap.end),
        "pending": count_json(snap.pending, locale),
        "pending_amount": money_json(snap.pending_amount, locale),
        "awaiting_approval": count_json(snap.awaiting_approval, locale),
        "oldest_awaiting": moment_json(snap.oldest_awaiting, locale),
        "now": _payouts(snap.period, locale), "before": _payouts(snap.previous, locale),
        "success_change": None if change is None
        else change_json(change.now - change.before, locale),
        "days": [{"day": day.isoformat(), "paid": paid, "amount": amount_text(amount)}
                 for day, paid, amount in snap.days],
        "ways": [{"way": way.way, "label": _way_label(way.way, who),
                  "paid": count_json(way.paid, locale),
                  "amount": money_json(way.amount, locale),
                  "percent": percent_json(way.percent, locale)} for way in snap.ways],
        "durations": _shares(snap.durations, who, "app.admin.dashboards.bucket."),
    })
