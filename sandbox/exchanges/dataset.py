"""A deterministic data set the simulator serves and the tests compare against.

All money is USDT, `Decimal` with 8 decimal places. The same seed gives the same traders and
numbers; days are counted back from `end_day` (yesterday by default: exchanges report T+1).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from exchanges.base import UID_LENGTHS

EIGHT_DP = Decimal("0.00000001")
PRODUCTS = ("spot", "futures")
ONLY_PRODUCTS = {"blofin": ("futures",)}  # BloFin has derivatives only
# Products only some exchanges have, drawn from a random stream of their own (so adding one
# leaves every exchange's spot/futures numbers as they were), for a share of the traders.
EXTRA_PRODUCTS = {"okx": ("bsc",)}  # OKX's third commissionCategory, BSC
EXTRA_TRADER_SHARE = 0.4
EXTRA_DAY_SHARE = 0.5


def products(exchange: str) -> tuple[str, ...]:
    return ONLY_PRODUCTS.get(exchange, PRODUCTS) + EXTRA_PRODUCTS.get(exchange, ())


# Typical real UID lengths (the validation table only bounds them).
SIM_UID_LENGTH = {"okx": 18, "bitget": 10, "blofin": 11, "binance": 9, "bybit": 9}
FEE_RATE = {"spot": Decimal("0.001"), "futures": Decimal("0.0005")}
OUR_SHARE_OF_FEE = Decimal("0.4")  # what the exchange pays us out of the invitee's fee


def q8(value: Decimal) -> Decimal:
    return value.quantize(EIGHT_DP)


@dataclass(frozen=True, slots=True)
class SimTrader:
    uid: str
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Activity:
    uid: str
    day: date
    product: str
    volume: Decimal
    fee: Decimal
    commission: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    volume: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.volume + other.volume, self.fee + other.fee, self.commission + other.commission
        )


@dataclass
class Dataset:
    end_day: date
    days: int
    seed: int = 1
    api_key: str = "sim-key"
    traders: dict[str, list[SimTrader]] = field(default_factory=dict)
    activity: dict[str, list[Activity]] = field(default_factory=dict)
    # Per exchange, UIDs whose report rows the venue renders without our commission field (an
    # API that leaves it out), for the adapters' fallbacks. Only the Bybit venue reads it.
    no_commission_field: dict[str, set[str]] = field(default_factory=dict)

    @property
    def first_day(self) -> date:
        return self.end_day - timedelta(days=self.days - 1)

    @classmethod
    def build(
        cls,
        exchanges: list[str],
        *,
        traders: int = 50,
        days: int = 30,
        seed: int = 1,
        end_day: date | None = None,
    ) -> Dataset:
        if end_day is None:
            end_day = datetime.now(UTC).date() - timedelta(days=1)
        data = cls(end_day=end_day, days=days, seed=seed)
        for exchange in exchanges:
            rng = random.Random(f"{seed}:{exchange}")
            data.traders[exchange] = []
            data.activity[exchange] = []
            for _ in range(traders):
                registered = datetime.combine(
                    data.first_day - timedelta(days=60), time.min, tzinfo=UTC
                ) + timedelta(seconds=rng.randrange((days + 60) * 86400))
                trader = data._new_trader(exchange, rng, registered)
                data._simulate(exchange, trader, rng)
        return data

    def _new_uid(self, exchange: str, rng: random.Random) -> str:
        low, high = UID_LENGTHS.get(exchange, (8, 10))
        length = SIM_UID_LENGTH.get(exchange, max(low, min(high, 8)))
        taken = {t.uid for t in self.traders.get(exchange, [])}
        while True:
            uid = str(rng.randrange(10 ** (length - 1), 10**length))
            if uid not in taken:
                return uid

    def _new_trader(self, exchange: str, rng: random.Random, registered: datetime) -> SimTrader:
        trader = SimTrader(self._new_uid(exchange, rng), registered.replace(microsecond=0))
        self.traders.setdefault(exchange, []).append(trader)
        return trader

    def _simulate(self, exchange: str, trader: SimTrader, rng: random.Random) -> None:
        first = max(self.first_day, trader.registered_at.date())
        day = first
        while day <= self.end_day:
            for product in PRODUCTS:
                # Draw for every product so exchanges' data stay comparable across changes.
                if rng.random() < 0.55 and product in products(exchange):
                    volume = q8(Decimal(rng.randrange(50_00, 250_000_00)) / 100)
                    self.add_activity(exchange, trader.uid, day, product, volume)
            day += timedelta(days=1)
        for product in EXTRA_PRODUCTS.get(exchange, ()):
            extra = random.Random(f"{self.seed}:{exchange}:{trader.uid}:{product}")
            if extra.random() >= EXTRA_TRADER_SHARE:
                continue
            day = first
            while day <= self.end_day:
                if extra.random() < EXTRA_DAY_SHARE:
                    volume = q8(Decimal(extra.randrange(50_00, 50_000_00)) / 100)
                    self.add_activity(exchange, trader.uid, day, product, volume)
                day += timedelta(days=1)

    def add_activity(
        self,
        exchange: str,
        uid: str,
        day: date,
        product: str,
        volume: Decimal,
        fee: Decimal | None = None,
        commission: Decimal | None = None,
    ) -> Activity:
        fee = q8(volume * FEE_RATE.get(product, FEE_RATE["spot"])) if fee is None else q8(fee)
        commission = q8(fee * OUR_SHARE_OF_FEE) if commission is None else q8(commission)
        row = Activity(uid, day, product, q8(volume), fee, commission)
        self.activity.setdefault(exchange, []).append(row)
        return row

    def add_trader(
        self, exchange: str, uid: str | None = None, registered_at: datetime | None = None
    ) -> SimTrader:
        """Add an invitee at runtime (the demo makes a demo trader's UID appear)."""
        rng = random.Random(f"{self.seed}:{exchange}:{len(self.traders.get(exchange, []))}")
        registered = registered_at or datetime.now(UTC)
        if uid is None:
            return self._new_trader(exchange, rng, registered)
        trader = SimTrader(uid, registered.replace(microsecond=0))
        existing = [t for t in self.traders.setdefault(exchange, []) if t.uid != uid]
        self.traders[exchange] = [*existing, trader]
        return trader

    def find_trader(self, exchange: str, uid: str) -> SimTrader | None:
        return next((t for t in self.traders.get(exchange, []) if t.uid == uid), None)

    def activity_between(self, exchange: str, first: date, last: date) -> list[Activity]:
        return [a for a in self.activity.get(exchange, []) if first <= a.day <= last]

    def totals(
        self, exchange: str, first: date | None = None, last: date | None = None
    ) -> dict[tuple[str, date, str], Totals]:
        """Totals per (uid, day, product) - what an adapter's rows must add up to."""
        out: dict[tuple[str, date, str], Totals] = defaultdict(Totals)
        for a in self.activity_between(exchange, first or date.min, last or date.max):
            out[(a.uid, a.day, a.product)] += Totals(a.volume, a.fee, a.commission)
        return dict(out)

    def grand_totals(
        self, exchange: str, first: date | None = None, last: date | None = None
    ) -> Totals:
        total = Totals()
        for value in self.totals(exchange, first, last).values():
            total += value
        return total
