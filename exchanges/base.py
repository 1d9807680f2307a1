"""The one interface every exchange adapter implements, and the data shapes it returns.

Money is `Decimal`, times are timezone-aware UTC. A field that is `None` means "the exchange does
not report this": adapters never invent numbers (no fee derived from a rate, no estimated
commission) - estimating is the domain's job and must be visible there.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

USDT = "USDT"
# Stable coins counted 1:1 with USDT when an exchange reports money in them.
USD_STABLES = frozenset({"USDT", "USDC", "USD", "FDUSD"})


@dataclass(frozen=True, slots=True)
class Invitee:
    uid: str
    registered_at: datetime | None


@dataclass(frozen=True, slots=True)
class CommissionRow:
    """One invitee's numbers for one UTC day and product, as the exchange reports them.

    `rate_to_usdt` is the rate used for the `*_usdt` fields; it is `None` (and so are the
    `*_usdt` fields) when the exchange reports a non-USD coin and no USDT value.
    """

    exchange: str
    uid: str
    day: date
    product: str  # "spot" | "futures" | "all" (exchange reports one total) | other lower-case
    volume: Decimal | None
    fee: Decimal | None
    commission: Decimal | None
    currency: str
    rate_to_usdt: Decimal | None
    volume_usdt: Decimal | None
    fee_usdt: Decimal | None
    commission_usdt: Decimal | None
    source_key: str


@dataclass(frozen=True, slots=True)
class Capabilities:
    commission: bool  # reports our commission per invitee and day
    volume: bool
    fee: bool
    uid_check: bool  # can confirm one UID is our invitee right away
    verified: bool  # False: built from thin docs, never seen against the real exchange


class AffiliateSource(ABC):
    """Reads our affiliate data from one exchange."""

    exchange_id: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    @abstractmethod
    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        """Invitees registered at or after `since` (all when None)."""

    @abstractmethod
    async def check_uid(self, uid: str) -> Invitee | None:
        """The invitee with this UID, or None when it is not ours."""

    @abstractmethod
    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        """Rows for every UTC day from start's day to end's day, both inclusive.

        Paging and the exchange's window limits are handled inside (chunked requests).
        """

    @abstractmethod
    async def close(self) -> None: ...


def source_key(exchange: str, uid: str, day: date, product: str, currency: str = USDT) -> str:
    """Stable key of a row, shared by the API and the CSV path so overlaps never double count.

    The currency becomes a sub-key only when it is not USDT (an exchange can pay one invitee's
    day in several coins).
    """
    key = f"{exchange}:{uid}:{day.isoformat()}:{product}"
    return key if currency.upper() == USDT else f"{key}:{currency.upper()}"


def make_row(
    exchange: str,
    uid: str,
    day: date,
    product: str,
    *,
    volume: Decimal | None,
    fee: Decimal | None,
    commission: Decimal | None,
    currency: str = USDT,
    rate_to_usdt: Decimal | None = None,
) -> CommissionRow:
    """Build a row, converting to USDT with the given rate (stable coins: 1)."""
    currency = currency.upper()
    if rate_to_usdt is None and currency in USD_STABLES:
        rate_to_usdt = Decimal(1)

    def usdt(value: Decimal | None) -> Decimal | None:
        if value is None or rate_to_usdt is None:
            return None
        return value * rate_to_usdt

    return CommissionRow(
        exchange=exchange,
        uid=uid,
        day=day,
        product=product,
        volume=volume,
        fee=fee,
        commission=commission,
        currency=currency,
        rate_to_usdt=rate_to_usdt,
        volume_usdt=usdt(volume),
        fee_usdt=usdt(fee),
        commission_usdt=usdt(commission),
        source_key=source_key(exchange, uid, day, product, currency),
    )


# UID lengths seen in the wild, widened a little: UIDs are decimal digits everywhere we know.
UID_LENGTHS: dict[str, tuple[int, int]] = {
    "mexc": (5, 12),
    "bitget": (6, 12),
    "bingx": (5, 12),
    "weex": (5, 12),
    "bybit": (5, 12),
    "binance": (6, 12),
    "bitmart": (5, 12),
    "okx": (6, 20),
    "kucoin": (5, 12),
    "htx": (5, 12),
    "blofin": (6, 14),
    "gate": (5, 12),
}
UID_PATTERNS: dict[str, re.Pattern[str]] = {
    ex: re.compile(rf"^\d{{{lo},{hi}}}$") for ex, (lo, hi) in UID_LENGTHS.items()
}
_UID_NOISE = re.compile(r"[\s\-_]")


def validate_uid(exchange_id: str, text: str) -> str:
    """Normalise a UID a trader typed; raise ValueError(reason code) when it cannot be one.

    Reason codes: unknown_exchange, empty, not_digits, too_short, too_long.
    """
    if exchange_id not in UID_PATTERNS:
        raise ValueError("unknown_exchange")
    uid = text.strip()
    if uid.lower().startswith("uid"):  # people paste "UID: 12345678"
        uid = uid[3:].lstrip(":# ")
    uid = _UID_NOISE.sub("", uid)
    if not uid:
        raise ValueError("empty")
    if not uid.isascii() or not uid.isdigit():
        raise ValueError("not_digits")
    low, high = UID_LENGTHS[exchange_id]
    if len(uid) < low:
        raise ValueError("too_short")
    if len(uid) > high:
        raise ValueError("too_long")
    return uid
