"""The exchange sync: exchange reports → commission records, verified UIDs, sync status.

One run of one exchange reads from its watermark minus the exchange's re-read window (so missed
ticks are caught up and late revisions are seen), stores the rows idempotently
(services.commission_store), records the run, moves the watermark, then verifies pending UIDs
and detects first trades. A deep re-read (trigger "deep", weekly by default) reads the last
35 days again for the corrections that arrive later than the re-read window (monthly
settlements, clawbacks); the upsert stores only what changed, so booking books only differences.
Two runs of the same exchange never overlap: a PostgreSQL advisory lock, held on its own
connection for the length of the run, is released by the database if the worker dies.

Errors are mapped at the adapter boundary (exchanges.errors); a failed run keeps its error class
and message, writes no rows, and does not move the watermark. A run whose worker died (SIGKILL,
OOM, a lost host) stays "running" in sync_runs until the next run of that exchange, or the
worker's tick, finds the exchange's lock free and closes it as "interrupted".

The package, one module per job: ``service`` (SyncService: scheduling, one run, statuses),
``store`` (a run's rows in one transaction), ``uids`` (verifying and rejecting UIDs, first
trades), ``csv_imports`` (operator imports), ``locks`` (one run per exchange; runs of dead
workers), ``status`` and ``outcomes`` (the plain data it returns).
"""

from services.sync.locks import INTERRUPTED, sync_lock_key
from services.sync.outcomes import CsvImportOutcome, SyncOutcome, error_class
from services.sync.service import REREAD_DAYS, SourceFactory, SyncService
from services.sync.status import (
    DEFAULT_REREAD_DAYS,
    ExchangeStatus,
    ExchangeStatusDTO,
    exchange_status,
)

__all__ = [
    "DEFAULT_REREAD_DAYS",
    "INTERRUPTED",
    "REREAD_DAYS",
    "CsvImportOutcome",
    "ExchangeStatus",
    "ExchangeStatusDTO",
    "SourceFactory",
    "SyncOutcome",
    "SyncService",
    "error_class",
    "exchange_status",
    "sync_lock_key",
]
