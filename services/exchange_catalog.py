"""The exchanges we work with, as configured by the operators."""

from __future__ import annotations

import time
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
    """Reads are served from a short-lived in-process copy: the eleven rows are read on almost
    every screen and change only when an operator edits them (then every process sees the
    change within CACHE_SECONDS)."""

    CACHE_SECONDS = 10.0

    def __init__(self) -> None:
        self._cached: list[ExchangeDTO] = []
        self._cached_at = float("-inf")

    async def _all(self) -> list[ExchangeDTO]:
        now = time.monotonic()
        if now - self._cached_at > self.CACHE_SECONDS:
            rows = await Exchange.all().order_by("position", "id")
            self._cached = [to_dto(exchange) for exchange in rows]
            self._cached_at = now
        return self._cached

    def forget_cache(self) -> None:
        self._cached_at = float("-inf")

    async def list(self, *, enabled_only: bool = True) -> list[ExchangeDTO]:
        return [e for e in await self._all() if e.enabled or not enabled_only]

    async def get(self, exchange_id: str) -> ExchangeDTO | None:
        return next((e for e in await self._all() if e.id == exchange_id), None)

    async def set_sync_interval(self, minutes: int, *, data_source: DataSource) -> int:
        """Set the sync interval of every exchange whose data arrives that way."""
        if minutes < 1:
            raise ValueError("the interval is at least a minute")
        changed = await Exchange.filter(data_source=data_source).update(
            sync_interval_minutes=minutes)
        self.forget_cache()
        return changed

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
        self.forget_cache()
        return added
