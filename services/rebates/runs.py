"""What a booking run looks at (RecordScope) and what it booked (AccrualBatch, totals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.ledger import ZERO


@dataclass(frozen=True)
class RecordScope:
    """Which commission records a run looks at (None: no restriction)."""

    exchange_id: str | None = None
    uid: str | None = None
    user_id: int | None = None
    since_day: date | None = None
    until_day: date | None = None


@dataclass
class AccrualBatch:
    scanned: int = 0  # records looked at
    booked: int = 0  # record versions booked (with or without a ledger entry)
    entries: int = 0  # ledger entries written
    waiting: int = 0  # records that cannot be valued yet (no commission and no estimate rate)
    last_id: int = 0  # keyset cursor: pass as after_id for the next batch
    done: bool = True  # no more records after last_id
    shortfall: Decimal = ZERO  # clawbacks booked to suspense (trader had already withdrawn)


@dataclass
class AccrualTotals:
    batches: int = 0
    scanned: int = 0
    booked: int = 0
    entries: int = 0
    waiting: int = 0
    shortfall: Decimal = ZERO

    def add(self, batch: AccrualBatch) -> None:
        self.batches += 1
        self.scanned += batch.scanned
        self.booked += batch.booked
        self.entries += batch.entries
        self.waiting += batch.waiting
        self.shortfall += batch.shortfall
