"""The rebate engine: turns commission records into ledger entries, and the rates behind it.

For each version (revision) of a commission record whose UID belongs to a verified account it
books ONE entry, keyed ``accrual:{source_key}:r{revision}``, that moves the difference between
what the record is worth now and what was booked for it before:

    exchange receivable  −Δgross   (the exchange owes us the commission)
    trader available     +Δtrader  (gross × share, rounded by ledger.round_money)
    service revenue      +Δservice (the remainder)

The share is the one in force on the record's day: a per-trader rate, else the trader's rate
group (VIP tier), else the exchange default; each has a history, so changes are not retroactive
unless an admin runs ``reaccrue``. Where an exchange reports volume/fees but no commission, the
gross is estimated from the admin's estimate rate and marked estimated; the real commission
arriving later (a new revision) books only the difference (the true-up).

If a downward revision takes back more than the trader still has available (it was paid out),
the shortfall is booked to suspense for an operator instead of breaking the no-negative rule.

Booking is set-based: one transaction per batch of records, a handful of statements per batch.
Batches are serialised by an advisory lock, so two workers can never book the same difference.

Modules: ``shares`` (the rates in force and their admin setters), ``valuation`` (what a record
version is worth), ``rendering`` (its ledger legs and accrual rows), ``booking`` (the batch walk
under the lock), ``runs`` (scope and results), ``metrics`` (the Prometheus counters).
"""

from services.rebates.booking import (
    _SELECT_BOOKED,
    _SELECT_PENDING,
    ACCRUAL_LOCK_ID,
    RebateEngine,
    _prepare,
)
from services.rebates.metrics import REBATE_AMOUNT, REBATE_AMOUNT_REVERSED, REBATES_CALCULATED
from services.rebates.runs import AccrualBatch, AccrualTotals, RecordScope
from services.rebates.shares import (
    EPOCH,
    EstimateQuote,
    RateBook,
    RateService,
    ShareQuote,
    today_utc,
)

__all__ = [
    "ACCRUAL_LOCK_ID",
    "EPOCH",
    "REBATES_CALCULATED",
    "REBATE_AMOUNT",
    "REBATE_AMOUNT_REVERSED",
    "_SELECT_BOOKED",
    "_SELECT_PENDING",
    "AccrualBatch",
    "AccrualTotals",
    "EstimateQuote",
    "RateBook",
    "RateService",
    "RebateEngine",
    "RecordScope",
    "ShareQuote",
    "_prepare",
    "today_utc",
]
