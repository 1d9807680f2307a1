"""BalanceService.history with filters (an exchange, a date range): the lines and the totals
are of the same filtered set; history_lines (the CSV export) is every page put together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest

from services.balances import BalanceService, HistoryLine, HistoryPage
from services.models import AccountStatus, ExchangeAccount
from services.rebates import RebateEngine
from tests.ledger.helpers import make_trader, put_record

D = Decimal
FIRST = date(2026, 10, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(0, 40, 2)]  # 20 days, a day apart each
SHARE = D("0.6")


def _rebate(commission: Decimal) -> Decimal:
    return (commission * SHARE).quantize(D("0.00000001"), rounding=ROUND_DOWN)


@pytest.fixture
async def trader(db: str) -> tuple[int, list[tuple[str, date, Decimal, Decimal, Decimal]]]:
    """A trader on okx (two products a day) and binance (every other day); another trader on
    okx the same days. Returns the trader and (exchange, day, volume, fee, rebate) per record."""
    user_id, uid = await make_trader("okx")
    await ExchangeAccount.create(user_id=user_id, exchange_id="binance", uid=uid,
                                 status=AccountStatus.VERIFIED)
    other, other_uid = await make_trader("okx")
    records = []
    for n, day in enumerate(DAYS):
        books = [("okx", "spot"), ("okx", "futures")] + ([("binance", "spot")] if n % 2 else [])
        for exchange_id, product in books:
            volume, fee = D(5000 + 11 * n), D(4 + n) + D("0.0625")
            commission = D(2 + n) + D("0.12345679")
            await put_record(exchange_id, uid, day, commission=commission, volume=volume,
                             fee=fee, product=product)
            records.append((exchange_id, day, volume, fee, _rebate(commission)))
        await put_record("okx", other_uid, day, commission=D(1000), volume=D(10**6), fee=D(9))
    await RebateEngine().accrue_all()
    return user_id, records


@dataclass(frozen=True)
class Filters:
    exchange_id: str | None = None
    start: date | None = None
    end: date | None = None

    def matches(self, exchange_id: str, day: date) -> bool:
        return (self.exchange_id in (None, exchange_id)
                and (self.start or date.min) <= day <= (self.end or date.max))


async def _page(service: BalanceService, user_id: int, page: int, page_size: int,
                filters: Filters) -> HistoryPage:
    return await service.history(user_id, page, page_size, exchange_id=filters.exchange_id,
                                 start=filters.start, end=filters.end)


async def _export(service: BalanceService, user_id: int, filters: Filters,
                  limit: int = 100_000) -> tuple[HistoryLine, ...]:
    return await service.history_lines(user_id, exchange_id=filters.exchange_id,
                                       start=filters.start, end=filters.end, limit=limit)


async def _all_pages(service: BalanceService, user_id: int, page_size: int,
                     filters: Filters) -> list[HistoryLine]:
    first = await _page(service, user_id, 1, page_size, filters)
    lines = list(first.lines)
    for page in range(2, first.pages + 1):
        lines += (await _page(service, user_id, page, page_size, filters)).lines
    return lines


@pytest.mark.parametrize("filters", [
    Filters(),
    Filters(exchange_id="okx"),
    Filters(exchange_id="binance"),
    Filters(start=DAYS[3], end=DAYS[12]),
    Filters(start=DAYS[15]),
    Filters(end=DAYS[4]),
    Filters("binance", DAYS[5], DAYS[5]),  # a day without binance
    Filters("binance", DAYS[5], DAYS[9]),
])
async def test_filtered_lines_and_totals_are_the_same_set(
    trader: tuple[int, list[tuple[str, date, Decimal, Decimal, Decimal]]],
    filters: Filters,
) -> None:
    user_id, records = trader
    wanted = [r for r in records if filters.matches(r[0], r[1])]
    service = BalanceService()
    page = await _page(service, user_id, 1, 7, filters)
    lines = await _all_pages(service, user_id, 7, filters)

    assert {(line.exchange_id, line.day) for line in lines} == {(r[0], r[1]) for r in wanted}
    assert page.totals.lines == len(lines)
    # Totals: independently from the records, and as the sums of the lines shown.
    assert page.totals.rebate == sum((r[4] for r in wanted), D(0)) == sum(
        (line.rebate for line in lines), D(0))
    assert page.totals.volume == sum((r[2] for r in wanted), D(0))
    assert page.totals.fee == sum((r[3] for r in wanted), D(0))
    assert page.totals.gross == sum((line.gross for line in lines), D(0))
    assert [line.day for line in lines] == sorted((line.day for line in lines), reverse=True)
    assert await _export(service, user_id, filters) == tuple(lines)


async def test_history_lines_are_every_page_in_order(
    trader: tuple[int, list[tuple[str, date, Decimal, Decimal, Decimal]]],
) -> None:
    user_id, _ = trader
    service = BalanceService()
    everything = await service.history_lines(user_id)
    assert len(everything) == 20 + 10  # okx every day (products summed), binance every other
    for page_size in (1, 7, 30, 500):
        assert tuple(await _all_pages(service, user_id, page_size, Filters())) == everything
    assert await service.history_lines(user_id, limit=5) == everything[:5]


async def test_no_matching_lines_is_one_empty_page(
    trader: tuple[int, list[tuple[str, date, Decimal, Decimal, Decimal]]],
) -> None:
    user_id, _ = trader
    service = BalanceService()
    for filters in (Filters(exchange_id="mexc"), Filters(start=DAYS[-1] + timedelta(days=1)),
                    Filters(exchange_id="okx' OR '1'='1")):  # a value, never SQL
        page = await _page(service, user_id, 1, 30, filters)
        assert page.lines == () and page.pages == 1
        assert (page.totals.lines, page.totals.rebate, page.totals.volume) == (0, D(0), D(0))
        assert await _export(service, user_id, filters) == ()


async def test_start_after_end_is_refused(db: str) -> None:
    service = BalanceService()
    with pytest.raises(ValueError, match="start is after end"):
        await service.history(1, start=DAYS[2], end=DAYS[1])
    with pytest.raises(ValueError, match="start is after end"):
        await service.history_lines(1, start=DAYS[2], end=DAYS[1])
