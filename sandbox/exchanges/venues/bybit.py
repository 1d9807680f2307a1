"""Bybit v5 affiliate: GET /v5/affiliate/aff-user-list (volume per invitee, no commission).

Docs: bybit-exchange/docs docs/v5/affiliate/affiliate-info.mdx. `size` 0..1000, `cursor` /
`nextPageCursor` ("" on the last page), `startDate`/`endDate` YYYY-MM-DD give tradeVol etc.
for that window. Envelope `{"retCode": 0, "retMsg": "", "result": ..., "retExtInfo": {}, "time"}`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.venues.common import Handler, ParamError, Venue, int_param, money, now_ms


class Bybit(Venue):
    id = "bybit"
    key_header = "X-BAPI-API-KEY"
    sign_header = "X-BAPI-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/v5/affiliate/aff-user-list", self.aff_user_list)]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json(
            {"retCode": 0, "retMsg": "", "result": data, "retExtInfo": {}, "time": now_ms()}
        )

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json(
            {"retCode": int(code), "retMsg": message, "result": {}, "retExtInfo": {},
             "time": now_ms()},
            status,
        )

    def auth_error(self) -> web.Response:
        return self.error("10003", "API key is invalid.", 401)

    def param_error(self, message: str) -> web.Response:
        return self.error("10001", message)

    def malformed_body(self) -> str:
        return '{"retCode":0,"retMsg":"","result":{"list":[{"userId":"1'

    async def aff_user_list(self, request: web.Request) -> web.Response:
        size = int_param(request, "size", 20) or 20
        if not 0 <= size <= 1000:
            raise ParamError("size must be in [0, 1000]")
        cursor = int_param(request, "cursor", 0) or 0
        try:
            start = date.fromisoformat(request.query.get("startDate", ""))
            end = date.fromisoformat(request.query.get("endDate", ""))
        except ValueError:
            start, end = self.data.first_day, self.data.end_day  # stand-in for "last 30 days"
        if end < start:
            raise ParamError("endDate must not be before startDate")
        traders = sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
        volume: dict[str, Decimal] = {}
        for a in self.data.activity_between(self.id, start, end):
            volume[a.uid] = volume.get(a.uid, Decimal(0)) + a.volume
        page = traders[cursor : cursor + size]
        rows = []
        for t in page:
            vol = volume.get(t.uid, Decimal(0))
            taker = (vol * Decimal("0.6")).quantize(Decimal("0.00000001"))
            rows.append(
                {
                    "userId": t.uid,
                    "registerTime": t.registered_at.date().isoformat(),
                    "source": "aff_sim_1",
                    "remarks": "",
                    "isKyc": True,
                    "takerVol30Day": "",
                    "makerVol30Day": "",
                    "tradeVol30Day": "",
                    "depositAmount30Day": "",
                    "takerVol365Day": "",
                    "makerVol365Day": "",
                    "tradeVol365Day": "",
                    "depositAmount365Day": "",
                    "takerVol": money(taker),
                    "makerVol": money(vol - taker),
                    "tradeVol": money(vol),
                    "startDate": start.isoformat(),
                    "endDate": end.isoformat(),
                }
            )
        following = cursor + size
        return self.ok(
            {"list": rows, "nextPageCursor": str(following) if following < len(traders) else ""}
        )
