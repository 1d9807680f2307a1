"""Helpers comparing adapter output with the simulator's data set."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from exchanges.base import AffiliateSource, CommissionRow
from sandbox.exchanges import Dataset, Faults
from sandbox.exchanges.venues import bybit as bybit_venue

END_DAY = date(2026, 11, 20)  # fixed, so data never depends on the day tests run


@dataclass
class Sim:
    dataset: Dataset
    faults: Faults
    url: str
    sleeps: list[float] = field(default_factory=list)


def assert_rows_match(
    source: AffiliateSource, rows: list[CommissionRow], dataset: Dataset, first: date, last: date
) -> None:
    exchange = source.exchange_id
    caps = source.capabilities
    assert rows, "no rows"
    assert len({r.source_key for r in rows}) == len(rows), "duplicate source keys"
    folded = all(r.product == "all" for r in rows)
    expected: dict[tuple[str, date, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for (uid, day, product), total in dataset.totals(exchange, first, last).items():
        slot = expected[(uid, day, "all" if folded else product)]
        slot[0] += total.volume
        slot[1] += total.fee
        slot[2] += total.commission
    groups: dict[tuple[str, date, str], list[CommissionRow]] = defaultdict(list)
    for r in rows:  # several rows per key when the exchange pays one day in several coins
        groups[(r.uid, r.day, r.product)].append(r)
    assert set(groups) == set(expected)
    paid = paid_usdt(exchange, dataset, first, last)
    for key, (volume, fee, commission) in expected.items():
        group = groups[key]
        for row in group:
            assert row.exchange == exchange
            assert first <= row.day <= last
            assert (row.fee is not None) == caps.fee
            assert (row.commission is not None) == caps.commission
            if row.currency == "USDT" and row.commission is not None:
                assert row.commission_usdt == row.commission, key
        # Volume is reported once per uid, day and product: exactly one row carries it.
        carriers = [r for r in group if r.volume is not None]
        assert len(carriers) == (1 if caps.volume else 0), key
        if carriers:
            assert carriers[0].volume == volume, key
            assert carriers[0].volume_usdt == volume
        if caps.fee:
            assert sum((r.fee for r in group if r.fee is not None), Decimal(0)) == fee, key
        if caps.commission:
            values = [r.commission_usdt for r in group]
            assert None not in values, key
            got_paid = sum((v for v in values if v is not None), Decimal(0))
            assert got_paid == (paid[key] if paid is not None else commission), key


def paid_usdt(
    exchange: str, dataset: Dataset, first: date, last: date
) -> dict[tuple[str, date, str], Decimal] | None:
    """USDT value the venue pays per key where that is not the data set's USDT truth, else None.

    Bybit's venue pays part of some days in BTC/ETH/MNT/USDC, amounts rounded in the coin: the
    exact value is those amounts at the venue's daily closes.
    """
    if exchange != "bybit":
        return None
    return {
        (uid, day, "all"): bybit_venue.paid_usdt(amounts, day)
        for (uid, day), amounts in bybit_venue.payouts(dataset, first, last).items()
    }
