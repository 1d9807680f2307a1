"""The bot's money words: the shared formatting (services/formatting.py) and an exchange's
trader share."""

from __future__ import annotations

from services.dto import ExchangeDTO
from services.formatting import moment, money, percent

__all__ = ["moment", "money", "percent", "trader_share"]


def trader_share(exchange: ExchangeDTO, locale: str = "en") -> str:
    """The trader's share on an exchange in percent: 60, 62.5 (62,5 in Russian)."""
    return percent(exchange.trader_share * 100, locale)
