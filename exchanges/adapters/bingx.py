"""BingX agent (affiliate) API: commission and volume per invitee and day, no fee.

ccxt 4.5.90 declares the `agent` endpoints but has no `urls['api']['agent']` (every call raises
KeyError), so `_prepare` adds it. Daily commission uses the **v2** `reward/commissionDataList`
(BingX's current docs; ccxt only has v1), called through `request()`: dates as yyyyMMdd, at most
30 days per query, pageSize <= 100; each line splits spot / swap (perpetual) / std (standard
futures) / extCopy / mt5 trading and commission volumes in USDT. Invitees come from
`account/inviteAccountList` (30-day registration windows, or none for all) and one UID is checked
with `account/inviteRelationCheck`.

Window edges: windows are whole dates, both ends inclusive, so consecutive windows share no day;
each window still keeps only rows dated on its own days. `commissionTime`'s format is not
documented: yyyyMMdd, or epoch ms read as a day stamp at UTC or UTC+8 midnight (BingX settles on
UTC+8; `settlement_day` gets both right).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from exchanges.adapters.ccxt_base import CcxtSource, from_ms, settlement_day, windows
from exchanges.base import Capabilities, CommissionRow, Invitee, make_row

WINDOW_DAYS = 30
COMMISSION_PAGE = 100
INVITEE_PAGE = 100
LINES = {"spot": "spot", "swap": "futures", "std": "std_futures", "extCopy": "copy", "mt5": "mt5"}


class BingXSource(CcxtSource):
    exchange_id = "bingx"
    ccxt_id = "bingx"
    capabilities = Capabilities(
        commission=True, volume=True, fee=False, uid_check=True, verified=True
    )

    def _prepare(self, exchange: Any) -> None:
        exchange.urls["api"].setdefault("agent", "https://open-api.{hostname}/openApi")

    def _data(self, response: dict[str, Any]) -> dict[str, Any]:
        # ccxt's bingx error handler lets unknown non-zero codes through as success.
        self._expect_code(response, "0")
        return self._dict(response, "data")

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        invitees = []
        page = 1
        while True:
            response = await self._call(
                "agentV1PrivateGetAccountInviteAccountList",
                {"pageIndex": page, "pageSize": INVITEE_PAGE},
            )
            data = self._data(response)
            items = self._list(data, "list")
            for item in items:
                registered = from_ms(item.get("registerTime"))
                if since is None or registered is None or registered >= since:
                    invitees.append(Invitee(str(item["uid"]), registered))
            total = int(self._decimal(data.get("total")) or 0)
            if not items or page * INVITEE_PAGE >= total:
                return invitees
            page += 1

    async def check_uid(self, uid: str) -> Invitee | None:
        response = await self._call("agentV1PrivateGetAccountInviteRelationCheck", {"uid": uid})
        data = self._data(response)
        if not data.get("inviteResult"):
            return None
        return Invitee(uid, from_ms(data.get("registerDateTime")))

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        rows: list[CommissionRow] = []
        for first, last in windows(start, end, WINDOW_DAYS):
            page = 1
            while True:
                params = {
                    "startTime": first.strftime("%Y%m%d"),
                    "endTime": last.strftime("%Y%m%d"),
                    "pageIndex": page,
                    "pageSize": COMMISSION_PAGE,
                }
                response = await self._request(
                    "reward/commissionDataList", ["agent", "v2", "private"], "GET", params
                )
                data = self._data(response)
                items = self._list(data, "list")
                for item in items:
                    rows.extend(r for r in self._rows(item) if first <= r.day <= last)
                total = int(self._decimal(data.get("total")) or 0)
                if not items or page * COMMISSION_PAGE >= total:
                    break
                page += 1
        return rows

    def _rows(self, item: dict[str, Any]) -> list[CommissionRow]:
        day = _day(item.get("commissionTime"))
        if day is None:
            raise self._malformed("list[].commissionTime")
        rows = []
        for line, product in LINES.items():
            volume = self._decimal(item.get(f"{line}TradingVolume"))
            commission = self._decimal(item.get(f"{line}CommissionVolume"))
            if volume or commission:
                rows.append(
                    make_row(self.exchange_id, str(item["uid"]), day, product,
                             volume=volume, fee=None, commission=commission)
                )
        return rows


def _day(value: Any) -> date | None:
    """`commissionTime` is undocumented: accept yyyyMMdd or epoch milliseconds (a day stamp)."""
    text = str(value or "")
    if len(text) == 8 and text.isdigit():
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC).date()
    stamp = from_ms(text)
    return settlement_day(stamp) if stamp else None
