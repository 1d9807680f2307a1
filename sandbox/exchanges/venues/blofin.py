"""BloFin affiliate: GET /api/v1/affiliate/invitees and /invitees/daily/info.

Docs (blofin/blofin-api-docs "Affiliate"): invitees - uid, after/before (by `id`), begin/end
(registration, ms), limit (default 10, max 200) -> data[] {id, uid, registerTime, totals...};
invitees/daily/info - uid (required), begin, end (ms), limit <= 100 -> data[] per day
{uid, commission, commissionTime, cashback, fee, kycLevel, tradingVolume} (futures, USDT).
Envelope `{"code": "0", "msg": "success", "data": [...]}` (the docs' `200` example would be an
error to ccxt). Newest first, `after` = older than that id, as is usual for BloFin.

daily/info's `commissionTime` is stamped as the day's midnight in UTC+8 (16:00 UTC the day
before), as in the docs' example (1716912000000 = 2024-05-29 00:00 UTC+8). The docs only say
begin/end "filter with a timestamp": we take the widest reading, whole UTC days with both ends
inclusive (`common.on_utc_days`), so [00:00 UTC - 8 h of D1, 23:59:59.999 UTC - 8 h of D2]
returns D1..D2 and D2 + 1. Without begin/end there is no bound.
"""

from __future__ import annotations

from datetime import date
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
    on_utc_days,
    utc8_day_ms,
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
        begin, end = int_param(request, "begin"), int_param(request, "end")
        per_day: dict[date, list[Decimal]] = {}
        for a in self.data.activity.get(self.id, []):
            if a.uid == uid and on_utc_days(utc8_day_ms(a.day), begin, end):
                slot = per_day.setdefault(a.day, [Decimal(0)] * 3)
                slot[0] += a.volume
                slot[1] += a.fee
                slot[2] += a.commission
        rows = [
            {
                "uid": uid,
                "commission": money(commission),
                "commissionTime": str(utc8_day_ms(day)),
                "cashback": "0",
                "fee": money(fee),
                "kycLevel": "1",
                "tradingVolume": money(volume),
            }
            for day, (volume, fee, commission) in sorted(per_day.items(), reverse=True)
        ][:limit]
        return self.ok(rows)
