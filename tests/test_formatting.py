"""services.formatting writes amounts exactly as babel does (its exact path for the ledger's
amounts is checked here against babel itself), in the reader's language."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale
from hypothesis import given, settings
from hypothesis import strategies as st

from services.formatting import _MONEY, _PERCENT, money, money_parts, percent, percent_parts
from webapp.api.common import amount_text

LOCALES = ("en", "ru", "de", "fr", "es", "hi", "ar", "pt_BR")

# What the ledger holds (NUMERIC(30,8)), from zero to beyond a trillion, either sign.
ledger_amounts = st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=8,
                             allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(amount=ledger_amounts, locale=st.sampled_from(LOCALES))
def test_money_and_percent_are_babels_text(amount: Decimal, locale: str) -> None:
    parsed = Locale.parse(locale)
    assert money(amount, locale) == _MONEY.apply(amount, parsed)
    assert percent(amount, locale) == _PERCENT.apply(amount, parsed)
    assert money_parts(amount, locale) == (amount_text(amount), money(amount, locale))
    assert percent_parts(amount, locale) == (amount_text(amount), percent(amount, locale))


def test_the_readers_words_for_amounts() -> None:
    assert money(Decimal("2750.5"), "en") == "2,750.50"
    assert money(Decimal("2750.5"), "ru") == "2\u00a0750,50"
    assert money(Decimal("0.00000123"), "ru") == "0,00000123"  # never rounded away
    assert money(Decimal("-0E-8"), "en") == _MONEY.apply(Decimal("-0E-8"), Locale.parse("en"))
    assert money(Decimal("1E+5"), "en") == "100,000.00"
    assert money(None) == "—"
    assert money_parts(Decimal("-0E-8"), "en")[0] == "0" == amount_text(Decimal("-0E-8"))
    assert money_parts(Decimal("1E+5"), "ru") == ("100000", "100\u00a0000,00")
    assert money_parts(Decimal("0.000000015"), "en") == ("0.000000015", "0.00000002")
    assert percent(Decimal("62.50"), "ru") == "62,5" and percent(Decimal("60"), "en") == "60"


def test_more_decimals_than_shown_are_rounded_as_babel_rounds_them() -> None:
    for value in ("0.000000015", "0.000000025", "1234.123456785", "1E-12"):
        amount = Decimal(value)
        for locale in ("en", "ru"):
            assert money(amount, locale) == _MONEY.apply(amount, Locale.parse(locale))
    assert money(Decimal("0.000000015"), "en") == "0.00000002"  # half to even
    for special in ("NaN", "Infinity", "-Infinity"):
        assert money(Decimal(special), "en") == _MONEY.apply(Decimal(special), Locale.parse("en"))
