"""KuCoin affiliate (v2): queryInvitees and queryTransactionByTime.

Field names follow the SDK types (tiagosiebler/kucoin-api); KuCoin's own page was not read, so
the cursor shape (`lastId` + `direction`), the item `id`/`uid` and the window limit (we refuse
> 30 days) are assumptions. Envelope `{"code": "200000", "data": ...}`.

Window rule (not documented beyond "13-digit timestamp"): tradeStartAt/tradeEndAt filter each
trade's tradeTime, both ends inclusive, the reading most likely to overlap. Trades are moments,
so windows that touch (one ends at t, the next starts at t + 1 ms) never share one; a trade's day
is its UTC date.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import q8
from sandbox.exchanges.venues.common import (
    Handler,
    ParamError,
    Venue,
    day_ms,
    int_param,
    money,
    ms,
)

MAX_RANGE_MS = 30 * 86_400_000
TRADE_TYPE = {"spot": "SPOT", "futures": "FEATURE"}  # sic, as in KuCoin's SDK types


class KuCoin(Venue):
    id = "kucoin"
    key_header = "KC-API-KEY"
    sign_header = "KC-API-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v2/affiliate/queryInvitees", self.query_invitees),
            ("GET", "/api/v2/affiliate/queryTransactionByTime", self.by_time),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": "200000", "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"code": code, "msg": message}, status)

    def auth_error(self) -> web.Response:
        return self.error("400003", "KC-API-KEY not exists", 401)

    def param_error(self, message: str) -> web.Response:
        return self.error("400100", message, 400)

    def authenticated(self, request: web.Request) -> bool:
        return super().authenticated(request) and bool(request.headers.get("KC-API-PASSPHRASE"))

    async def query_invitees(self, request: web.Request) -> web.Response:
        page = int_param(request, "page", 1) or 1
        size = int_param(request, "pageSize", 10) or 10
        if not 1 <= size <= 500:
            raise ParamError("pageSize")
        start = int_param(request, "registrationStartAt")
        end = int_param(request, "registrationEndAt")
        uid = request.query.get("uid")
        traders = [
            t
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if (uid is None or t.uid == uid)
            and (start is None or ms(t.registered_at) >= start)
            and (end is None or ms(t.registered_at) <= end)
        ]
        chunk = traders[(page - 1) * size : page * size]
        items = [
            {
                "uid": t.uid,
                "nickName": "",
                "referralCode": "SIM",
                "country": "",
                "registrationTime": ms(t.registered_at),
                "completedKyc": True,
                "completedFirstDeposit": True,
                "completedFirstTrade": True,
                "past7dFees": "0",
                "past7dCommission": "0",
                "totalCommission": "0",
                "myCommissionRate": "0.4",
                "cashbackRate": "0",
                "currency": "USDT",
            }
            for t in chunk
        ]
        return self.ok(
            {
                "currentPage": page,
                "pageSize": size,
                "totalNum": len(traders),
                "totalPage": max(1, math.ceil(len(traders) / size)),
                "items": items,
            }
        )

    def _trades(self) -> list[dict[str, Any]]:
        """Two trades per activity (morning and evening), ids ascending by time."""
        trades: list[dict[str, Any]] = []
        for a in sorted(self.data.activity.get(self.id, []), key=lambda a: (a.day, a.uid)):
            first = (q8(a.volume / 2), q8(a.fee / 2), q8(a.commission / 2))
            rest = (a.volume - first[0], a.fee - first[1], a.commission - first[2])
            for hours, (volume, fee, commission) in ((2, first), (14, rest)):
                trades.append(
                    {
                        "id": str(len(trades) + 1),
                        "uid": a.uid,
                        "tradeTime": day_ms(a.day) + hours * 3_600_000,
                        "tradeType": TRADE_TYPE[a.product],
                        "tradeCurrency": "USDT",
                        "tradeAmount": money(volume),
                        "tradeAmountU": money(volume),
                        "feeU": money(fee),
                        "commission": money(commission),
                        "currency": "USDT",
                    }
                )
        return trades

    async def by_time(self, request: web.Request) -> web.Response:
        start = int_param(request, "tradeStartAt")
        end = int_param(request, "tradeEndAt")
        if start is None or end is None or end < start or end - start > MAX_RANGE_MS:
            raise ParamError("tradeStartAt/tradeEndAt required, at most 30 days apart")
        size = int_param(request, "pageSize", 100) or 100
        if not 1 <= size <= 500:
            raise ParamError("pageSize")
        last_id = int_param(request, "lastId", 0) or 0
        if request.query.get("direction", "NEXT") != "NEXT":
            raise ParamError("direction")
        items = [
            t for t in self._trades()
            if start <= int(t["tradeTime"]) <= end and int(t["id"]) > last_id
        ][:size]
        return self.ok({"items": items, "pageSize": size})


