"""The public rate card: each enabled exchange with the trader's share in force (and since when),
and the estimate rates the rebate engine would value a record with, plus the calculator's
arithmetic on top of them.

The share is the exchange default (what a trader without a personal or VIP rate gets), resolved
from the same history the engine reads (``rate_exchange_shares``). The engine books the
commission an exchange reports; where it reports none it uses the admin's estimate rates
(``rate_estimates``, set with /estimate). Those are the only rates of "what we earn" the service
keeps (``exchanges.commission_rate`` is informational and never set), so the calculator uses
them, and says where there is none, rather than guess one.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from services.exchange_catalog import ExchangeCatalog
from services.ledger import round_money, split_gross
from services.models.rates import ALL, EstimateBasis, EstimateRate, ExchangeShareHistory
from services.rebates.shares import EPOCH, today_utc

CENT = Decimal("0.01")


@dataclass(frozen=True)
class EstimateDTO:
    product: str  # "*" for every product without a rate of its own
    basis: EstimateBasis
    rate: Decimal
    valid_from: date


@dataclass(frozen=True)
class ShareChangeDTO:
    share: Decimal
    valid_from: date


@dataclass(frozen=True)
class ExchangeRateDTO:
    id: str
    name: str
    share: Decimal  # in force today, 0..1
    # The day the share in force took effect; None when it never changed since set-up.
    share_since: date | None
    upcoming: ShareChangeDTO | None  # a change already scheduled for a later day
    estimates: tuple[EstimateDTO, ...]  # in force today, the "*" one first


@dataclass(frozen=True)
class EstimateResultDTO:
    product: str
    basis: EstimateBasis
    rate: Decimal
    gross: Decimal  # our commission, cut to the ledger's 8 decimals like the engine does
    trader: Decimal  # the trader's part, to the cent, rounded down (never overstated)


@dataclass(frozen=True)
class ExchangeEstimateDTO:
    exchange: ExchangeRateDTO
    results: tuple[EstimateResultDTO, ...]  # empty: no rate to estimate from


def estimate_rebate(
    volume: Decimal, fee_rate: Decimal, share: Decimal, estimate: EstimateDTO
) -> EstimateResultDTO:
    """A month's rebate for ``volume`` USDT traded at a taker fee of ``fee_rate`` (a fraction:
    0.001 for 0.1%): the gross as the engine values an estimated record, the trader's share
    of it as the engine splits it, then cut to the cent for showing."""
    base = volume * fee_rate if estimate.basis is EstimateBasis.FEE else volume
    gross = round_money(base * estimate.rate)
    trader, _ = split_gross(gross, share)
    return EstimateResultDTO(product=estimate.product, basis=estimate.basis,
                             rate=estimate.rate, gross=gross,
                             trader=trader.quantize(CENT, rounding=ROUND_DOWN))


class RateCardService:
    """Read-only; served from a short-lived copy per day (the page is public: a flood of
    requests costs two small queries per CACHE_SECONDS, and an admin's change shows within
    them, as with ExchangeCatalog)."""

    CACHE_SECONDS = 10.0

    def __init__(self, exchanges: ExchangeCatalog) -> None:
        self._exchanges = exchanges
        self._cached: tuple[date, list[ExchangeRateDTO]] | None = None
        self._cached_at = float("-inf")

    def forget_cache(self) -> None:
        self._cached_at = float("-inf")

    async def rate_card(self, day: date | None = None) -> list[ExchangeRateDTO]:
        day = day or today_utc()
        now = time.monotonic()
        if (self._cached is None or self._cached[0] != day
                or now - self._cached_at > self.CACHE_SECONDS):
            self._cached = (day, await self._load(day))
            self._cached_at = now
        return self._cached[1]

    async def estimate(
        self, volume: Decimal, fee_rate: Decimal, day: date | None = None
    ) -> list[ExchangeEstimateDTO]:
        return [
            ExchangeEstimateDTO(exchange=rate, results=tuple(
                estimate_rebate(volume, fee_rate, rate.share, quote) for quote in rate.estimates
            ))
            for rate in await self.rate_card(day)
        ]

    async def _load(self, day: date) -> list[ExchangeRateDTO]:
        exchanges = await self._exchanges.list()
        ids = [exchange.id for exchange in exchanges]
        shares: dict[str, list[ExchangeShareHistory]] = defaultdict(list)
        for row in await ExchangeShareHistory.filter(exchange_id__in=ids).order_by("valid_from"):
            shares[row.exchange_id].append(row)
        estimates: dict[str, dict[str, EstimateDTO]] = defaultdict(dict)
        for estimate in await EstimateRate.filter(
            exchange_id__in=ids, valid_from__lte=day
        ).order_by("valid_from"):
            # Later rows replace earlier ones: the last one per product is in force.
            estimates[estimate.exchange_id][estimate.product] = EstimateDTO(
                product=estimate.product, basis=EstimateBasis(estimate.basis),
                rate=Decimal(estimate.rate), valid_from=estimate.valid_from)
        card = []
        for exchange in exchanges:
            history = shares.get(exchange.id, [])
            past = [row for row in history if row.valid_from <= day]
            future = [row for row in history if row.valid_from > day]
            if past:
                share, since = Decimal(past[-1].share), past[-1].valid_from
            else:  # never changed through RateService: the configured value always applied
                share, since = exchange.trader_share, EPOCH
            by_product = estimates.get(exchange.id, {})
            card.append(ExchangeRateDTO(
                id=exchange.id, name=exchange.name, share=share,
                share_since=None if since == EPOCH else since,
                upcoming=ShareChangeDTO(Decimal(future[0].share), future[0].valid_from)
                if future else None,
                estimates=tuple(sorted(by_product.values(),
                                       key=lambda e: (e.product != ALL, e.product))),
            ))
        return card
