"""Gate partner rebate API (v4): /api/v4/rebate/partner/{commission_history,sub_list}.

Field names from Gate's SDKs (gateapi-* docs, gateio-api types): commission_history takes
currency, user_id, from/to (unix seconds, at most 30 days apart; default last 7 days), limit,
offset -> {total, list[] {commission_time, user_id, group_name, commission_amount,
commission_asset, source (SPOT | FUTURES)}}; sub_list takes user_id, limit, offset -> {total,
list[] {user_id, user_join_time, type (1 sub-agent, 2 indirect, 3 direct customer)}}. No
envelope; errors are `{"label": ..., "message": ...}`. The limit maximum (1000) is assumed.

Window rule (not documented): from/to filter commission_time, both ends inclusive, the reading
most likely to overlap. commission_time is a moment (served at 01:00 UTC of the day paid for), so
its day is its UTC date, and windows that touch (to = next from - 1) never share a line.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from sandbox.exchanges.venues.common import Handler, ParamError, Venue, day_ms, int_param, money

MAX_RANGE_S = 30 * 86_400
SOURCE = {"spot": "SPOT", "futures": "FUTURES"}


class Gate(Venue):
    id = "gate"
    key_header = "KEY"
    sign_header = "SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v4/rebate/partner/commission_history", self.commission_history),
            ("GET", "/api/v4/rebate/partner/sub_list", self.sub_list),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json(data)

    def error(self, code: str, message: str, status: int = 400) -> web.Response:
        return self.json({"label": code, "message": message}, status)

    def auth_error(self) -> web.Response:
        return self.error("INVALID_KEY", "Invalid key provided", 401)

    def param_error(self, message: str) -> web.Response:
        return self.error("INVALID_PARAM_VALUE", message)

    def _paging(self, request: web.Request) -> tuple[int, int]:
        limit = int_param(request, "limit", 100) or 100
        offset = int_param(request, "offset", 0) or 0
        if not 1 <= limit <= 1000 or offset < 0:
            raise ParamError("limit/offset")
        return limit, offset

    async def commission_history(self, request: web.Request) -> web.Response:
        limit, offset = self._paging(request)
        now = int(time.time())
        end = int_param(request, "to", now) or now
        start = int_param(request, "from", end - 7 * 86_400) or 0
        if end < start or end - start > MAX_RANGE_S:
            raise ParamError("time range can not exceed 30 days")
        user = request.query.get("user_id")
        rows = []
        for a in sorted(self.data.activity.get(self.id, []), key=lambda a: (a.day, a.uid)):
            stamp = day_ms(a.day) // 1000 + 3600  # paid out at 01:00 UTC
            if start <= stamp <= end and (user is None or a.uid == user):
                rows.append(
                    {"commission_time": stamp, "user_id": int(a.uid), "group_name": "",
                     "commission_amount": money(a.commission), "commission_asset": "USDT",
                     "source": SOURCE[a.product]}
                )
        return self.ok({"total": len(rows), "list": rows[offset : offset + limit]})

    async def sub_list(self, request: web.Request) -> web.Response:
        limit, offset = self._paging(request)
        user = request.query.get("user_id")
        rows = [
            {"user_id": int(t.uid), "user_join_time": int(t.registered_at.timestamp()),
             "type": 3}
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if user is None or t.uid == user
        ]
        return self.ok({"total": len(rows), "list": rows[offset : offset + limit]})
