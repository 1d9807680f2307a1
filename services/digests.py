"""The daily accrual digest: what each trader was credited on one UTC day, per exchange, as a
notification in the outbox (on, silent or off as the trader chose in Settings)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from tortoise import Tortoise

from services.exchange_catalog import ExchangeCatalog
from services.ledger import round_money
from services.models import DigestMode
from services.models.ledger import AccountKind
from services.notifications import NotificationService

# Credits to traders' available balances from accrual entries booked that day. The exchange is
# the first part of the entry's idempotency key: accrual:{exchange}:{uid}:{day}:{product}:r{n}.
_CREDITED = """
SELECT a.owner AS user_id, split_part(e.idempotency_key, ':', 2) AS exchange_id,
       sum(p.amount) AS amount
FROM ledger_entries e
JOIN ledger_postings p ON p.entry_id = e.id
JOIN ledger_accounts a ON a.id = p.account_id
WHERE e.kind IN ('accrual', 'reaccrual') AND a.kind = $1
  AND e.created_at >= $2 AND e.created_at < $3
GROUP BY 1, 2
"""
_MODES = "SELECT id, digest_mode FROM users WHERE id = ANY($1::bigint[])"


@dataclass(frozen=True)
class DigestRun:
    day: date
    traders: int  # traders credited that day
    enqueued: int  # new digest notifications (a re-run enqueues none)


class DigestService:
    def __init__(self, notifications: NotificationService, exchanges: ExchangeCatalog):
        self._notifications = notifications
        self._exchanges = exchanges

    async def enqueue_for(self, day: date) -> DigestRun:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        connection = Tortoise.get_connection("default")
        rows = await connection.execute_query_dict(
            _CREDITED, [AccountKind.TRADER_AVAILABLE.value, start, start + timedelta(days=1)])
        per_user: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for row in rows:
            per_user[int(row["user_id"])][row["exchange_id"]] = Decimal(row["amount"])
        if not per_user:
            return DigestRun(day, 0, 0)
        modes = {row["id"]: DigestMode(row["digest_mode"]) for row in
                 await connection.execute_query_dict(_MODES, [list(per_user)])}
        names = {e.id: e.name for e in await self._exchanges.list(enabled_only=False)}
        enqueued = 0
        for user_id, amounts in per_user.items():
            mode = modes.get(user_id, DigestMode.OFF)
            total = sum(amounts.values(), Decimal(0))
            if mode is DigestMode.OFF or total <= 0:  # a day of only clawbacks is not news
                continue
            lines = [{"exchange": names.get(exchange_id, exchange_id),
                      "amount": f"{round_money(amount):f}"}
                     for exchange_id, amount in sorted(amounts.items())]
            enqueued += await self._notifications.enqueue(
                f"digest:{user_id}:{day.isoformat()}", user_id, "digest", "notify.digest",
                {"day": day.isoformat(), "amount": f"{round_money(total):f}", "lines": lines},
                user_id=user_id, silent=mode is DigestMode.SILENT,
            )
        return DigestRun(day, len(per_user), enqueued)
