"""Money: the asset, 8-dp amounts and THE rounding rule of the service."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

USDT = "USDT"
MONEY_PLACES = 8
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
ZERO = Decimal(0)


def round_money(value: Decimal) -> Decimal:
    """THE rounding rule of the service: amounts are cut toward zero to 8 decimal places.

    Whoever splits an amount rounds the party paid out (the trader) with this and gives the
    remainder to the service, so the parts always add up to the whole (see split_gross).
    """
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)


def split_gross(gross: Decimal, share: Decimal) -> tuple[Decimal, Decimal]:
    """(trader, service) for a gross commission: the trader's part rounded by round_money, the
    remainder to the service."""
    trader = round_money(gross * share)
    return trader, gross - trader


def is_money(value: Decimal) -> bool:
    """True if the value is finite and has at most 8 decimal places."""
    return value.is_finite() and value == value.quantize(MONEY_QUANTUM)

