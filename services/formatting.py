"""How amounts and moments are written for people: in the reader's language, exact, never
rounded away. Shared by the bot's screens, the outbox and the web pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import get_decimal_symbol, get_group_symbol, parse_pattern

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


_MAX_FRACTION = 8  # both patterns' most decimals


@lru_cache(maxsize=32)
def _separators(code: str) -> tuple[str, str] | None:
    """The locale's group and decimal symbols of the Latin digits (babel's, which the patterns
    are applied with); None where they are Python's own ``,`` and ``.`` (English: nothing to
    replace)."""
    locale = _locale(code)
    symbols = (get_group_symbol(locale, numbering_system="latn"),
               get_decimal_symbol(locale, numbering_system="latn"))
    return None if symbols == (",", ".") else symbols


def _worded(whole: str, fraction: str, code: str) -> str:
    """Python's ``1,234`` and ``5`` written with the locale's symbols: ``1 234,5``. Two
    str.replace calls, not str.translate: translate took half of an amount's time."""
    separators = _separators(code)
    if separators is None:
        return f"{whole}.{fraction}" if fraction else whole
    group, point = separators
    if "," in whole:
        whole = whole.replace(",", group)
    return f"{whole}{point}{fraction}" if fraction else whole


@lru_cache(maxsize=64)
def _zero(min_fraction: int, code: str) -> tuple[str, str]:
    return "0", _worded("0", "0" * min_fraction, code)


def _parts(amount: Decimal, min_fraction: int, code: str) -> tuple[str, str] | None:
    """(the exact amount as a plain decimal string, what babel writes for the pattern with
    ``min_fraction`` decimals) for an amount with at most 8 decimals (all the ledger holds:
    nothing to round), from the standard library's own thousands grouping; None for anything
    else (NaN, ∞, more decimals: babel rounds those). babel took ~6 µs an amount, most of a
    Mini App dashboard answer's time; tests/test_formatting.py checks this against babel
    itself (and the plain string against Decimal's own) over random amounts in several
    languages."""
    if not amount and not amount.is_signed():  # most of a new trader's figures (babel
        return _zero(min_fraction, code)  # writes -0 with its sign: the general way below)
    if not amount.is_finite():
        return None
    whole, _, fraction = f"{amount:,f}".partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) > _MAX_FRACTION:
        return None
    plain = whole.replace(",", "") if amount else "0"  # -0 too: no sign on nothing
    if fraction:
        plain = f"{plain}.{fraction}"
    if len(fraction) < min_fraction:
        fraction += "0" * (min_fraction - len(fraction))
    return plain, _worded(whole, fraction, code)


def plain_amount(value: Decimal) -> str:
    """An exact decimal string without exponent or trailing zeros: "2750.5", "0.00000123"."""
    if not value:  # no normalize() for a zero, and no sign on nothing
        return "0"
    return f"{value.normalize():f}"


def money_parts(amount: Decimal, locale: str = "en") -> tuple[str, str]:
    """(``2750.5``, ``2 750,50``): the exact amount without exponent or trailing zeros, and
    money() of it, in one go (the Mini App's API sends both for every amount)."""
    return _parts(amount, 2, locale) or (plain_amount(amount),
                                         str(_MONEY.apply(amount, _locale(locale))))


def money(amount: Decimal | None, locale: str = "en") -> str:
    """``2,750.00`` in English, ``2 750,00`` (a no-break space) in Russian; "—" for none."""
    if amount is None:
        return "—"
    return money_parts(amount, locale)[1]


def percent_parts(share: Decimal, locale: str = "en") -> tuple[str, str]:
    """(``62.5``, ``62,5``): the exact share and percent() of it, in one go."""
    return _parts(share, 0, locale) or (plain_amount(share),
                                        str(_PERCENT.apply(share, _locale(locale))))


def percent(share: Decimal, locale: str = "en") -> str:
    return percent_parts(share, locale)[1]


@lru_cache(maxsize=4096)  # the same sync moments are shown to every trader for minutes
def moment(at: datetime, locale: str = "en") -> str:
    """A point in time as the reader writes it, in UTC (we do not know the reader's zone, so
    the zone is named): "3 December, 14:05 UTC", "3 декабря, 14:05 UTC"."""
    return format_datetime(at.astimezone(UTC), "d MMMM, HH:mm", tzinfo=UTC,
                           locale=locale) + " UTC"


def day_text(day: date, locale: str = "en") -> str:
    """A calendar day as the reader writes it: "3 December 2026", "3 декабря 2026 г."."""
    return str(format_date(day, "long", locale=locale))
