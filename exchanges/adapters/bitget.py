"""Bitget affiliate API (v2, ccxt section ['private', 'broker']): commission per invitee/day.

`GET /api/v2/broker/customer-commissions` returns one line per uid / day / coin / symbol with
dealAmount, fee, rebateAmount (our commission), newest first, paged with `idLessThan` = the
previous page's `endId`. The range limit is 90 days since Bitget's 2026-03-12 changelog (30
before); we ask 30-day windows, which works under either rule. Invitees come from
`POST /api/v2/broker/customer-list`; sending `uid` checks one invitee.

Window edges: `date` is the day's midnight in UTC+8, so each window is sent shifted by -8 h
(`settlement_window_ms`). How Bitget matches startTime/endTime to `date` is not documented;
live, the day where two such windows meet came back in both (issue 9), as reading the bounds
as whole UTC days gives (a window then also returns the day after its last). So each window
keeps only the lines of its own days, never adding a day across windows; within a window the
per-symbol lines of one uid/day/product/coin are summed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from exchanges.adapters.ccxt_base import (
    CcxtSource,
    from_ms,
    settlement_day,
    settlement_window_ms,
    to_ms,
    windows,
)
from exchanges.base import Capabilities, CommissionRow, Invitee, make_row

WINDOW_DAYS = 30
PAGE_LIMIT = 1000  # documented maximum for both endpoints


def _product(product_type: Any) -> str:
    text = str(product_type or "").lower()
    if "futures" in text or "mix" in text or "swap" in text:
        return "futures"
    return "spot" if text in ("", "spot") else text


class BitgetSource(CcxtSource):
    exchange_id = "bitget"
    ccxt_id = "bitget"
    capabilities = Capabilities(
        commission=True, volume=True, fee=True, uid_check=True, verified=True
    )

    async def _customers(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self._call(
                "privateBrokerPostV2BrokerCustomerList",
                {**body, "pageNo": page, "pageSize": PAGE_LIMIT},
            )
            chunk = self._list(response, "data")
            rows.extend(chunk)
            if len(chunk) < PAGE_LIMIT:
                return rows
            page += 1

    def _invitee(self, item: dict[str, Any]) -> Invitee:
        return Invitee(str(item["uid"]), from_ms(item.get("registerTime")))

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        body: dict[str, Any] = {}
        if since is not None:
            body = {"startTime": to_ms(since), "endTime": to_ms(datetime.now(UTC))}
        return [self._invitee(item) for item in await self._customers(body)]

    async def check_uid(self, uid: str) -> Invitee | None:
        found = [item for item in await self._customers({"uid": uid}) if str(item["uid"]) == uid]
        return self._invitee(found[0]) if found else None

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        sums: dict[tuple[str, date, str, str], list[Decimal]] = defaultdict(
            lambda: [Decimal(0)] * 3
        )
        for first, last in windows(start, end, WINDOW_DAYS):
            start_ms, end_ms = settlement_window_ms(first, last)
            params: dict[str, Any] = {
                "startTime": start_ms, "endTime": end_ms, "limit": PAGE_LIMIT,
            }
            while True:
                response = await self._call("privateBrokerGetV2BrokerCustomerCommissions", params)
                data = self._dict(response, "data")
                lines = self._list(data, "commissionList")
                for line in lines:
                    stamp = from_ms(line.get("date"))
                    if stamp is None:
                        raise self._malformed("commissionList[].date")
                    day = settlement_day(stamp)
                    if not first <= day <= last:  # another window's day: that window has it
                        continue
                    product = _product(line.get("productType"))
                    coin = str(line.get("coin") or "USDT")
                    key = (str(line["uid"]), day, product, coin)
                    slot = sums[key]
                    slot[0] += self._decimal(line.get("dealAmount")) or 0
                    slot[1] += self._decimal(line.get("fee")) or 0
                    slot[2] += self._decimal(line.get("rebateAmount")) or 0
                end_id = data.get("endId")
                if len(lines) < PAGE_LIMIT or not end_id:
                    break
                params = {**params, "idLessThan": end_id}
        return [
            make_row(self.exchange_id, uid, day, product,
                     volume=volume, fee=fee, commission=commission, currency=coin)
            for (uid, day, product, coin), (volume, fee, commission) in sorted(sums.items())
        ]
