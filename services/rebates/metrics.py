"""The rebate engine's Prometheus counters (created once, here) and what a batch adds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from prometheus_client import Counter

from services.ledger import ZERO
from services.rebates.valuation import _Booking

REBATES_CALCULATED = Counter(
    "rebate_calculated", "Commission record versions booked by the rebate engine", ["exchange"]
)
REBATE_AMOUNT = Counter(
    "rebate_amount_usd", "Rebate amounts booked, in USDT (increases)", ["exchange", "type"]
)
REBATE_AMOUNT_REVERSED = Counter(
    "rebate_amount_usd_reversed",
    "Rebate amounts taken back by revisions, in USDT (counters cannot go down)",
    ["exchange", "type"],
)


def _count(bookings: Sequence[_Booking]) -> None:
    """Export what a committed batch booked (differences; decreases go to *_reversed)."""
    per_exchange: dict[str, int] = defaultdict(int)
    amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for b in bookings:
        r = b.record
        per_exchange[b.exchange_id] += 1
        amounts[(b.exchange_id, "gross")] += b.gross - (r["booked_gross"] or ZERO)
        amounts[(b.exchange_id, "trader")] += b.trader - (r["booked_trader"] or ZERO)
        amounts[(b.exchange_id, "service")] += b.service - (r["booked_service"] or ZERO)
    for exchange_id, count in per_exchange.items():
        REBATES_CALCULATED.labels(exchange=exchange_id).inc(count)
    for (exchange_id, kind), amount in amounts.items():
        if amount > 0:
            REBATE_AMOUNT.labels(exchange=exchange_id, type=kind).inc(float(amount))
        elif amount < 0:
            REBATE_AMOUNT_REVERSED.labels(exchange=exchange_id, type=kind).inc(float(-amount))
