"""The trader's dashboard: a period's totals against the previous period, the balances and a
card per exchange with its sync line (so an empty day is explained); and the chart of the
period's days (webapp/api/chart.py). The figures are services.dashboard's, worded here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.dashboard import PERIODS, Dashboard, ExchangeCard, change
from services.sync import ExchangeStatusDTO
from services.sync.wording import sync_line
from webapp.api.chart import THEMES, render_chart
from webapp.api.common import (
    USERS,
    ApiError,
    Caller,
    caller,
    caller_as,
    change_json,
    json_answer,
    moment_json,
    money_json,
    plain,
)
from webapp.api.deps import API
from webapp.auth import identity_of

DEFAULT_PERIOD = "30d"
TOTALS = ("volume", "fee", "commission", "rebate", "estimated")
COMPARED = ("volume", "fee", "commission", "rebate")


async def _choice(request: web.Request, name: str, choices: tuple[str, ...],
                  default: str) -> str:
    """The query's ``name``, one of ``choices``; else a 400 in the reader's language (looked up
    for the refusal only: a good request reads who asks with its figures)."""
    value = request.query.get(name, default)
    if value not in choices:
        who = await caller(request)
        raise ApiError(400, f"bad_{name}", plain(who.t(
            "api.error.bad_choice", field=name, choices=", ".join(choices))), name)
    return value


async def _read(request: web.Request) -> tuple[Caller, Dashboard]:
    """Who asks and their dashboard, read together (services.dashboard: one statement)."""
    deps = request.app[API]
    period = await _choice(request, "period", PERIODS, DEFAULT_PERIOD)
    identity = identity_of(request)
    today = deps.clock().astimezone(UTC).date()
    read = await deps.dashboard.read(identity.user_id, period, today)
    who = caller_as(request, identity, None if read is None else read[0])  # unknown: refused
    assert read is not None
    request.app[USERS].remember(who.user)  # for the screens the Mini App asks for next
    return who, read[1]


async def dashboard(request: web.Request) -> web.Response:
    """The period's totals and their change against the period before (the previous totals
    themselves are not sent: the page shows the change only, and each amount worded is a
    good part of this answer's time under load, bench/bench_miniapp.py)."""
    who, board = await _read(request)
    locale, now = who.locale, request.app[API].clock()
    totals, previous = board.totals, board.previous
    return json_answer({
        "period": board.period, "start": board.start.isoformat(), "end": board.end.isoformat(),
        "totals": {name: money_json(getattr(totals, name), locale) for name in TOTALS},
        "change": {name: change_json(change(getattr(totals, name),
                                            None if previous is None
                                            else getattr(previous, name)), locale)
                   for name in COMPARED},
        "balance": {"available": money_json(board.available, locale),
                    "held": money_json(board.held, locale),
                    "paid_out": money_json(board.paid_out, locale),
                    "total_earned": money_json(board.total_earned, locale),
                    "estimated": money_json(board.estimated_earned, locale)},
        "exchanges": [{"id": card.exchange_id, "name": card.name,
                       "volume": money_json(card.volume, locale),
                       "rebate": money_json(card.rebate, locale),
                       **_sync_json(card, who, now)}
                      for card in board.exchanges],
    })


# An exchange's sync words are the same for every reader of a language in the same second
# (the statuses themselves are kept for seconds, services/dashboard.py): worded once a second
# rather than once a card (they were a tenth of a dashboard answer's time under load). Keyed by
# the status object's identity, kept beside the words so that a reused id never matches:
# hashing the status's nine fields cost as much as the wording saved.
_SYNC_WORDS: dict[tuple[int, str, int], tuple[ExchangeStatusDTO, dict[str, Any]]] = {}
_SYNC_WORDS_KEPT = 1024


def _sync_json(card: ExchangeCard, who: Caller, now: datetime) -> dict[str, Any]:
    key = (id(card.status), who.locale, int(now.timestamp()))
    kept = _SYNC_WORDS.get(key)
    if kept is not None and kept[0] is card.status:
        return kept[1]
    if len(_SYNC_WORDS) >= _SYNC_WORDS_KEPT:
        _SYNC_WORDS.clear()
    words = {"last_sync": moment_json(card.last_sync_at, who.locale),
             "next_sync": moment_json(card.next_sync_at, who.locale),
             "sync_text": plain(sync_line(who.t, card.status, now))}
    _SYNC_WORDS[key] = (card.status, words)
    return words


async def chart(request: web.Request) -> web.Response:
    deps = request.app[API]
    who = await caller(request)
    theme = await _choice(request, "theme", THEMES, "light")
    period = await _choice(request, "period", PERIODS, DEFAULT_PERIOD)
    days = await deps.dashboard.days(who.user.id, period, deps.clock().astimezone(UTC).date())
    # pygal lays out in Python: ~10 ms for 90 days, off the event loop all the same.
    svg = await asyncio.to_thread(render_chart, days, who.t, who.locale, theme)
    return web.Response(body=svg, headers={
        "Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=60",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff"})
