"""The trader's history: the per-day lines (volume → fee → commission → share = rebate), filtered
by exchange and dates and paged, and the CSV export of exactly those lines (every page).

The filters are read once (``_filters``) for both routes, so the file a trader downloads holds
the lines the page showed under the same filters, with the same figures."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from services.balances import HistoryLine
from services.formatting import percent
from webapp.api.common import (
    ApiError,
    Caller,
    amount_text,
    caller,
    json_answer,
    money_json,
    optional_money,
    plain,
    query_date,
    query_int,
)
from webapp.api.deps import API

PAGE_SIZE = 30
CSV_MAX_LINES = 100_000  # ~a trader on all eleven exchanges for 25 years


@dataclass(frozen=True)
class Filters:
    exchange_id: str | None
    start: date | None
    end: date | None

    def as_json(self) -> dict[str, str | None]:
        return {"exchange": self.exchange_id,
                "from": self.start.isoformat() if self.start else None,
                "to": self.end.isoformat() if self.end else None}


async def _filters(request: web.Request, who: Caller) -> Filters:
    deps = request.app[API]
    exchange_id = request.query.get("exchange", "").strip() or None
    if exchange_id is not None and (len(exchange_id) > 16
                                    or await deps.exchanges.get(exchange_id) is None):
        raise ApiError(400, "unknown_exchange", plain(who.t("api.error.unknown_exchange")),
                       "exchange")
    start, end = query_date(request, "from", who.t), query_date(request, "to", who.t)
    if start and end and start > end:
        raise ApiError(400, "bad_range", plain(who.t("api.error.bad_range")), "from")
    return Filters(exchange_id, start, end)


def _line(line: HistoryLine, locale: str) -> dict[str, Any]:
    share = line.share_percent.normalize()
    return {"day": line.day.isoformat(), "exchange_id": line.exchange_id,
            "exchange_name": line.exchange_name,
            "volume": optional_money(line.volume, locale), "fee": optional_money(line.fee, locale),
            "commission": money_json(line.gross, locale),
            "share_percent": f"{share:f}", "share_text": f"{percent(share, locale)}%",
            "rebate": money_json(line.rebate, locale), "estimated": line.estimated}


async def history(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    filters = await _filters(request, who)
    page_size = query_int(request, "page_size", who.t, PAGE_SIZE, 1, 200)
    page = query_int(request, "page", who.t, 1, 1, 1_000_000)
    result = await deps.balances.history(who.user.id, page, page_size,
                                         exchange_id=filters.exchange_id,
                                         start=filters.start, end=filters.end)
    totals, locale = result.totals, who.locale
    return json_answer({
        "lines": [_line(line, locale) for line in result.lines],
        "page": result.page, "pages": result.pages, "page_size": result.page_size,
        "totals": {"volume": money_json(totals.volume, locale),
                   "fee": money_json(totals.fee, locale),
                   "commission": money_json(totals.gross, locale),
                   "rebate": money_json(totals.rebate, locale), "lines": totals.lines},
        "filters": filters.as_json(),
        "exchanges": [{"id": e.id, "name": e.name} for e in await deps.exchanges.list()]})


CSV_COLUMNS = ("day", "exchange", "volume", "fee", "commission", "share", "rebate",
               "estimated")


def _csv_row(line: HistoryLine, estimated_word: str) -> list[str]:
    """Exact amounts (a dot, no grouping: what a spreadsheet reads back as the same number)."""
    return [line.day.isoformat(), line.exchange_name,
            "" if line.volume is None else amount_text(line.volume),
            "" if line.fee is None else amount_text(line.fee),
            amount_text(line.gross), amount_text(line.share_percent), amount_text(line.rebate),
            estimated_word if line.estimated else ""]


async def history_csv(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    filters = await _filters(request, who)
    lines = await deps.balances.history_lines(
        who.user.id, exchange_id=filters.exchange_id, start=filters.start, end=filters.end,
        limit=CSV_MAX_LINES)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([plain(who.t(f"api.csv.{column}")) for column in CSV_COLUMNS])
    estimated_word = plain(who.t("api.csv.estimated_mark"))
    writer.writerows(_csv_row(line, estimated_word) for line in lines)
    name = "-".join(["rebates", filters.exchange_id or "all",
                     *(d.isoformat() for d in (filters.start, filters.end) if d)])
    # A byte-order mark: spreadsheet programs then read the Russian headings as UTF-8.
    return web.Response(body=("\ufeff" + out.getvalue()).encode(), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}.csv"',
        "Cache-Control": "no-store"})
