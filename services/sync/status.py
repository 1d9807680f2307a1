"""Exchange status for operators and traders (seed 000 §3: OK / Lag / Error / Disabled)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_REREAD_DAYS = 3


class ExchangeStatus(StrEnum):
    """Seed 000 §3: OK < 2× the interval since the last good sync; Lag < 3×; else Error.
    Neither applies to an exchange without API credentials (not configured: nothing to sync,
    not a failure) or one whose data arrives only as CSV imports (its last import is shown)."""

    OK = "ok"
    LAG = "lag"
    ERROR = "error"
    DISABLED = "disabled"
    NOT_CONFIGURED = "not_configured"
    CSV = "csv"


@dataclass(frozen=True)
class ExchangeStatusDTO:
    exchange_id: str
    name: str
    status: ExchangeStatus
    last_success_at: datetime | None
    next_due_at: datetime | None
    last_error: str | None
    data_source: str = "api"
    last_deep_read_at: datetime | None = None
    reread_days: int = DEFAULT_REREAD_DAYS


def exchange_status(
    *, enabled: bool, interval: timedelta, last_run_failed: bool | None,
    last_success_at: datetime | None, now: datetime, data_source: str = "api",
    configured: bool = True,
) -> ExchangeStatus:
    if not enabled:
        return ExchangeStatus.DISABLED
    if data_source != "api":
        return ExchangeStatus.CSV
    if not configured:
        return ExchangeStatus.NOT_CONFIGURED
    if last_run_failed or last_success_at is None:
        return ExchangeStatus.ERROR
    age = now - last_success_at
    if age < 2 * interval:
        return ExchangeStatus.OK
    if age < 3 * interval:
        return ExchangeStatus.LAG
    return ExchangeStatus.ERROR
