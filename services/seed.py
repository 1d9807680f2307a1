"""Reference data a fresh installation starts with (applied by ``python -m bot migrate``)."""

from __future__ import annotations

from dataclasses import dataclass

from exchanges.registry import EXCHANGES, PRODUCT_EXCHANGES
from services.exchange_catalog import ExchangeCatalog, ExchangeSeed
from services.models import DataSource
from services.payouts.config import seed_payout_config

# Our affiliate code until an operator sets the real one per exchange in the admin screens.
DEFAULT_REFERRAL_CODE = "CRYPTOREBATE"


def exchange_seeds(referral_code: str = DEFAULT_REFERRAL_CODE) -> list[ExchangeSeed]:
    seeds = []
    for exchange_id in PRODUCT_EXCHANGES:
        info = EXCHANGES[exchange_id]
        seeds.append(ExchangeSeed(
            id=info.id,
            name=info.name,
            link_template=info.link_template.replace("{code}", referral_code),
            trader_share=info.trader_share,
            data_source=DataSource(info.data_source),
            api_verified=info.api_verified,
        ))
    return seeds


@dataclass(frozen=True)
class Seeded:
    exchanges: int
    payout_rows: int  # payout networks and the payout settings row


async def seed_reference_data(catalog: ExchangeCatalog) -> Seeded:
    """The exchanges, and the payout networks and thresholds (missing rows only)."""
    return Seeded(await catalog.seed(exchange_seeds()), await seed_payout_config())
