"""Valuing a commission record version: its gross (or estimate), the share, the split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.ledger import round_money, split_gross
from services.models.rates import EstimateBasis
from services.rebates.shares import RateBook, ShareQuote


@dataclass(frozen=True)
class _Booking:
    record: Any
    user_id: int
    exchange_id: str
    gross: Decimal
    trader: Decimal
    service: Decimal
    share: ShareQuote
    estimated: bool


def _value_all(records: Sequence[Any], rates: RateBook) -> list[_Booking]:
    return [b for b in (_value(r, rates) for r in records) if b is not None]


def _value(record: Any, rates: RateBook) -> _Booking | None:
    """What a record version is worth now, or None if it cannot be valued yet."""
    exchange_id: str = record["exchange_id"]
    day: date = record["day"]
    gross: Decimal | None = record["commission_usdt"]
    estimated = gross is None
    if gross is None:
        quote = rates.estimate_for(exchange_id, record["product"], day)
        if quote is None:
            return None
        base = record["fee_usdt"] if quote.basis is EstimateBasis.FEE else record["volume_usdt"]
        if base is None:
            return None
        # Estimates follow the same rounding rule: cut toward zero, never overstated.
        gross = round_money(base * quote.rate)
    share = rates.share_for(record["user_id"], exchange_id, day)
    trader, service = split_gross(gross, share.share)
    return _Booking(record=record, user_id=record["user_id"], exchange_id=exchange_id,
                    gross=gross, trader=trader, service=service, share=share,
                    estimated=estimated)
