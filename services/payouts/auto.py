"""Auto-withdrawal: a trader's standing order to withdraw everything available whenever it
reaches a threshold, to a saved address or their own verified UID. The payout tick makes the
request, under exactly the rules of one made by hand (WithdrawalService.prepare and create: the
limits, the cooldown, the approvals); a request it cannot make waits for the next tick."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.models import PayoutMethod
from services.payouts.quotes import AMOUNT_PLACES, PayoutRefusal
from services.payouts.requests import Destination, WithdrawalService

log = logging.getLogger(__name__)

# A trader with a request still open gets no second one: the first may yet fail and return.
_OPEN = ("awaiting_approval", "approved", "submitting", "submitted", "sent", "unknown", "error")


@dataclass(frozen=True)
class AutoWithdrawalDTO:
    user_id: int
    threshold: Decimal
    destination: Destination
    enabled: bool


def _dto(row: Any) -> AutoWithdrawalDTO:
    return AutoWithdrawalDTO(
        user_id=row["user_id"], threshold=Decimal(row["threshold"]),
        destination=Destination(PayoutMethod(row["method"]), network_id=row["network_id"],
                                address_id=row["address_id"], exchange_id=row["exchange_id"]),
        enabled=row["enabled"])


async def _query(sql: str, *args: object) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(args))


class AutoWithdrawals:
    def __init__(self, withdrawals: WithdrawalService) -> None:
        self.withdrawals = withdrawals

    async def get(self, user_id: int) -> AutoWithdrawalDTO | None:
        rows = await _query("SELECT * FROM auto_withdrawals WHERE user_id = $1", user_id)
        return _dto(rows[0]) if rows else None

    async def set(self, user_id: int, destination: Destination,
                  threshold: Decimal) -> AutoWithdrawalDTO:
        """Save the order after checking that its destination is the trader's and that the
        threshold is one a request could be made for (at least the minimum)."""
        if threshold <= 0 or threshold.as_tuple().exponent < -AMOUNT_PLACES:  # type: ignore[operator]
            raise PayoutRefusal("bad_amount")
        limits = await self.withdrawals.limits(user_id, destination)
        if threshold < limits.min_amount:
            raise PayoutRefusal("below_minimum", minimum=limits.min_amount)
        await self.withdrawals.check_destination(user_id, destination, allow_cooling=True)
        rows = await _query(
            "INSERT INTO auto_withdrawals (user_id, threshold, method, network_id, address_id, "
            "exchange_id, enabled, updated_at) VALUES ($1, $2, $3, $4, $5, $6, true, now()) "
            "ON CONFLICT (user_id) DO UPDATE SET threshold = excluded.threshold, "
            "method = excluded.method, network_id = excluded.network_id, "
            "address_id = excluded.address_id, exchange_id = excluded.exchange_id, "
            "enabled = true, updated_at = now() RETURNING *",
            user_id, threshold, destination.method.value, destination.network_id,
            destination.address_id, destination.exchange_id)
        return _dto(rows[0])

    async def disable(self, user_id: int) -> bool:
        rows = await _query("UPDATE auto_withdrawals SET enabled = false, updated_at = now() "
                            "WHERE user_id = $1 AND enabled RETURNING user_id", user_id)
        return bool(rows)

    async def run_due(self, limit: int = 200) -> int:
        """Make the requests that are due: the available balance at or above the threshold and
        no request of the trader still open. Returns how many were made."""
        rows = await _query(
            "SELECT a.* FROM auto_withdrawals a JOIN ledger_accounts l ON l.kind = "
            "'trader_available' AND l.owner = a.user_id::text AND l.asset = 'USDT' "
            "WHERE a.enabled AND l.balance >= a.threshold AND NOT EXISTS (SELECT 1 FROM "
            "withdrawals w WHERE w.user_id = a.user_id AND w.status = ANY($1::text[])) "
            # in random order: orders refused every tick (a cooling address, a spent limit)
            # must not keep the others out of the first `limit`
            "ORDER BY random() LIMIT $2", list(_OPEN), limit)
        made = 0
        for row in rows:
            order = _dto(row)
            try:
                offer = await self.withdrawals.prepare(order.user_id, order.destination, None)
                await self.withdrawals.create(order.user_id, order.destination, offer.amount,
                                              auto=True)
                made += 1
            except PayoutRefusal as refusal:  # a cooling address, a limit: the next tick
                log.info("auto-withdrawal of %s not made: %s", order.user_id, refusal.code)
            except Exception:  # a bug in one order must not stop the others or the payouts
                log.exception("auto-withdrawal of %s failed", order.user_id)
        return made
