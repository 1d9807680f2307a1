"""OKX v5 affiliate: GET /api/v5/affiliate/invitee/list and /invitee/detail.

Docs (okx.com/docs-v5 "Affiliate"): invitee/list takes page, limit (<=100), periodType
(custom needs begin/end in ms, at most 90 days apart, begin not before now-180 d),
commissionCategory (SPOT | DERIVATIVE | BSC; none = all three); the response has a top-level
`totalPage`. Numbers are USDT strings. Envelope `{"code": "0", "msg": "", "data": [...]}`.
BSC is served for the traders the data set gives a "bsc" product (some OKX traders).

Window rule: begin and end are documented as inclusive. The docs do not say which time zone
OKX's daily figures follow; we count a day when its UTC start lies in [begin, end]. A row is a
total over the whole window with no day of its own, so the reading only matters at the edges:
the adapter asks one UTC day at a time ([00:00, 23:59:59.999]), windows that share no moment.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import SimTrader
from sandbox.exchanges.venues.common import (
    Handler,
    ParamError,
    Venue,
    day_ms,
    int_param,
    money,
    ms,
    ms_to_day,
    now_ms,
)

MAX_CUSTOM_MS = 90 * 86_400_000
OLDEST_MS = 180 * 86_400_000
CATEGORY = {
    "SPOT": {"spot"},
    "DERIVATIVE": {"futures"},
    "BSC": {"bsc"},
    "": {"spot", "futures", "bsc"},
}
# Not in ccxt's OKX error table (so it surfaces as a generic ExchangeError); code as in OKX's
# error list, "The user isn't your invitee" - unverified against the live API.
NOT_INVITEE = "51621"


class Okx(Venue):
    id = "okx"
    key_header = "OK-ACCESS-KEY"
    sign_header = "OK-ACCESS-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v5/affiliate/invitee/list", self.invitee_list),
            ("GET", "/api/v5/affiliate/invitee/detail", self.invitee_detail),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": "0", "msg": "", **extra, "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"code": code, "msg": message, "data": []}, status)

    def auth_error(self) -> web.Response:
        return self.error("50111", "Invalid OK-ACCESS-KEY", 401)

    def rate_limited(self, retry_after: float) -> web.Response:
        response = self.error("50011", "Too Many Requests", 429)
        response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    def param_error(self, message: str) -> web.Response:
        return self.error("51000", f"Parameter {message} error", 400)

    def authenticated(self, request: web.Request) -> bool:
        return super().authenticated(request) and bool(request.headers.get("OK-ACCESS-PASSPHRASE"))

    def _window(self, request: web.Request) -> tuple[date, date]:
        period = request.query.get("periodType", "total")
        end_day = self.data.end_day
        if period == "custom":
            begin, end = int_param(request, "begin"), int_param(request, "end")
            if begin is None or end is None or end < begin:
                raise ParamError("begin")
            if end - begin > MAX_CUSTOM_MS or begin < now_ms() - OLDEST_MS:
                raise ParamError("begin")
            first = ms_to_day(begin)
            # A day counts when its start lies inside [begin, end].
            if day_ms(first) < begin:
                first += timedelta(days=1)
            return first, ms_to_day(end)
        lengths = {"last_7d": 7, "last_30d": 30, "last_90d": 90}
        if period == "total":
            return date.min, end_day
        if period not in lengths:
            raise ParamError("periodType")
        return end_day - timedelta(days=lengths[period] - 1), end_day

    def _row(
        self, t: SimTrader, vol: Decimal, fee: Decimal, commission: Decimal
    ) -> dict[str, Any]:
        return {
            "uid": t.uid,
            "country": "",
            "joinTime": str(ms(t.registered_at)),
            "firstTradeTime": "",
            "channelName": "",
            "rebateRate": "0.4",
            "feeTierRank": "Lv1",
            "kycStatus": "1",
            "kycTime": "",
            "depAmt": "0",
            "totalVol": money(vol),
            "totalFee": money(fee),
            "totalCommission": money(commission),
            "isCompliant": True,
        }

    async def invitee_list(self, request: web.Request) -> web.Response:
        page = int_param(request, "page", 1) or 1
        limit = int_param(request, "limit", 100) or 100
        if not 1 <= limit <= 100:
            raise ParamError("limit")
        category = request.query.get("commissionCategory", "")
        if category not in CATEGORY:
            raise ParamError("commissionCategory")
        first, last = self._window(request)
        sums: dict[str, list[Decimal]] = {}
        for a in self.data.activity_between(self.id, first, last):
            if a.product in CATEGORY[category]:
                slot = sums.setdefault(a.uid, [Decimal(0)] * 3)
                slot[0] += a.volume
                slot[1] += a.fee
                slot[2] += a.commission
        keyword = request.query.get("keyword", "")
        traders = sorted(
            (t for t in self.data.traders.get(self.id, []) if keyword in t.uid),
            key=lambda t: t.uid,
        )
        chunk = traders[(page - 1) * limit : page * limit]
        zero = [Decimal(0)] * 3
        data = [self._row(t, *sums.get(t.uid, zero)) for t in chunk]
        return self.ok(data, totalPage=str(max(1, math.ceil(len(traders) / limit))))

    async def invitee_detail(self, request: web.Request) -> web.Response:
        uid = request.query.get("uid", "")
        if not uid:
            raise ParamError("uid")
        trader = self.data.find_trader(self.id, uid)
        if trader is None:
            return self.error(NOT_INVITEE, "The user isn't your invitee")
        totals = self.data.grand_totals(self.id)
        return self.ok(
            [
                {
                    "inviteeLevel": "2",
                    "joinTime": str(ms(trader.registered_at)),
                    "inviteeRebateRate": "0.4",
                    "totalCommission": money(totals.commission),
                    "firstTradeTime": "",
                    "level": "Lv1",
                    "depAmt": "0",
                    "wdAmt": "0",
                    "volMonth": "0",
                    "totalVol": "0",
                    "accFee": "0",
                    "kycTime": "",
                    "region": "",
                    "affiliateCode": "SIM",
                }
            ]
        )
