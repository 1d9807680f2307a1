"""Gate partner rebate API - UNVERIFIED (field names from Gate's SDKs): commission only.

`partner/commission_history` lists commission lines (user_id, commission_time in unix seconds,
commission_amount in commission_asset, source SPOT | FUTURES), at most 30 days per query, paged
by limit/offset against `total`. Volume and fee would need `partner/transaction_history`,
whose amounts are in each pair's own assets, so they are not reported (None). Invitees come
from `partner/sub_list` (direct and indirect customers; sub-agents are skipped).

Window edges: commission_time is a moment and the windows touch without sharing a second, so
a line cannot come back twice; each window still keeps only lines on its own UTC days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from exchanges.adapters.ccxt_base import CcxtSource, day_start, windows
from exchanges.base import Capabilities, CommissionRow, Invitee, make_row

WINDOW_DAYS = 30
PAGE_LIMIT = 100
PRODUCTS = {"SPOT": "spot", "FUTURES": "futures"}
SUB_AGENT = 1


def _from_seconds(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (TypeError, ValueError):
        return None


class GateSource(CcxtSource):
    exchange_id = "gate"
    ccxt_id = "gate"
    capabilities = Capabilities(
        commission=True, volume=False, fee=False, uid_check=True, verified=False
    )

    async def _pages(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = await self._call(method, {**params, "limit": PAGE_LIMIT, "offset": offset})
            page = self._list(response, "list")
            rows.extend(page)
            offset += len(page)
            if not page or offset >= int(self._decimal(response.get("total")) or 0):
                return rows

    async def _invitees(self, params: dict[str, Any]) -> list[Invitee]:
        items = await self._pages("privateRebateGetPartnerSubList", params)
        return [
            Invitee(str(i["user_id"]), _from_seconds(i.get("user_join_time")))
            for i in items
            if i.get("type") != SUB_AGENT
        ]

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        return [
            i for i in await self._invitees({})
            if since is None or i.registered_at is None or i.registered_at >= since
        ]

    async def check_uid(self, uid: str) -> Invitee | None:
        return next((i for i in await self._invitees({"user_id": uid}) if i.uid == uid), None)

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        sums: dict[tuple[str, date, str, str], Decimal] = defaultdict(Decimal)
        for first, last in windows(start, end, WINDOW_DAYS):
            params = {
                "from": int(day_start(first).timestamp()),
                # Inclusive last second; 30 whole days stay inside Gate's 30-day limit.
                "to": int(day_start(last).timestamp()) + 86_399,
            }
            for item in await self._pages("privateRebateGetPartnerCommissionHistory", params):
                stamp = _from_seconds(item.get("commission_time"))
                if stamp is None:
                    raise self._malformed("list[].commission_time")
                if not first <= stamp.date() <= last:  # another window's day
                    continue
                source = str(item.get("source") or "").upper()
                product = PRODUCTS.get(source, source.lower() or "spot")
                asset = str(item.get("commission_asset") or "USDT").upper()
                key = (str(item["user_id"]), stamp.date(), product, asset)
                sums[key] += self._decimal(item.get("commission_amount")) or 0
        return [
            make_row(self.exchange_id, uid, day, product, volume=None, fee=None,
                     commission=commission, currency=asset)
            for (uid, day, product, asset), commission in sorted(sums.items())
        ]
