"""What a sync run or a CSV import returns, and how a run's error is classed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exchanges.csv_import import CsvRowError
from exchanges.errors import AuthError, PermanentError, RateLimited


@dataclass(frozen=True)
class SyncOutcome:
    exchange_id: str
    status: str  # ok | failed | skipped
    run_id: int | None = None
    records_seen: int = 0
    records_new: int = 0
    records_changed: int = 0
    verified: int = 0
    rejected: int = 0
    error_class: str | None = None
    error: str | None = None
    window_start: datetime | None = None
    verified_uids: tuple[str, ...] = ()  # their whole history is new to the rebate engine


@dataclass(frozen=True)
class CsvImportOutcome:
    exchange_id: str
    dry_run: bool
    rows: int
    errors: list[CsvRowError]
    new: int = 0
    changed: int = 0

    @property
    def unchanged(self) -> int:
        return self.rows - self.new - self.changed


def error_class(error: Exception) -> str:
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, AuthError):
        return "auth"
    if isinstance(error, PermanentError):
        return "permanent"
    return "temporary"


@dataclass(frozen=True)
class PendingPlan:
    """What happens next to a pending UID, for telling its trader right after linking.

    ``instant``: the exchange is asked about this one UID now (a worker job), and the trader
    hears the answer. ``next_check_at``: when the next regular check is (None: within minutes,
    or no regular check). ``reject_at``: when a UID still not found is rejected (None: never
    automatically, e.g. an exchange whose data does not reach us yet). ``via``: "api", "csv"
    (checked when an operator imports the next report) or "none" (no data source configured).
    """

    instant: bool
    via: str
    next_check_at: datetime | None
    reject_at: datetime | None


class UidLookup:
    """The answer of an at-once UID check (values, for logs and tests)."""

    VERIFIED = "verified"
    NOT_FOUND = "not_found"  # the exchange does not list it (yet); it stays pending
    FAILED = "failed"  # the exchange could not be asked; the regular sync checks again
    NOT_PENDING = "not_pending"  # verified, rejected or unlinked meanwhile
    NO_LOOKUP = "no_lookup"  # this exchange cannot be asked about one UID
