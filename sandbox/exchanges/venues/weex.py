"""Weex affiliate (ccxt paths /api/v3/rebate/affiliate/*; Weex's docs show /api/v2).

Docs (weex.com api-doc spot/rebate-endpoints, via mirrors): getAffiliateUIDs - uid, startTime,
endTime, page, pageSize (<= 100) -> data{pages, pageSize, total, channelUserInfoItemList[]};
getAffiliateCommission - uid, startTime/endTime (default 7 days, at most 3 months), coin,
productType (SPOT | FUTURES), page, pageSize -> data{pages, pageSize, total,
channelCommissionInfoItems[] {uid, dealTime, coin, fee, commission, rate, symbol, sourceType,
takerAmount, makerAmount}}. Envelope `{"code": "200", "msg": "success", "data": ...}`.
UNVERIFIED: whether v3 answers like the v2 docs, and dealTime's format (ms served here).

Window rule: startTime/endTime are "timestamps in UTC (milliseconds)" filtering dealTime; the
docs do not say whether the ends are inclusive, so both are (the reading most likely to
overlap). dealTime is a moment (the docs' example 1755687731913 is 11:02 UTC), so its day is its
UTC date; we serve each day's lines at that day's UTC midnight, exactly on a window's first
millisecond. Windows that touch never share a moment.
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
    day_ms,
    int_param,
    money,
    ms,
    now_ms,
)

MAX_RANGE_MS = 92 * 86_400_000  # "3 months"
WEEK_MS = 7 * 86_400_000
PRODUCT = {"SPOT": "spot", "FUTURES": "futures"}


class Weex(Venue):
    id = "weex"
    key_header = "ACCESS-KEY"
    sign_header = "ACCESS-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        base = "/api/v3/rebate/affiliate"
        return [
            ("GET", f"{base}/getAffiliateUIDs", self.affiliate_uids),
            ("GET", f"{base}/getAffiliateCommission", self.affiliate_commission),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": "200", "msg": "success", "requestTime": now_ms(), "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"code": code, "msg": message, "requestTime": now_ms()}, status)

    def auth_error(self) -> web.Response:
        return self.error("-1044", "Invalid ACCESS_KEY.", 401)

    def param_error(self, message: str) -> web.Response:
        return self.error("40017", message, 400)

    def _paging(self, request: web.Request) -> tuple[int, int]:
        page = int_param(request, "page", 1) or 1
        size = int_param(request, "pageSize", 100) or 100
        if not 1 <= size <= 100:
            raise ParamError("pageSize")
        return page, size

    @staticmethod
    def _page(
        items: list[dict[str, Any]], page: int, size: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        meta = {"pages": max(1, math.ceil(len(items) / size)), "pageSize": size,
                "total": len(items)}
        return meta, items[(page - 1) * size : page * size]

    async def affiliate_uids(self, request: web.Request) -> web.Response:
        page, size = self._paging(request)
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        uid = request.query.get("uid")
        items = [
            {"uid": t.uid, "registerTime": ms(t.registered_at), "kycResult": True,
             "inviteCode": "SIM", "firstDeposit": True, "firstTrade": True}
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if (uid is None or t.uid == uid)
            and (start is None or ms(t.registered_at) >= start)
            and (end is None or ms(t.registered_at) <= end)
        ]
        meta, chunk = self._page(items, page, size)
        return self.ok({**meta, "channelUserInfoItemList": chunk})

    async def affiliate_commission(self, request: web.Request) -> web.Response:
        page, size = self._paging(request)
        end = int_param(request, "endTime", now_ms()) or now_ms()
        start = int_param(request, "startTime", end - WEEK_MS) or 0
        if end < start or end - start > MAX_RANGE_MS:
            raise ParamError("time range exceeds 3 months")
        product_type = request.query.get("productType")
        if product_type is not None and product_type not in PRODUCT:
            raise ParamError("productType")
        items = []
        for a in sorted(self.data.activity.get(self.id, []), key=lambda a: (a.day, a.uid)):
            if not start <= day_ms(a.day) <= end:
                continue
            if product_type is not None and PRODUCT[product_type] != a.product:
                continue
            taker = (a.volume * Decimal("0.6")).quantize(Decimal("0.00000001"))
            items.append(
                {"uid": a.uid, "dealTime": day_ms(a.day), "coin": "USDT", "fee": money(a.fee),
                 "commission": money(a.commission), "rate": "0.4",
                 "symbol": "BTCUSDT" if a.product == "spot" else "cmt_btcusdt",
                 "sourceType": 1, "takerAmount": money(taker),
                 "makerAmount": money(a.volume - taker)}
            )
        meta, chunk = self._page(items, page, size)
        return self.ok({**meta, "channelCommissionInfoItems": chunk})
