"""The trader's dashboard: a period's totals against the previous period, the balances, a point
per day, a card per exchange with its sync line (so an empty day is explained), and the chart
of those days (webapp/api/chart.py). The figures are services.dashboard's, worded here."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from aiohttp import web

from services.dashboard import PERIODS, Dashboard, PeriodTotals, change
from services.sync.wording import sync_line
from webapp.api.chart import THEMES, render_chart
from webapp.api.common import (
    ApiError,
    Caller,
    amount_text,
    caller,
    change_json,
    json_answer,
    moment_json,
    money_json,
    plain,
)
from webapp.api.deps import API

DEFAULT_PERIOD = "30d"
TOTALS = ("volume", "fee", "commission", "rebate", "estimated")
COMPARED = ("volume", "fee", "commission", "rebate")


def _choice(request: web.Request, name: str, choices: tuple[str, ...], default: str,
            who: Caller) -> str:
    value = request.query.get(name, default)
    if value not in choices:
        raise ApiError(400, f"bad_{name}", plain(who.t(
            "api.error.bad_choice", field=name, choices=", ".join(choices))), name)
    return value


async def _read(request: web.Request, who: Caller) -> Dashboard:
    deps = request.app[API]
    period = _choice(request, "period", PERIODS, DEFAULT_PERIOD, who)
    now = deps.clock().astimezone(UTC)
    return await deps.dashboard.dashboard(who.user.id, period, now.date(), now)


def _totals(totals: PeriodTotals, locale: str) -> dict[str, Any]:
    return {name: money_json(getattr(totals, name), locale) for name in TOTALS}


async def dashboard(request: web.Request) -> web.Response:
    who = await caller(request)
    board = await _read(request, who)
    locale, now = who.locale, request.app[API].clock()
    previous = board.previous
    return json_answer({
        "period": board.period, "start": board.start.isoformat(), "end": board.end.isoformat(),
        "totals": _totals(board.totals, locale),
        "previous": None if previous is None else _totals(previous, locale),
        "change": {name: change_json(change(getattr(board.totals, name),
                                            None if previous is None
                                            else getattr(previous, name)), locale)
                   for name in COMPARED},
        "balance": {"available": money_json(board.available, locale),
                    "held": money_json(board.held, locale),
                    "paid_out": money_json(board.paid_out, locale),
                    "total_earned": money_json(board.total_earned, locale),
                    "estimated": money_json(board.estimated_earned, locale)},
        # The chart's data, for a client that draws its own: exact amounts, no words (the
        # page shows the server's chart; wording 2×90 amounts would cost more than the rest).
        "days": [{"day": point.day.isoformat(), "volume": amount_text(point.volume),
                  "rebate": amount_text(point.rebate), "estimated": point.estimated}
                 for point in board.days],
        "exchanges": [{"id": card.exchange_id, "name": card.name,
                       "volume": money_json(card.volume, locale),
                       "rebate": money_json(card.rebate, locale),
                       "last_sync": moment_json(card.last_sync_at, locale),
                       "next_sync": moment_json(card.next_sync_at, locale),
                       "sync_text": plain(sync_line(who.t, card.status, now))}
                      for card in board.exchanges],
    })


async def chart(request: web.Request) -> web.Response:
    who = await caller(request)
    theme = _choice(request, "theme", THEMES, "light", who)
    board = await _read(request, who)
    # pygal lays out in Python: ~10 ms for 90 days, off the event loop all the same.
    svg = await asyncio.to_thread(render_chart, board.days, who.t, who.locale, theme)
    return web.Response(body=svg, headers={
        "Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=60",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff"})
