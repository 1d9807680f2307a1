"""The tests' "today": read when a test runs, not when its module is imported, so a run that
crosses UTC midnight compares the code's today with the same day (a module-level constant was
yesterday by then)."""

from __future__ import annotations

from datetime import UTC, date, datetime


def today() -> date:
    """Today's UTC day, as the code under test reads it."""
    return datetime.now(UTC).date()
