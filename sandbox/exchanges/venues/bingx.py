"""BingX agent (affiliate) API under /openApi/agent/.

Docs (BingX agent reference): v1 account/inviteAccountList - pageIndex, pageSize, startTime/
endTime (ms, <= 30 days, or neither for all) -> data{list[], total, currentAgentUid};
v1 account/inviteRelationCheck - uid -> data{uid, inviteResult, registerDateTime, ...};
v2 reward/commissionDataList - startTime/endTime as yyyyMMdd (<= 30 days, within the last
365 days), pageIndex, pageSize <= 100, uid -> data{list[] per uid and day with per-line
spot/swap/std/extCopy/mt5 trading and commission volumes (USDT), total}.
Envelope `{"code": 0, "msg": "", "timestamp": ms, "data": ...}`.

Window rule: startTime/endTime are whole days, both ends inclusive, so consecutive windows
never share a day. Neither the time zone of those days nor `commissionTime`'s format is
documented: we serve `commissionTime` as the day's midnight in UTC+8 in ms (16:00 UTC the day
before; BingX settles on UTC+8), the reading under which an adapter that took the stamp's UTC
date would file every day one day early.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
    utc8_day_ms,
)

MAX_RANGE_MS = 30 * 86_400_000
MAX_DAYS = 30
LINES = {"spot": "spot", "futures": "swap"}


def _yyyymmdd(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError as exc:
        raise ParamError("startTime/endTime must be yyyyMMdd") from exc


class BingX(Venue):
    id = "bingx"
    key_header = "X-BX-APIKEY"
    sign_query = "signature"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/openApi/agent/v1/account/inviteAccountList", self.invite_account_list),
            ("GET", "/openApi/agent/v1/account/inviteRelationCheck", self.invite_relation_check),
            ("GET", "/openApi/agent/v2/reward/commissionDataList", self.commission_data_list),
        ]

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": 0, "msg": "", "timestamp": now_ms(), "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"code": int(code), "msg": message, "timestamp": now_ms()}, status)

    def auth_error(self) -> web.Response:
        return self.error("100001", "Signature verification failed")

    def param_error(self, message: str) -> web.Response:
        return self.error("100400", message)

    def _paging(self, request: web.Request, max_size: int) -> tuple[int, int]:
        page = int_param(request, "pageIndex", 1) or 1
        size = int_param(request, "pageSize", 10) or 10
        if not 1 <= size <= max_size:
            raise ParamError("pageSize")
        return page, size

    async def invite_account_list(self, request: web.Request) -> web.Response:
        page, size = self._paging(request, 200)
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        if (start is None) != (end is None):
            raise ParamError("startTime and endTime go together")
        if start is not None and end is not None and not 0 <= end - start <= MAX_RANGE_MS:
            raise ParamError("time range must be within 30 days")
        traders = [
            t
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if start is None or end is None or start <= ms(t.registered_at) <= end
        ]
        chunk = traders[(page - 1) * size : page * size]
        rows = [
            {
                "uid": int(t.uid),
                "ownInviteCode": "",
                "inviterSid": 1,
                "InvitationCode": "SIMCODE",
                "registerTime": ms(t.registered_at),
                "directInvitation": True,
                "kycResult": "true",
                "deposit": True,
                "balanceVolume": "0",
                "trade": True,
                "userLevel": 1,
                "commissionRatio": 40,
            }
            for t in chunk
        ]
        return self.ok({"list": rows, "total": len(traders), "currentAgentUid": 1})

    async def invite_relation_check(self, request: web.Request) -> web.Response:
        uid = request.query.get("uid", "")
        if not uid:
            raise ParamError("uid")
        trader = self.data.find_trader(self.id, uid)
        return self.ok(
            {
                "uid": int(uid),
                "inviteResult": trader is not None,
                "directInvitation": trader is not None,
                "inviterSid": 1 if trader else 0,
                "registerDateTime": ms(trader.registered_at) if trader else None,
                "deposit": bool(trader),
                "kycResult": "true" if trader else "false",
                "trade": bool(trader),
            }
        )

    async def commission_data_list(self, request: web.Request) -> web.Response:
        page, size = self._paging(request, 100)
        first = _yyyymmdd(request.query.get("startTime", ""))
        last = _yyyymmdd(request.query.get("endTime", ""))
        if last < first or (last - first).days + 1 > MAX_DAYS:
            raise ParamError("the query range cannot exceed 30 days")
        if first < self.data.end_day - timedelta(days=365):
            raise ParamError("only the last 365 days can be queried")
        uid = request.query.get("uid")
        per_day: dict[tuple[date, str], dict[str, Decimal]] = {}
        for a in self.data.activity_between(self.id, first, last):
            if uid is not None and a.uid != uid:
                continue
            line = LINES[a.product]
            slot = per_day.setdefault((a.day, a.uid), {})
            slot[f"{line}TradingVolume"] = slot.get(f"{line}TradingVolume", Decimal(0)) + a.volume
            slot[f"{line}CommissionVolume"] = (
                slot.get(f"{line}CommissionVolume", Decimal(0)) + a.commission
            )
        rows = []
        for (day, trader_uid), slot in sorted(per_day.items()):
            row: dict[str, Any] = {"uid": int(trader_uid), "commissionTime": utc8_day_ms(day)}
            for line in ("spot", "swap", "std", "extCopy", "mt5"):
                row[f"{line}TradingVolume"] = money(slot.get(f"{line}TradingVolume", Decimal(0)))
                row[f"{line}CommissionVolume"] = money(
                    slot.get(f"{line}CommissionVolume", Decimal(0))
                )
            row["tradingVolume"] = money(
                sum((v for k, v in slot.items() if k.endswith("TradingVolume")), Decimal(0))
            )
            row["commissionVolume"] = money(
                sum((v for k, v in slot.items() if k.endswith("CommissionVolume")), Decimal(0))
            )
            rows.append(row)
        chunk = rows[(page - 1) * size : page * size]
        return self.ok({"list": chunk, "total": len(rows), "currentAgentUid": 1})
