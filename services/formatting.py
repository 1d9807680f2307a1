"""How amounts and moments are written for people: in the reader's language, exact, never
rounded away. Shared by the bot's screens, the outbox and the web pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import parse_pattern

# At least two decimals; more when the amount has them, up to the ledger's 8: 0.00000123 USDT
# stays 0.00000123 (not 0.00), so the lines a trader sees add up to the totals shown.
_MONEY = parse_pattern("#,##0.00######")
# A share as a person writes it: 60, 62.5, never 60.00.
_PERCENT = parse_pattern("#,##0.########")


@lru_cache(maxsize=32)
def _locale(code: str) -> Locale:
    """Parsed once per language: babel's format_decimal parses the locale and the pattern on
    every call, which was most of a Mini App dashboard answer's time (79 amounts)."""
    return Locale.parse(code)


def money(amount: Decimal | None, locale: str = "en") -> str:
    """``2,750.00`` in English, ``2 750,00`` (a no-break space) in Russian; "—" for none."""
    if amount is None:
        return "—"
    return str(_MONEY.apply(amount, _locale(locale)))


def percent(share: Decimal, locale: str = "en") -> str:
    return str(_PERCENT.apply(share, _locale(locale)))


@lru_cache(maxsize=4096)  # the same sync moments are shown to every trader for minutes
def moment(at: datetime, locale: str = "en") -> str:
    """A point in time as the reader writes it, in UTC (we do not know the reader's zone, so
    the zone is named): "3 December, 14:05 UTC", "3 декабря, 14:05 UTC"."""
    return format_datetime(at.astimezone(UTC), "d MMMM, HH:mm", tzinfo=UTC,
                           locale=locale) + " UTC"


def day_text(day: date, locale: str = "en") -> str:
    """A calendar day as the reader writes it: "3 December 2026", "3 декабря 2026 г."."""
    return str(format_date(day, "long", locale=locale))
