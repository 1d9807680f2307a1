"""Helpers comparing adapter output with the simulator's data set."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from exchanges.base import AffiliateSource, CommissionRow
from sandbox.exchanges import Dataset, Faults

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
    got = {(r.uid, r.day, r.product): r for r in rows}
    assert set(got) == set(expected)
    for key, (volume, fee, commission) in expected.items():
        row = got[key]
        assert row.exchange == exchange
        assert first <= row.day <= last
        assert (row.volume is not None) == caps.volume
        assert (row.fee is not None) == caps.fee
        assert (row.commission is not None) == caps.commission
        if row.volume is not None:
            assert row.volume == volume, key
            assert row.volume_usdt == volume
        if row.fee is not None:
            assert row.fee == fee, key
        if row.commission is not None:
            assert row.commission == commission, key
            assert row.commission_usdt == commission
