"""OKX affiliate API (v5): invitees with volume, fee and our commission (USDT).

`GET /api/v5/affiliate/invitee/list` with `periodType=custom` gives totalVol / totalFee /
totalCommission per invitee for [begin, end] (<= 90 days, not older than 180 days) and one
`commissionCategory`. OKX documents three categories - SPOT, DERIVATIVE and BSC - as separate
buckets (performance/summary reports vol and commission for each), and we read all three: BSC
becomes its own product "bsc" (OKX does not expand the name; its Chinese docs call the bucket
返佣业务, "rebate business"). Per-day, per-product rows therefore take one request per day and
category (and page). `invitee/detail` checks a single UID. OKX allows 3 req/s per user; ccxt's
rate limiter (cost 3.33 at 100 ms) keeps us there when enabled.

Window edges: begin and end are documented as inclusive, and each request covers one UTC day,
[00:00, 23:59:59.999], so two requests share no moment and a row (a total with no day of its
own) is filed under the day asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from exchanges.adapters.ccxt_base import (
    CcxtSource,
    day_end_ms,
    day_start_ms,
    days,
    from_ms,
)
from exchanges.base import Capabilities, CommissionRow, Invitee, make_row
from exchanges.errors import PermanentError

PAGE_LIMIT = 100
OLDEST_CUSTOM_BEGIN = timedelta(days=180)  # documented bound of a custom period
CATEGORIES = {"SPOT": "spot", "DERIVATIVE": "futures", "BSC": "bsc"}
NOT_INVITEE = "51621"  # "The user isn't your invitee" (not in ccxt's table; unverified live)


class OkxSource(CcxtSource):
    exchange_id = "okx"
    ccxt_id = "okx"
    capabilities = Capabilities(
        commission=True, volume=True, fee=True, uid_check=True, verified=True
    )

    async def _invitee_pages(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self._call(
                "privateGetAffiliateInviteeList", {**params, "page": page, "limit": PAGE_LIMIT}
            )
            rows.extend(self._list(response, "data"))
            total_pages = int(self._decimal(response.get("totalPage")) or 1)
            if page >= total_pages:
                return rows
            page += 1

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        invitees = []
        for item in await self._invitee_pages({}):
            joined = from_ms(item.get("joinTime"))
            if since is None or joined is None or joined >= since:
                invitees.append(Invitee(str(item["uid"]), joined))
        return invitees

    async def check_uid(self, uid: str) -> Invitee | None:
        try:
            response = await self._call("privateGetAffiliateInviteeDetail", {"uid": uid})
        except PermanentError as exc:
            if NOT_INVITEE in str(exc):
                return None
            raise
        data = self._list(response, "data")
        if not data:
            return None
        return Invitee(uid, from_ms(data[0].get("joinTime")))

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        rows = []
        # OKX answers a custom period only from 180 days ago (begin ≥ now − 180 d): older days
        # are skipped rather than failing the whole read.
        oldest = (datetime.now(UTC) - OLDEST_CUSTOM_BEGIN).date() + timedelta(days=1)
        for day in days(max(start, datetime.combine(oldest, time(), tzinfo=UTC)), end):
            for category, product in CATEGORIES.items():
                params = {
                    "periodType": "custom",
                    "begin": day_start_ms(day),
                    "end": day_end_ms(day),
                    "commissionCategory": category,
                }
                for item in await self._invitee_pages(params):
                    volume = self._decimal(item.get("totalVol"))
                    fee = self._decimal(item.get("totalFee"))
                    commission = self._decimal(item.get("totalCommission"))
                    if not (volume or fee or commission):  # listed but inactive that day
                        continue
                    rows.append(
                        make_row(
                            self.exchange_id, str(item["uid"]), day, product,
                            volume=volume, fee=fee, commission=commission,
                        )
                    )
        return rows
