"""MEXC spot v3 affiliate: /api/v3/rebate/affiliate/commission/detail and /referral.

Docs (mexc.com/api-docs/spot-v3 rebate endpoints): commission/detail takes startTime/endTime
(ms, at most 30 days; default T-7..T), type (1 spot, 2 futures, 3 ETF), page, pageSize ->
data{totalCommissionUsdtAmount, totalTradeUsdtAmount, pageSize, totalCount, totalPage,
currentPage, resultList[]}. referral takes startTime/endTime (registration), uid, page,
pageSize (default 10; default window T-7..T). Envelope `{"success": true, "code": 0,
"message": null, "data": ...}`. The error code for a too-long window is our invention.

commission/detail's `date` ("trade date") is stamped as the day's midnight in UTC+8, 16:00 UTC
the day before, as in the docs' example (1689264000000) - MEXC settles T+1 on UTC+8. The docs do
not say how startTime/endTime meet that stamp: we take the widest reading, whole UTC days with
both ends inclusive (`common.on_utc_days`), the rule Bitget's live API showed. A query for days
D1..D2 sent as [00:00 UTC - 8 h of D1, 23:59:59.999 UTC - 8 h of D2] then also returns D2 + 1.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.venues.common import (
    Handler,
    ParamError,
    Venue,
    int_param,
    money,
    ms,
    now_ms,
    on_utc_days,
    utc8_day_ms,
)

MAX_RANGE_MS = 30 * 86_400_000
WEEK_MS = 7 * 86_400_000
TYPES = {"1": "spot", "2": "futures", "3": "etf"}
MAX_PAGE_SIZE = 100


class Mexc(Venue):
    id = "mexc"
    key_header = "X-MEXC-APIKEY"
    sign_query = "signature"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v3/rebate/affiliate/commission/detail", self.commission_detail),
            ("GET", "/api/v3/rebate/affiliate/referral", self.referral),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"success": True, "code": 0, "message": None, "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"success": False, "code": int(code), "msg": message}, status)

    def auth_error(self) -> web.Response:
        return self.error("700002", "Signature for this request is not valid.", 401)

    def param_error(self, message: str) -> web.Response:
        return self.error("700004", message, 400)

    def _window(self, request: web.Request) -> tuple[int, int]:
        end = int_param(request, "endTime", now_ms())
        start = int_param(request, "startTime", (end or now_ms()) - WEEK_MS)
        assert start is not None and end is not None
        return start, end

    def _paging(self, request: web.Request) -> tuple[int, int]:
        page = int_param(request, "page", 1) or 1
        size = int_param(request, "pageSize", 10) or 10
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ParamError("pageSize out of range")
        return page, size

    async def commission_detail(self, request: web.Request) -> web.Response:
        start, end = self._window(request)
        if end < start or end - start > MAX_RANGE_MS:
            raise ParamError("The time range cannot exceed 30 days")
        kind = request.query.get("type")
        if kind is not None and kind not in TYPES:
            raise ParamError("type")
        page, size = self._paging(request)
        rows = []
        activity = sorted(self.data.activity.get(self.id, []), key=lambda a: (a.day, a.uid))
        for a in activity:
            stamp = utc8_day_ms(a.day)
            if kind is not None and TYPES[kind] != a.product:
                continue
            if not on_utc_days(stamp, start, end):
                continue
            type_code = next(code for code, name in TYPES.items() if name == a.product)
            taker = (a.volume * Decimal("0.6")).quantize(Decimal("0.00000001"))
            rows.append(
                {
                    "type": int(type_code),
                    "sourceType": 1,
                    "state": 2,
                    "date": stamp,
                    "uid": a.uid,
                    "rate": "0.4",
                    "symbol": "BTC_USDT" if a.product == "spot" else "BTC_USDT_PERP",
                    "takerAmount": money(taker),
                    "makerAmount": money(a.volume - taker),
                    "amountCurrency": "USDT",
                    "usdtAmount": money(a.volume),
                    "commission": money(a.commission),
                    "currency": "USDT",
                }
            )
        chunk = rows[(page - 1) * size : page * size]
        total_commission = sum((Decimal(str(r["commission"])) for r in rows), Decimal(0))
        total_volume = sum((Decimal(str(r["usdtAmount"])) for r in rows), Decimal(0))
        return self.ok(
            {
                "totalCommissionUsdtAmount": money(total_commission),
                "totalTradeUsdtAmount": money(total_volume),
                "pageSize": size,
                "totalCount": len(rows),
                "totalPage": max(1, math.ceil(len(rows) / size)),
                "currentPage": page,
                "resultList": chunk,
            }
        )

    async def referral(self, request: web.Request) -> web.Response:
        start, end = self._window(request)
        page, size = self._paging(request)
        uid = request.query.get("uid")
        traders = [
            t
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if start <= ms(t.registered_at) <= end and (uid is None or t.uid == uid)
        ]
        chunk = traders[(page - 1) * size : page * size]
        return self.ok(
            {
                "pageSize": size,
                "totalCount": len(traders),
                "totalPage": max(1, math.ceil(len(traders) / size)),
                "currentPage": page,
                "resultList": [
                    {
                        "uid": t.uid,
                        "nickName": None,
                        "email": "",
                        "registerTime": ms(t.registered_at),
                        "inviteCode": "mexc-sim",
                        "depositAmount": "0.00000000",
                        "tradingAmount": "0.00000000",
                        "commission": "0.00000000",
                        "firstDepositTime": None,
                        "firstTradeTime": None,
                        "lastDepositTime": None,
                        "lastTradeTime": None,
                        "withdrawAmount": "0.00000000",
                        "asset": "0 USDT",
                        "identification": 1,
                    }
                    for t in chunk
                ],
            }
        )


