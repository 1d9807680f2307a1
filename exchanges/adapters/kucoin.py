"""KuCoin affiliate API (v2) - UNVERIFIED: built from SDK types, not KuCoin's own page.

`queryTransactionByTime` lists invitees' trades (tradeStartAt/tradeEndAt required, cursor
`lastId` + `direction=NEXT`) with tradeAmountU (USDT volume), feeU (USDT fee) and our
`commission` in `currency`; we sum them per uid, UTC day, product and coin. Its item `uid`
and `id` fields and the window limit are assumptions (we ask 7-day windows to stay safe).
Invitees come from `queryInvitees` (page/pageSize, `uid` filter for one UID).

Window edges: trades are moments and the windows touch without sharing one ([00:00 of the first
day, 23:59:59.999 of the last], UTC), so no trade can come back twice; each window still keeps
only trades on its own UTC days, so an exchange that widened a window to whole days of another
zone could not make us count a trade twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
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
from exchanges.base import USD_STABLES, Capabilities, CommissionRow, Invitee, make_row

WINDOW_DAYS = 7
PAGE_SIZE = 100
PRODUCTS = {"SPOT": "spot", "FEATURE": "futures", "FUTURES": "futures"}


class KuCoinSource(CcxtSource):
    exchange_id = "kucoin"
    ccxt_id = "kucoin"
    capabilities = Capabilities(
        commission=True, volume=True, fee=True, uid_check=True, verified=False
    )

    def _data(self, response: dict[str, Any]) -> dict[str, Any]:
        self._expect_code(response, "200000")
        return self._dict(response, "data")

    async def _invitees(self, params: dict[str, Any]) -> list[Invitee]:
        invitees = []
        page = 1
        while True:
            response = await self._call(
                "privateGetAffiliateQueryInvitees", {**params, "page": page, "pageSize": PAGE_SIZE}
            )
            data = self._data(response)
            for item in self._list(data, "items"):
                invitees.append(Invitee(str(item["uid"]), from_ms(item.get("registrationTime"))))
            if page >= int(self._decimal(data.get("totalPage")) or 1):
                return invitees
            page += 1

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        params: dict[str, Any] = {}
        if since is not None:
            params = {"registrationStartAt": to_ms(since),
                      "registrationEndAt": to_ms(datetime.now(UTC))}
        return await self._invitees(params)

    async def check_uid(self, uid: str) -> Invitee | None:
        return next((i for i in await self._invitees({"uid": uid}) if i.uid == uid), None)

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        sums: dict[tuple[str, date, str, str], list[Decimal]] = defaultdict(
            lambda: [Decimal(0)] * 3
        )
        for first, last in windows(start, end, WINDOW_DAYS):
            params: dict[str, Any] = {
                "tradeStartAt": day_start_ms(first),
                "tradeEndAt": day_end_ms(last),
                "direction": "NEXT",
                "pageSize": PAGE_SIZE,
            }
            while True:
                response = await self._call("privateGetAffiliateQueryTransactionByTime", params)
                items = self._list(self._data(response), "items")
                for item in items:
                    stamp = from_ms(item.get("tradeTime"))
                    if stamp is None:
                        raise self._malformed("items[].tradeTime")
                    day = stamp.date()
                    if not first <= day <= last:  # another window's day: that window has it
                        continue
                    trade_type = str(item.get("tradeType") or "").upper()
                    product = PRODUCTS.get(trade_type, trade_type.lower() or "spot")
                    currency = str(item.get("currency") or "USDT").upper()
                    slot = sums[(str(item["uid"]), day, product, currency)]
                    slot[0] += self._decimal(item.get("tradeAmountU")) or 0
                    slot[1] += self._decimal(item.get("feeU")) or 0
                    slot[2] += self._decimal(item.get("commission")) or 0
                if len(items) < PAGE_SIZE:
                    break
                params = {**params, "lastId": items[-1].get("id")}
        rows = []
        for (uid, day, product, currency), (volume, fee, commission) in sorted(sums.items()):
            if currency in USD_STABLES:
                rows.append(make_row(self.exchange_id, uid, day, product, volume=volume,
                                     fee=fee, commission=commission, currency=currency))
            else:
                # Volume and fee are reported in USDT, the commission in a coin.
                row = make_row(self.exchange_id, uid, day, product, volume=None, fee=None,
                               commission=commission, currency=currency)
                rows.append(replace(row, volume_usdt=volume, fee_usdt=fee))
        return rows
