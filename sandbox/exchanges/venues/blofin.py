"""BloFin affiliate: GET /api/v1/affiliate/invitees and /invitees/daily/info.

Docs (blofin/blofin-api-docs "Affiliate"): invitees - uid, after/before (by `id`), begin/end
(registration, ms), limit (default 10, max 200) -> data[] {id, uid, registerTime, totals...};
invitees/daily/info - uid (required), begin, end (ms), limit <= 100 -> data[] per day
{uid, commission, commissionTime, cashback, fee, kycLevel, tradingVolume} (futures, USDT).
Envelope `{"code": "0", "msg": "success", "data": [...]}` (the docs' `200` example would be an
error to ccxt). Newest first, `after` = older than that id, as is usual for BloFin.
"""

from __future__ import annotations

from datetime import timedelta
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
    ms_to_day,
)


class BloFin(Venue):
    id = "blofin"
    key_header = "ACCESS-KEY"
    sign_header = "ACCESS-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v1/affiliate/invitees", self.invitees),
            ("GET", "/api/v1/affiliate/invitees/daily/info", self.daily_info),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": "0", "msg": "success", "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"code": code, "msg": message, "data": None}, status)

    def auth_error(self) -> web.Response:
        return self.error("401", "Invalid signature", 401)

    def rate_limited(self, retry_after: float) -> web.Response:
        response = self.error("429", "Too Many Requests", 429)
        response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    def param_error(self, message: str) -> web.Response:
        return self.error("152002", f"Parameter {message} error", 400)

    def authenticated(self, request: web.Request) -> bool:
        return super().authenticated(request) and bool(request.headers.get("ACCESS-PASSPHRASE"))

    async def invitees(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 10) or 10
        if not 1 <= limit <= 200:
            raise ParamError("limit")
        after = int_param(request, "after")
        begin, end = int_param(request, "begin"), int_param(request, "end")
        uid = request.query.get("uid")
        traders = sorted(self.data.traders.get(self.id, []), key=lambda t: t.registered_at)
        numbered = list(enumerate(traders, start=1))  # id grows with registration
        rows = [
            {
                "id": ident,
                "uid": t.uid,
                "registerTime": str(ms(t.registered_at)),
                "totalTradingVolume": "0",
                "totalTradingFee": "0",
                "totalCommision": "0",  # sic, as in BloFin's docs
                "totalDeposit": "0",
                "totalWithdrawal": "0",
                "kycLevel": "1",
                "referralCode": "SIM",
            }
            for ident, t in reversed(numbered)
            if (uid is None or t.uid == uid)
            and (after is None or ident < after)
            and (begin is None or ms(t.registered_at) >= begin)
            and (end is None or ms(t.registered_at) <= end)
        ][:limit]
        return self.ok(rows)

    async def daily_info(self, request: web.Request) -> web.Response:
        uid = request.query.get("uid")
        if not uid:
            raise ParamError("uid")
        limit = int_param(request, "limit", 100) or 100
        if not 1 <= limit <= 100:
            raise ParamError("limit")
        begin = int_param(request, "begin", day_ms(self.data.first_day))
        end = int_param(request, "end", day_ms(self.data.end_day + timedelta(days=1)))
        assert begin is not None and end is not None
        per_day: dict[Any, list[Decimal]] = {}
        for a in self.data.activity_between(self.id, ms_to_day(begin), ms_to_day(end)):
            if a.uid == uid and begin <= day_ms(a.day) <= end:
                slot = per_day.setdefault(a.day, [Decimal(0)] * 3)
                slot[0] += a.volume
                slot[1] += a.fee
                slot[2] += a.commission
        rows = [
            {
                "uid": uid,
                "commission": money(commission),
                "commissionTime": str(day_ms(day)),
                "cashback": "0",
                "fee": money(fee),
                "kycLevel": "1",
                "tradingVolume": money(volume),
            }
            for day, (volume, fee, commission) in sorted(per_day.items(), reverse=True)
        ][:limit]
        return self.ok(rows)
