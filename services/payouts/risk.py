"""Risk flags on a new request, shown on the finance card. Two of them also send a request
under the approval threshold to a human: more than the trader ever earned (the books or the
account are wrong), and a burst of requests (a taken-over account emptying itself)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

RECENT_UID = timedelta(days=7)
VELOCITY_WINDOW = timedelta(hours=24)
VELOCITY_COUNT = 3  # this request being the third within the window
REVIEW_FLAGS = frozenset({"above_lifetime_earnings", "velocity"})


async def risk_flags(conn: Any, user_id: int, amount: Decimal, address: Any,
                     now: datetime) -> list[str]:
    """Flags in a fixed order, computed on the request's own transaction."""
    row = await conn.fetchrow(
        "SELECT "
        " (SELECT count(*) FROM withdrawals WHERE user_id = $1 AND status = 'completed')"
        "   AS completed,"
        " (SELECT count(*) FROM withdrawals WHERE user_id = $1 AND created_at > $2)"
        "   AS recent_requests,"
        " (SELECT count(*) FROM exchange_accounts WHERE user_id = $1 AND created_at > $3)"
        "   AS recent_uids,"
        " (SELECT coalesce(sum(trader_amount), 0) FROM rebate_accruals WHERE user_id = $1)"
        "   AS earned,"
        " (SELECT count(*) FROM withdrawals WHERE user_id = $1 AND status = 'completed'"
        "   AND address_id = $4) AS to_address",
        user_id, now - VELOCITY_WINDOW, now - RECENT_UID,
        address.id if address is not None else -1)
    flags = []
    if address is not None and row["to_address"] == 0:
        flags.append("new_address")
    if row["completed"] == 0:
        flags.append("first_withdrawal")
    if row["recent_uids"]:
        flags.append("recent_uid")
    if row["recent_requests"] + 1 >= VELOCITY_COUNT:
        flags.append("velocity")
    if amount > Decimal(row["earned"]):
        flags.append("above_lifetime_earnings")
    return flags
