"""The product's exchanges, their defaults, and the factory for their affiliate adapters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from exchanges.base import UID_PATTERNS, AffiliateSource, Capabilities

if TYPE_CHECKING:
    from exchanges.adapters.ccxt_base import CcxtSource


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    id: str
    name: str
    data_source: Literal["api", "csv"]  # how commission data arrives
    link_template: str  # {code} = our referral / affiliate code
    trader_share: Decimal  # default share of the gross commission passed to the trader
    uid_pattern: re.Pattern[str]
    api_verified: bool  # False: adapter built from thin docs, keep behind a feature flag
    in_product: bool = True  # False: adapter only, not one of the product's 11 exchanges


def _info(
    id: str, name: str, source: Literal["api", "csv"], link: str, verified: bool = True,
    in_product: bool = True,
) -> ExchangeInfo:
    return ExchangeInfo(
        id, name, source, link, Decimal("0.6"), UID_PATTERNS[id], verified, in_product
    )


# Link templates are the exchanges' public referral URL shapes; operators override them.
EXCHANGES: dict[str, ExchangeInfo] = {
    info.id: info
    for info in (
        _info("mexc", "MEXC", "api", "https://www.mexc.com/register?inviteCode={code}"),
        _info("bitget", "Bitget", "api", "https://www.bitget.com/referral/register?clacCode={code}"),
        _info("bingx", "BingX", "api", "https://bingx.com/invite/{code}"),
        _info("weex", "Weex", "api", "https://www.weex.com/register?vipCode={code}", False),
        _info("bybit", "Bybit", "api", "https://www.bybit.com/invite?ref={code}"),
        # Binance's affiliate programme has no API (only Link/broker does): CSV export.
        _info("binance", "Binance", "csv", "https://accounts.binance.com/register?ref={code}"),
        # Bitmart left ccxt in 4.5.71: CSV export.
        _info("bitmart", "BitMart", "csv", "https://www.bitmart.com/register-referral?r={code}"),
        _info("okx", "OKX", "api", "https://www.okx.com/join/{code}"),
        _info("kucoin", "KuCoin", "api", "https://www.kucoin.com/r/af/{code}",
              verified=False),
        _info("htx", "HTX", "api", "https://www.htx.com/invite/en-us/1f?invite_code={code}",
              verified=False),
        _info("blofin", "BloFin", "api", "https://blofin.com/register?referral_code={code}"),
        # Gate: adapter only (not one of the product's exchanges).
        _info("gate", "Gate", "api", "https://www.gate.com/signup?ref={code}", verified=False,
              in_product=False),
    )
}
PRODUCT_EXCHANGES = [ex for ex, info in EXCHANGES.items() if info.in_product]


def _adapter_classes() -> dict[str, type[CcxtSource]]:
    # Imported here so that reading the registry never imports ccxt.
    from exchanges.adapters.bingx import BingXSource
    from exchanges.adapters.bitget import BitgetSource
    from exchanges.adapters.blofin import BloFinSource
    from exchanges.adapters.bybit import BybitSource
    from exchanges.adapters.gate import GateSource
    from exchanges.adapters.htx import HtxSource
    from exchanges.adapters.kucoin import KuCoinSource
    from exchanges.adapters.mexc import MexcSource
    from exchanges.adapters.okx import OkxSource
    from exchanges.adapters.weex import WeexSource

    classes: list[type[CcxtSource]] = [
        BybitSource,
        OkxSource,
        BitgetSource,
        MexcSource,
        BingXSource,
        KuCoinSource,
        BloFinSource,
        WeexSource,
        HtxSource,
        GateSource,
    ]
    return {cls.exchange_id: cls for cls in classes}


def api_exchanges() -> list[str]:
    """Exchanges that have an affiliate API adapter."""
    return sorted(_adapter_classes())


def capabilities(exchange_id: str) -> Capabilities | None:
    """What the exchange's adapter can do, or None when it has none (CSV only)."""
    cls = _adapter_classes().get(exchange_id)
    return cls.capabilities if cls else None


def build_source(
    exchange_id: str,
    *,
    api_url: str | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    api_password: str | None = None,
    timeout: float = 30.0,
    **options: Any,
) -> AffiliateSource:
    """Build the affiliate adapter of an exchange.

    `api_url` replaces the exchange's host (used for the simulator: pass
    `http://host:port/<exchange_id>`). Extra `options` go to the adapter: `rate_limit=False`
    (tests), `retry_attempts`, `retry_base_delay`, `sleep`.
    Raises ValueError for an unknown exchange or one whose data only arrives as CSV.
    """
    info = EXCHANGES.get(exchange_id)
    if info is None:
        raise ValueError(f"unknown exchange {exchange_id!r}")
    if info.data_source == "csv":
        raise ValueError(f"{exchange_id} has no affiliate API: import its CSV export")
    cls = _adapter_classes().get(exchange_id)
    if cls is None:
        raise ValueError(f"no API adapter for {exchange_id} yet: import its CSV export")
    source: AffiliateSource = cls(
        api_url=api_url, api_key=api_key, api_secret=api_secret, api_password=api_password,
        timeout=timeout, **options,
    )
    return source
