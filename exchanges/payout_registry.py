"""The factory for payout adapters: which exchanges can pay traders out, and building them.

Mirrors `registry.build_source` (same construction inputs: the exchange's EXCHANGE_<ID>_*
credentials and `api_url` for the simulator). A payout key needs the exchange's withdraw
permission, which an affiliate (read-only) key should not have: pass the key meant for payouts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchanges.payouts import PayoutCapabilities, PayoutSource
from exchanges.registry import EXCHANGES

if TYPE_CHECKING:
    from exchanges.adapters.payout_base import CcxtPayouts

# The exchanges with a payout adapter and whether each can pay to a UID (internal transfer),
# known without importing ccxt (a test keeps this table equal to the adapters' capabilities).
PAYOUT_ADAPTERS: dict[str, bool] = {"okx": True, "bitget": True}


def _payout_classes() -> dict[str, type[CcxtPayouts]]:
    # Imported here so that reading the registry never imports ccxt.
    from exchanges.adapters.bitget_payouts import BitgetPayouts
    from exchanges.adapters.okx_payouts import OkxPayouts

    classes: list[type[CcxtPayouts]] = [OkxPayouts, BitgetPayouts]
    return {cls.exchange_id: cls for cls in classes}


def payout_exchanges() -> list[str]:
    """Exchanges with a payout adapter."""
    return sorted(_payout_classes())


def payout_capabilities(exchange_id: str) -> PayoutCapabilities | None:
    cls = _payout_classes().get(exchange_id)
    return cls.payout_capabilities if cls else None


def payout_source(
    exchange_id: str,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    api_password: str | None = None,
    timeout: float = 30.0,
    **options: Any,
) -> PayoutSource | None:
    """Build the payout adapter of an exchange, or None when it has none (yet).

    `api_url` replaces the exchange's host (the simulator: `http://host:port/<exchange_id>`).
    Extra `options` go to the adapter: `rate_limit=False` (tests), `retry_attempts`,
    `retry_base_delay`, `sleep` (reads only: a withdrawal request is sent once), and for Bitget
    `lookback_days` (how far back find_withdrawal looks, default 90).
    Raises ValueError for an unknown exchange.
    """
    if exchange_id not in EXCHANGES:
        raise ValueError(f"unknown exchange {exchange_id!r}")
    cls = _payout_classes().get(exchange_id)
    if cls is None:
        return None
    source: PayoutSource = cls(
        api_url=api_url, api_key=api_key, api_secret=api_secret, api_password=api_password,
        timeout=timeout, **options,
    )
    return source
