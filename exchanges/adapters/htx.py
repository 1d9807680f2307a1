"""HTX invitees - UNVERIFIED, and invitee list only.

`GET /v2/invitee/rebate/referrals` ("KOL users", 1 req/s) is known from SDK types only: items
carry invitee_uid and join_time_m2, paged by a `nextId` cursor (we send it back as `fromId`, an
assumption). No field names for volume or commission were found, so this adapter cannot fetch
commissions: `capabilities` say so and `fetch_commissions` raises PermanentError. Use the CSV
import for HTX money until the rebate endpoints are documented.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchanges.adapters.ccxt_base import CcxtSource, from_ms
from exchanges.base import Capabilities, CommissionRow, Invitee
from exchanges.errors import PermanentError

PAGE_LIMIT = 100


class HtxSource(CcxtSource):
    exchange_id = "htx"
    ccxt_id = "htx"
    capabilities = Capabilities(
        commission=False, volume=False, fee=False, uid_check=True, verified=False
    )

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        invitees = []
        params: dict[str, Any] = {"limit": PAGE_LIMIT}
        seen: set[str] = set()
        while True:
            response = await self._call("spotPrivateGetV2InviteeRebateReferrals", params)
            for item in self._list(response, "data"):
                joined = from_ms(item.get("join_time_m2"))
                if since is None or joined is None or joined >= since:
                    invitees.append(Invitee(str(item["invitee_uid"]), joined))
            cursor = response.get("nextId")
            if cursor in (None, "", 0) or str(cursor) in seen:
                return invitees
            seen.add(str(cursor))
            params = {**params, "fromId": cursor}

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        raise PermanentError("htx: no documented commission/volume endpoint; import CSV")
