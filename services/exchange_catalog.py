"""The exchanges we work with, as configured by the operators."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from services.dto import ExchangeDTO
from services.models import DataSource, Exchange


@dataclass(frozen=True)
class ExchangeSeed:
    """What a fresh installation starts with; operators change it afterwards."""

    id: str
    name: str
    link_template: str
    trader_share: Decimal
    data_source: DataSource
    api_verified: bool = True
    commission_rate: Decimal | None = None


def to_dto(exchange: Exchange) -> ExchangeDTO:
    return ExchangeDTO(
        id=exchange.id,
        name=exchange.name,
        enabled=exchange.enabled,
        link_template=exchange.link_template,
        trader_share=Decimal(exchange.trader_share),
        commission_rate=(
            Decimal(exchange.commission_rate) if exchange.commission_rate is not None else None
        ),
        min_withdrawal=Decimal(exchange.min_withdrawal),
        sync_interval_minutes=exchange.sync_interval_minutes,
        data_source=DataSource(exchange.data_source),
        api_verified=exchange.api_verified,
    )


class ExchangeCatalog:
    async def list(self, *, enabled_only: bool = True) -> list[ExchangeDTO]:
        query = Exchange.all()
        if enabled_only:
            query = query.filter(enabled=True)
        return [to_dto(exchange) for exchange in await query.order_by("position", "id")]

    async def get(self, exchange_id: str) -> ExchangeDTO | None:
        exchange = await Exchange.get_or_none(id=exchange_id)
        return to_dto(exchange) if exchange else None

    async def seed(self, seeds: Iterable[ExchangeSeed]) -> int:
        """Insert the exchanges that are missing; never overwrite what operators changed."""
        existing = {exchange.id for exchange in await Exchange.all().only("id")}
        added = 0
        for position, seed in enumerate(seeds):
            if seed.id in existing:
                continue
            await Exchange.create(
                id=seed.id,
                name=seed.name,
                position=position,
                link_template=seed.link_template,
                trader_share=seed.trader_share,
                commission_rate=seed.commission_rate,
                data_source=seed.data_source,
                api_verified=seed.api_verified,
            )
            added += 1
        return added
