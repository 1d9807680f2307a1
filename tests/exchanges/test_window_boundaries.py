"""Window boundaries (issue 9 item 2): a range longer than an adapter's window, with activity on
every window's first and last day and the days around them, read through real ccxt against the
simulator. Each uid/day/product/coin must come back once, with the data set's exact totals.

The day-stamped venues (Bitget, MEXC, BloFin) answer whole UTC days, both ends inclusive (see
`sandbox.exchanges.venues.common.on_utc_days`), so windows shifted by -8 h overlap by one day;
before the fix Bitget and MEXC summed that day twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from exchange_checks import END_DAY, assert_rows_match

from exchanges.adapters import bingx, bitget, blofin, gate, kucoin, mexc, weex
from exchanges.adapters.ccxt_base import settlement_window_ms, windows
from exchanges.base import AffiliateSource, CommissionRow
from exchanges.registry import build_source
from sandbox.exchanges import Dataset, Faults, create_app
from sandbox.exchanges.dataset import products
from sandbox.exchanges.venues.common import utc8_day_ms

# Days each adapter asks per request (OKX reads one day per request).
WINDOW_DAYS = {
    "bitget": bitget.WINDOW_DAYS,
    "mexc": mexc.WINDOW_DAYS,
    "bingx": bingx.WINDOW_DAYS,
    "kucoin": kucoin.WINDOW_DAYS,
    "blofin": blofin.WINDOW_DAYS,
    "weex": weex.WINDOW_DAYS,
    "gate": gate.WINDOW_DAYS,
    "okx": 1,
}
BOUNDARY_VOLUME = Decimal("1234.56789012")


@asynccontextmanager
async def simulator(dataset: Dataset) -> AsyncIterator[Callable[[str], AffiliateSource]]:
    server = TestServer(create_app(dataset, Faults()), host="127.0.0.1", port=0)
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    made: list[AffiliateSource] = []

    async def no_sleep(seconds: float) -> None:
        return None

    def make(exchange: str) -> AffiliateSource:
        source = build_source(
            exchange, api_url=f"{url}/{exchange}", api_key=dataset.api_key,
            api_secret="sim-secret", api_password="sim-pass", timeout=5.0, rate_limit=False,
            retry_attempts=1, sleep=no_sleep,
        )
        made.append(source)
        return source

    try:
        yield make
    finally:
        for source in made:
            await source.close()
        await server.close()


def utc(day: date, at: time = time.min) -> datetime:
    return datetime.combine(day, at, tzinfo=UTC)


def boundary_dataset(exchange: str, first: date, last: date) -> Dataset:
    """Random activity on first-2 .. last+2, plus one trader active on every product on each
    window's first and last day, the day before and the day after (a second line for that
    uid/day/product when the random draw already gave it one)."""
    dataset = Dataset.build(
        [exchange], traders=3, days=(last - first).days + 5, seed=9, end_day=last + timedelta(2)
    )
    uid = dataset.traders[exchange][0].uid
    edges: set[date] = set()
    for w_first, w_last in windows(utc(first), utc(last), WINDOW_DAYS[exchange]):
        edges |= {w_first - timedelta(1), w_first, w_last, w_last + timedelta(1)}
    for day in sorted(edges):
        for product in products(exchange):
            dataset.add_activity(exchange, uid, day, product, BOUNDARY_VOLUME)
    return dataset


def assert_each_row_once_with_exact_totals(
    source: AffiliateSource, rows: list[CommissionRow], dataset: Dataset, first: date, last: date
) -> None:
    exchange = source.exchange_id
    counts = Counter((r.uid, r.day, r.product, r.currency) for r in rows)
    assert [key for key, n in counts.items() if n > 1] == []
    assert_rows_match(source, rows, dataset, first, last)  # per uid/day/product, Decimal-exact
    expected = dataset.grand_totals(exchange, first, last)
    caps = source.capabilities
    if caps.volume:
        assert sum((r.volume_usdt or Decimal(0) for r in rows), Decimal(0)) == expected.volume
    if caps.fee:
        assert sum((r.fee_usdt or Decimal(0) for r in rows), Decimal(0)) == expected.fee
    if caps.commission:
        got = sum((r.commission_usdt or Decimal(0) for r in rows), Decimal(0))
        assert got == expected.commission


@pytest.mark.parametrize("windows_crossed", [1, 2])
@pytest.mark.parametrize("exchange", sorted(WINDOW_DAYS))
async def test_windows_meeting_at_a_boundary_day_count_it_once(
    exchange: str, windows_crossed: int
) -> None:
    # One boundary: window + 3 days (a first Bitget sync of 33 days); two: 2 windows + 3.
    span = WINDOW_DAYS[exchange] * windows_crossed + 3
    last = END_DAY - timedelta(days=2)
    first = last - timedelta(days=span - 1)
    dataset = boundary_dataset(exchange, first, last)
    async with simulator(dataset) as make:
        source = make(exchange)
        rows = await source.fetch_commissions(utc(first), utc(last, time(23, 59, 59)))
    assert len(list(windows(utc(first), utc(last), WINDOW_DAYS[exchange]))) > windows_crossed
    assert_each_row_once_with_exact_totals(source, rows, dataset, first, last)


async def test_okx_reads_the_bsc_category() -> None:
    day = END_DAY - timedelta(days=1)
    dataset = Dataset.build(["okx"], traders=4, days=3, seed=2, end_day=END_DAY)
    uid = dataset.traders["okx"][1].uid
    dataset.add_activity("okx", uid, day, "bsc", Decimal("500"))
    async with simulator(dataset) as make:
        source = make("okx")
        rows = await source.fetch_commissions(utc(day), utc(day))
    bsc = [r for r in rows if r.product == "bsc"]
    assert [(r.uid, r.day, r.volume) for r in bsc if r.uid == uid] == [(uid, day, Decimal("500"))]
    assert_each_row_once_with_exact_totals(source, rows, dataset, day, day)


# The venues' reading of an undocumented window rule, pinned: whole UTC days, both ends
# inclusive, on UTC+8 midnight stamps. A query for one day D sent the way the adapters send it
# ([00:00 UTC - 8 h of D, 23:59:59.999 UTC - 8 h of D]) returns D and D + 1.
DAY_STAMPED: list[tuple[str, str, Callable[[Dataset, int, int], dict[str, Any]], str]] = [
    ("bitget", "privateBrokerGetV2BrokerCustomerCommissions",
     lambda d, s, e: {"startTime": s, "endTime": e, "limit": 1000}, "date"),
    ("mexc", "spotPrivateGetRebateAffiliateCommissionDetail",
     lambda d, s, e: {"startTime": s, "endTime": e, "pageSize": 100}, "date"),
    ("blofin", "privateGetAffiliateInviteesDailyInfo",
     lambda d, s, e: {"uid": d.traders["blofin"][0].uid, "begin": s, "end": e}, "commissionTime"),
]


@pytest.mark.parametrize(("exchange", "method", "params", "stamp_field"), DAY_STAMPED)
async def test_day_stamped_venues_answer_whole_utc_days(
    exchange: str, method: str, params: Callable[[Dataset, int, int], dict[str, Any]],
    stamp_field: str,
) -> None:
    day = END_DAY - timedelta(days=3)
    dataset = Dataset.build([exchange], traders=2, days=8, seed=4, end_day=END_DAY)
    uid = dataset.traders[exchange][0].uid
    for d in (day - timedelta(1), day, day + timedelta(1), day + timedelta(2)):
        dataset.add_activity(exchange, uid, d, "futures", Decimal("100"))
    start, end = settlement_window_ms(day, day)
    async with simulator(dataset) as make:
        source = make(exchange)
        response = await source._call(method, params(dataset, start, end))  # type: ignore[attr-defined]
    data = response["data"]
    items = data if isinstance(data, list) else data.get("commissionList", data.get("resultList"))
    stamps = {int(item[stamp_field]) for item in items if str(item["uid"]) == uid}
    assert stamps == {utc8_day_ms(day), utc8_day_ms(day + timedelta(1))}
