"""Weex affiliate API - UNVERIFIED: ccxt calls /api/v3/..., Weex's docs describe /api/v2/...

`getAffiliateCommission` lists commission lines (uid, dealTime, coin, fee, commission,
takerAmount, makerAmount) per product type (SPOT | FUTURES), paged by page/pageSize, at most
3 months per query (we ask 30 days). We sum lines per uid, UTC day, product and coin; volume =
takerAmount + makerAmount (assumed to be in the same coin). `dealTime` may be a date or ms.
Invitees come from `getAffiliateUIDs`. Weex has no ccxt `withdraw()`.

Window edges: dealTime is a moment and the windows touch without sharing one (UTC days), so a
line cannot come back twice; each window still keeps only lines on its own days, so a wider
answer at an edge could not make us count a line twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from exchanges.adapters.ccxt_base import (
    CcxtSource,
    day_end_ms,
    day_start_ms,
    from_ms,
    to_ms,
    windows,
)
from exchanges.base import Capabilities, CommissionRow, Invitee, make_row

WINDOW_DAYS = 30
PAGE_SIZE = 100
PRODUCTS = {"SPOT": "spot", "FUTURES": "futures"}
PREFIX = "privateGetApiV3RebateAffiliate"


class WeexSource(CcxtSource):
    exchange_id = "weex"
    ccxt_id = "weex"
    capabilities = Capabilities(
        commission=True, volume=True, fee=True, uid_check=True, verified=False
    )

    async def _pages(self, method: str, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self._call(
                PREFIX + method, {**params, "page": page, "pageSize": PAGE_SIZE}
            )
            self._expect_code(response, "200")
            data = self._dict(response, "data")
            rows.extend(self._list(data, key))
            if page >= int(self._decimal(data.get("pages")) or 1):
                return rows
            page += 1

    async def _invitees(self, params: dict[str, Any]) -> list[Invitee]:
        items = await self._pages("GetAffiliateUIDs", "channelUserInfoItemList", params)
        return [Invitee(str(i["uid"]), from_ms(i.get("registerTime"))) for i in items]

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        params: dict[str, Any] = {}
        if since is not None:
            params = {"startTime": to_ms(since), "endTime": to_ms(datetime.now(UTC))}
        return await self._invitees(params)

    async def check_uid(self, uid: str) -> Invitee | None:
        return next((i for i in await self._invitees({"uid": uid}) if i.uid == uid), None)

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        sums: dict[tuple[str, date, str, str], list[Decimal]] = defaultdict(
            lambda: [Decimal(0)] * 3
        )
        for first, last in windows(start, end, WINDOW_DAYS):
            for product_type, product in PRODUCTS.items():
                params = {
                    "startTime": day_start_ms(first),
                    "endTime": day_end_ms(last),
                    "productType": product_type,
                }
                items = await self._pages(
                    "GetAffiliateCommission", "channelCommissionInfoItems", params
                )
                for item in items:
                    day = _day(item.get("dealTime", item.get("date")))
                    if day is None:
                        raise self._malformed("channelCommissionInfoItems[].dealTime")
                    if not first <= day <= last:  # another window's day: that window has it
                        continue
                    coin = str(item.get("coin") or "USDT").upper()
                    slot = sums[(str(item["uid"]), day, product, coin)]
                    slot[0] += (self._decimal(item.get("takerAmount")) or 0) + (
                        self._decimal(item.get("makerAmount")) or 0
                    )
                    slot[1] += self._decimal(item.get("fee")) or 0
                    slot[2] += self._decimal(item.get("commission")) or 0
        return [
            make_row(self.exchange_id, uid, day, product, volume=volume, fee=fee,
                     commission=commission, currency=coin)
            for (uid, day, product, coin), (volume, fee, commission) in sorted(sums.items())
        ]


def _day(value: Any) -> date | None:
    text = str(value or "")
    if len(text) == 10 and text[4] == "-":
        return date.fromisoformat(text)
    stamp = from_ms(text)
    return stamp.date() if stamp else None
