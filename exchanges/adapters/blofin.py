"""BloFin affiliate API: futures commission, fee and volume per invitee and day (USDT).

`invitees/daily/info` needs a `uid`, so a sync reads the invitee list (`invitees`, paged
backwards with `after` = the last `id`, limit <= 200) and then each invitee's days
(limit <= 100 rows, so 90-day windows - 91 days with an edge day - always fit one page).
BloFin only has derivatives: rows are product "futures". The docs' example envelope says
`code: 200`, which ccxt would treat as an error; the live API answers `"0"` (per ccxt).

Window edges: `commissionTime` is the day's midnight in UTC+8 in the docs' example
(1716912000000 = 2024-05-29 00:00 UTC+8), so windows are sent shifted by -8 h and stamps read
with `settlement_day` (right for UTC-midnight stamps too). begin/end are only "filter with a
timestamp": if BloFin answers whole UTC days, a window also returns the day after its last,
which the next window returns again, so each window keeps only its own days.
"""

from __future__ import annotations

from datetime import datetime
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

INVITEE_LIMIT = 200
DAILY_LIMIT = 100
WINDOW_DAYS = 90


class BloFinSource(CcxtSource):
    exchange_id = "blofin"
    ccxt_id = "blofin"
    capabilities = Capabilities(
        commission=True, volume=True, fee=True, uid_check=True, verified=True
    )

    def _data(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        self._expect_code(response, "0")
        return self._list(response, "data")

    async def _invitees(self, params: dict[str, Any]) -> list[Invitee]:
        invitees: list[Invitee] = []
        cursor: Any = None
        while True:
            query = {**params, "limit": INVITEE_LIMIT}
            if cursor is not None:
                query["after"] = cursor
            items = self._data(await self._call("privateGetAffiliateInvitees", query))
            invitees.extend(Invitee(str(i["uid"]), from_ms(i.get("registerTime"))) for i in items)
            if len(items) < INVITEE_LIMIT:
                return invitees
            cursor = items[-1].get("id")

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        return await self._invitees({} if since is None else {"begin": to_ms(since)})

    async def check_uid(self, uid: str) -> Invitee | None:
        return next((i for i in await self._invitees({"uid": uid}) if i.uid == uid), None)

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        rows = []
        for invitee in await self.list_invitees(None):
            for first, last in windows(start, end, WINDOW_DAYS):
                begin, end_ms = settlement_window_ms(first, last)
                params = {
                    "uid": invitee.uid, "begin": begin, "end": end_ms, "limit": DAILY_LIMIT,
                }
                for item in self._data(
                    await self._call("privateGetAffiliateInviteesDailyInfo", params)
                ):
                    stamp = from_ms(item.get("commissionTime"))
                    if stamp is None:
                        raise self._malformed("data[].commissionTime")
                    day = settlement_day(stamp)
                    if not first <= day <= last:  # another window's day: that window has it
                        continue
                    volume = self._decimal(item.get("tradingVolume"))
                    fee = self._decimal(item.get("fee"))
                    commission = self._decimal(item.get("commission"))
                    if volume or fee or commission:
                        rows.append(
                            make_row(self.exchange_id, invitee.uid, day, "futures",
                                     volume=volume, fee=fee, commission=commission)
                        )
        return rows
