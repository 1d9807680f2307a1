"""How amounts are written for people: exact, never rounded away."""

from __future__ import annotations

from decimal import Decimal


def money(amount: Decimal | None, places: int = 2) -> str:
    """At least ``places`` decimals, more when the amount has them (up to its 8): 0.0123 stays
    0.0123, so the lines a trader sees add up to the totals shown."""
    if amount is None:
        return "—"
    exponent = amount.normalize().as_tuple().exponent
    decimals = max(places, -exponent) if isinstance(exponent, int) else places
    return f"{amount:,.{decimals}f}"


def percent(share: Decimal) -> str:
    return f"{share.normalize():f}"
