"""The books check: what the exchanges reported against what the ledger booked, per exchange.

The ledger's own invariant check (services/ledger/invariants.py) proves the ledger agrees with
itself; it cannot see a record that was never booked. This one compares the ledger with the
commission records it was booked from:

- unbooked: records of verified accounts, older than a grace period (so a sync that is booking
  right now is not counted), that carry a commission but have no accrual, or whose accrual is
  for an older revision. Records never booked that have no commission wait for an estimate
  rate: counted apart, not a failure.
- unpriced: records with a commission in a coin but no USDT value (no rate was found): no
  estimate can value them, so they are a failure of their own, not "waiting".
- commission received: per exchange, the commission credited to its receivable account by
  accrual entries equals the gross of its accruals; and the final (not estimated) gross equals
  the sum of the stored commission of the records booked at their current revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from prometheus_client import Gauge
from tortoise import Tortoise

from services.models.ledger import AccountKind

UNBOOKED = Gauge("rebate_unbooked_records", "Records of verified accounts without their accrual",
                 ["exchange"])
COMMISSION_GAP = Gauge("rebate_commission_gap_usdt",
                       "Stored commission minus booked commission (final records)", ["exchange"])


@dataclass(frozen=True)
class ExchangeBooks:
    exchange_id: str
    unbooked: int  # records not booked at their revision (past grace; see the module text)
    waiting: int  # records without a commission and without an accrual: need an estimate rate
    unpriced: int  # a commission in a coin without its USDT value
    stored_final: Decimal  # Σ commission_usdt of records booked (not estimated) at their revision
    booked_final: Decimal  # Σ gross of those records' accruals
    accrued_final: Decimal  # Σ gross of all the exchange's accruals, not estimated …
    accrued_estimated: Decimal  # … and estimated
    received: Decimal  # commission credited to the exchange's receivable by accrual entries

    @property
    def problems(self) -> list[str]:
        found = []
        if self.unbooked:
            found.append(f"{self.unbooked} records not booked")
        if self.unpriced:
            found.append(f"{self.unpriced} records without a USDT rate")
        if self.stored_final != self.booked_final:
            found.append(f"final commission stored {self.stored_final} ≠ booked "
                         f"{self.booked_final}")
        accrued = self.accrued_final + self.accrued_estimated
        if self.received != accrued:
            found.append(f"receivable {self.received} ≠ accruals {accrued}")
        return found


@dataclass(frozen=True)
class BooksReport:
    exchanges: list[ExchangeBooks] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(books.problems for books in self.exchanges)

    def describe(self) -> str:
        return "; ".join(f"{books.exchange_id}: {', '.join(books.problems)}"
                         for books in self.exchanges if books.problems)


_RECORDS_SQL = """
SELECT r.exchange_id,
       count(*) FILTER (WHERE r.updated_at < $1
                        AND ((b.id IS NULL AND r.commission_usdt IS NOT NULL)
                             OR b.revision < r.revision)) AS unbooked,
       count(*) FILTER (WHERE r.commission_usdt IS NULL AND r.commission IS NULL
                        AND b.id IS NULL) AS waiting,
       count(*) FILTER (WHERE r.commission IS NOT NULL AND r.commission_usdt IS NULL)
           AS unpriced,
       coalesce(sum(r.commission_usdt) FILTER (WHERE b.revision = r.revision
                                                AND NOT b.estimated), 0) AS stored_final,
       coalesce(sum(b.gross) FILTER (WHERE b.revision = r.revision AND NOT b.estimated), 0)
           AS booked_final
FROM commission_records r
JOIN exchange_accounts a ON a.exchange_id = r.exchange_id AND a.uid = r.uid
LEFT JOIN rebate_accruals b ON b.record_id = r.id
WHERE a.status = 'verified'
GROUP BY r.exchange_id
"""
_ACCRUALS_SQL = """
SELECT exchange_id,
       coalesce(sum(gross) FILTER (WHERE NOT estimated), 0) AS final,
       coalesce(sum(gross) FILTER (WHERE estimated), 0) AS estimated
FROM rebate_accruals GROUP BY exchange_id
"""
# Receivable postings are negative (the exchange owes us); only the booking's own entries.
_RECEIVED_SQL = """
SELECT a.owner AS exchange_id, -sum(p.amount) AS received
FROM ledger_postings p
JOIN ledger_accounts a ON a.id = p.account_id
JOIN ledger_entries e ON e.id = p.entry_id
WHERE a.kind = $1 AND a.asset = 'USDT' AND (e.kind = 'accrual' OR e.kind = 'reaccrual')
GROUP BY a.owner
"""


async def check_books(*, now: datetime, grace: timedelta = timedelta(minutes=30),
                      connection_name: str = "default") -> BooksReport:
    """One pass over the records and accruals, one over the receivable postings."""
    client = Tortoise.get_connection(connection_name)
    async with client.acquire_connection() as conn:
        records = {row["exchange_id"]: row for row in await conn.fetch(_RECORDS_SQL, now - grace)}
        accruals = {row["exchange_id"]: row for row in await conn.fetch(_ACCRUALS_SQL)}
        received = {row["exchange_id"]: row["received"] for row in await conn.fetch(
            _RECEIVED_SQL, AccountKind.EXCHANGE_RECEIVABLE.value)}
    zero = Decimal(0)
    report = []
    for exchange_id in sorted(set(records) | set(accruals) | set(received)):
        row = records.get(exchange_id)
        booked = accruals.get(exchange_id)
        books = ExchangeBooks(
            exchange_id=exchange_id,
            unbooked=row["unbooked"] if row else 0,
            waiting=row["waiting"] if row else 0,
            unpriced=row["unpriced"] if row else 0,
            stored_final=row["stored_final"] if row else zero,
            booked_final=row["booked_final"] if row else zero,
            accrued_final=booked["final"] if booked else zero,
            accrued_estimated=booked["estimated"] if booked else zero,
            received=received.get(exchange_id) or zero,
        )
        UNBOOKED.labels(exchange_id).set(books.unbooked)
        COMMISSION_GAP.labels(exchange_id).set(float(books.stored_final - books.booked_final))
        report.append(books)
    return BooksReport(report)
