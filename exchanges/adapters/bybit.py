"""Bybit affiliate API (v5): invitees with their trading volume; no commission, no fee.

`GET /v5/affiliate/aff-user-list` gives, per invitee, `tradeVol` (USDT, all products together)
for a `startDate`..`endDate` window, so we ask one day at a time to get per-day rows. The key
must carry only the "Affiliate" permission (Bybit's rule). Commission must be estimated by the
domain from volume: rows have `commission=None`, `fee=None`, product "all".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from exchanges.adapters.ccxt_base import CcxtSource, days
from exchanges.base import Capabilities, CommissionRow, Invitee, make_row

PAGE_SIZE = 1000  # documented maximum


class BybitSource(CcxtSource):
    exchange_id = "bybit"
    ccxt_id = "bybit"
    capabilities = Capabilities(
        commission=False, volume=True, fee=False, uid_check=True, verified=True
    )

    async def _user_list(self, window: dict[str, str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"size": PAGE_SIZE, **window}
            if cursor:
                params["cursor"] = cursor
            response = await self._call("privateGetV5AffiliateAffUserList", params)
            result = self._dict(response, "result")
            page = self._list(result, "list")
            rows.extend(page)
            cursor = str(result.get("nextPageCursor") or "")
            if not page or not cursor:
                return rows
            if cursor in seen:  # a cursor that repeats would loop forever
                raise self._malformed("nextPageCursor repeats")
            seen.add(cursor)

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        invitees = []
        for item in await self._user_list({}):
            registered = _parse_register_time(item.get("registerTime"))
            # Dates only: compare days so an invitee of `since`'s day is never dropped.
            if since is None or registered is None or registered.date() >= since.date():
                invitees.append(Invitee(str(item["userId"]), registered))
        return invitees

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        rows = []
        for day in days(start, end):
            stamp = day.isoformat()
            for item in await self._user_list({"startDate": stamp, "endDate": stamp}):
                volume = self._decimal(item.get("tradeVol"))
                if not volume:  # no trading that day (or not reported): no row
                    continue
                rows.append(
                    make_row(
                        self.exchange_id, str(item["userId"]), day, "all",
                        volume=volume, fee=None, commission=None,
                    )
                )
        return rows


def _parse_register_time(value: Any) -> datetime | None:
    """Bybit sends a date ("2024-05-01"), sometimes with a time; "0001-01-01" means unknown."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
