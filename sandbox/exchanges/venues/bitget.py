"""Bitget v2 affiliate ("broker" section): customer-commissions and customer-list.

Docs (bitget api-doc "Affiliate"): GET /api/v2/broker/customer-commissions - startTime/endTime
(ms, at most 90 days apart; default yesterday), idLessThan cursor, limit <= 1000 -> data.endId +
data.commissionList[] with one row per uid / day / coin / symbol; `date` is the "commission return
date (UTC+8)", stamped as the day's midnight in UTC+8, i.e. 16:00 UTC the day before (the docs'
example: 1694275200000). POST /api/v2/broker/customer-list (JSON body: startTime, endTime,
pageNo, pageSize <= 1000, uid) -> data[] {uid, registerTime}.
Envelope `{"code": "00000", "msg": "success", "requestTime": ms, "data": ...}`.

Window rule (the docs do not say how startTime/endTime meet `date`): the widest reading, which
is also what the live API did (issue 9) - whole UTC days, both ends inclusive: a query returns
every line whose `date` falls on the UTC date of startTime through the UTC date of endTime (see
`common.on_utc_days`). A query for days D1..D2 sent as [00:00 UTC - 8 h of D1, 23:59:59.999 UTC -
8 h of D2] so returns D1..D2 and also D2 + 1 (stamped 16:00 UTC on D2), which the next window
returns again. Without startTime/endTime: yesterday (UTC+8) only, as documented.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import q8
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

MAX_RANGE_MS = 90 * 86_400_000
PRODUCT_TYPE = {"spot": "SPOT", "futures": "USDT-FUTURES"}


class Bitget(Venue):
    id = "bitget"
    key_header = "ACCESS-KEY"
    sign_header = "ACCESS-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v2/broker/customer-commissions", self.customer_commissions),
            ("POST", "/api/v2/broker/customer-list", self.customer_list),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json(
            {"code": "00000", "msg": "success", "requestTime": now_ms(), "data": data}
        )

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json(
            {"code": code, "msg": message, "requestTime": now_ms(), "data": None}, status
        )

    def auth_error(self) -> web.Response:
        return self.error("40037", "Apikey does not exist", 400)

    def param_error(self, message: str) -> web.Response:
        return self.error("40017", f"Parameter verification failed: {message}", 400)

    def authenticated(self, request: web.Request) -> bool:
        return super().authenticated(request) and bool(request.headers.get("ACCESS-PASSPHRASE"))

    def _rows(self) -> list[dict[str, Any]]:
        """All commission lines, each activity split over two symbols, ids ascending."""
        rows: list[dict[str, Any]] = []
        activity = sorted(self.data.activity.get(self.id, []), key=lambda a: (a.day, a.uid))
        for a in activity:
            stamp = utc8_day_ms(a.day)
            pairs = ("BTCUSDT", "ETHUSDT")
            share = Decimal("0.7")
            first = (q8(a.volume * share), q8(a.fee * share), q8(a.commission * share))
            rest = (a.volume - first[0], a.fee - first[1], a.commission - first[2])
            for symbol, (volume, fee, commission) in zip(pairs, (first, rest), strict=True):
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "uid": a.uid,
                        "date": str(stamp),
                        "coin": "USDT",
                        "symbol": symbol,
                        "productType": PRODUCT_TYPE.get(a.product, a.product.upper()),
                        "dealAmount": money(volume),
                        "fee": money(fee),
                        "feeDeduction": "0",
                        "feePaid": money(fee),
                        "rebateAmount": money(commission),
                    }
                )
        return rows

    async def customer_commissions(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 100) or 100
        if not 1 <= limit <= 1000:
            raise ParamError("limit")
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        if (start is None) != (end is None):
            raise ParamError("startTime and endTime go together")
        if start is None or end is None:
            yesterday = utc8_day_ms(self.data.end_day)

            def wanted(stamp: int) -> bool:
                return stamp == yesterday
        else:
            if end < start or end - start > MAX_RANGE_MS:
                raise ParamError("startTime/endTime range must be within 90 days")
            first, last = start, end

            def wanted(stamp: int) -> bool:
                return on_utc_days(stamp, first, last)
        before = int_param(request, "idLessThan")
        uid = request.query.get("uid")
        rows = [
            r for r in reversed(self._rows())  # newest first, as Bitget pages with idLessThan
            if wanted(int(r["date"]))
            and (before is None or r["id"] < before)
            and (uid is None or r["uid"] == uid)
        ][:limit]
        end_id = str(rows[-1]["id"]) if rows else ""
        for r in rows:
            r["id"] = str(r["id"])
        return self.ok({"endId": end_id, "commissionList": rows})

    async def customer_list(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError as exc:
            raise ParamError("body") from exc
        page_no = int(body.get("pageNo", 1))
        page_size = int(body.get("pageSize", 100))
        if not 1 <= page_size <= 1000:
            raise ParamError("pageSize")
        start = int(body["startTime"]) if body.get("startTime") else None
        end = int(body["endTime"]) if body.get("endTime") else None
        uid = body.get("uid")
        traders = [
            t
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if (uid is None or t.uid == uid)
            and (start is None or ms(t.registered_at) >= start)
            and (end is None or ms(t.registered_at) <= end)
        ]
        chunk = traders[(page_no - 1) * page_size : page_no * page_size]
        return self.ok([{"uid": t.uid, "registerTime": str(ms(t.registered_at))} for t in chunk])



