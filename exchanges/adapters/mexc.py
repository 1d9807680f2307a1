"""MEXC affiliate API (spot v3 `rebate/affiliate/*`): commission and volume, no fee.

`commission/detail` lists, per uid / day / type (1 spot, 2 futures, 3 ETF) / symbol, the traded
amount in USDT (`usdtAmount`) and our `commission` in `currency`; at most 30 days per query,
paged by page/pageSize. The fee the invitee paid is not reported (only the rate), so
`fee=None`. `referral` lists invitees (default window is only T-7..T, so we always send one).

Window edges: `date` is the day's midnight in UTC+8 (the docs' example), so each window is sent
shifted by -8 h (`settlement_window_ms`). The docs do not say how startTime/endTime meet `date`;
if MEXC answers whole UTC days as Bitget did, a window also returns the day after its last,
which the next window returns again. So each window keeps only the lines of its own days;
within a window the lines of one uid/day/type/coin (one per symbol) are summed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
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
PAGE_SIZE = 100  # the docs give only the default (10); 100 is an assumption
TYPES = {1: "spot", 2: "futures", 3: "etf"}
# The referral list filters by registration time; "everything" starts before MEXC existed.
EPOCH = datetime(2018, 1, 1, tzinfo=UTC)


class MexcSource(CcxtSource):
    exchange_id = "mexc"
    ccxt_id = "mexc"
    capabilities = Capabilities(
        commission=True, volume=True, fee=False, uid_check=True, verified=True
    )

    async def _pages(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self._call(method, {**params, "page": page, "pageSize": PAGE_SIZE})
            data = self._dict(response, "data")
            rows.extend(self._list(data, "resultList"))
            if page >= int(self._decimal(data.get("totalPage")) or 1):
                return rows
            page += 1

    async def _referrals(self, since: datetime | None, uid: str | None) -> list[Invitee]:
        params: dict[str, Any] = {
            "startTime": to_ms(since or EPOCH),
            "endTime": to_ms(datetime.now(UTC)),
        }
        if uid is not None:
            params["uid"] = uid
        items = await self._pages("spotPrivateGetRebateAffiliateReferral", params)
        return [Invitee(str(i["uid"]), from_ms(i.get("registerTime"))) for i in items]

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        return await self._referrals(since, None)

    async def check_uid(self, uid: str) -> Invitee | None:
        return next((i for i in await self._referrals(None, uid) if i.uid == uid), None)

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        sums: dict[tuple[str, date, str, str], list[Decimal]] = defaultdict(
            lambda: [Decimal(0)] * 2
        )
        for first, last in windows(start, end, WINDOW_DAYS):
            start_ms, end_ms = settlement_window_ms(first, last)
            for type_code, product in TYPES.items():
                params = {"startTime": start_ms, "endTime": end_ms, "type": type_code}
                method = "spotPrivateGetRebateAffiliateCommissionDetail"
                for item in await self._pages(method, params):
                    stamp = from_ms(item.get("date"))
                    if stamp is None:
                        raise self._malformed("resultList[].date")
                    day = settlement_day(stamp)
                    if not first <= day <= last:  # another window's day: that window has it
                        continue
                    currency = str(item.get("currency") or "USDT")
                    key = (str(item["uid"]), day, product, currency)
                    sums[key][0] += self._decimal(item.get("usdtAmount")) or 0
                    sums[key][1] += self._decimal(item.get("commission")) or 0
        rows = []
        for (uid, day, product, currency), (volume_usdt, commission) in sorted(sums.items()):
            row = make_row(self.exchange_id, uid, day, product,
                           volume=volume_usdt, fee=None, commission=commission, currency=currency)
            if row.rate_to_usdt is None:
                # Commission paid in a coin: the row's currency is that coin, but the volume is
                # only known in USDT, so it goes to volume_usdt alone.
                row = replace(row, volume=None, volume_usdt=volume_usdt)
            rows.append(row)
        return rows
