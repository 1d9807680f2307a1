"""Paging (small page sizes force many pages) and time-window chunking against the simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from exchange_checks import END_DAY, Sim, assert_rows_match

from exchanges.adapters import bingx, bitget, blofin, bybit, gate, kucoin, mexc, okx, weex
from exchanges.base import AffiliateSource
from exchanges.errors import PermanentError

PAGE_KNOBS: dict[str, list[tuple[Any, str]]] = {
    "bybit": [(bybit, "PAGE_SIZE")],
    "okx": [(okx, "PAGE_LIMIT")],
    "bitget": [(bitget, "PAGE_LIMIT")],
    "mexc": [(mexc, "PAGE_SIZE")],
    "bingx": [(bingx, "COMMISSION_PAGE"), (bingx, "INVITEE_PAGE")],
    "kucoin": [(kucoin, "PAGE_SIZE")],
    "blofin": [(blofin, "INVITEE_LIMIT")],
    "weex": [(weex, "PAGE_SIZE")],
    "gate": [(gate, "PAGE_LIMIT")],
}


@pytest.mark.parametrize("exchange", sorted(PAGE_KNOBS))
async def test_small_pages_give_the_same_result(
    exchange: str,
    sim: Sim,
    make_source: Callable[..., AffiliateSource],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module, name in PAGE_KNOBS[exchange]:
        monkeypatch.setattr(module, name, 4)
    source = make_source(exchange)
    first = END_DAY - timedelta(days=1)
    rows = await source.fetch_commissions(
        datetime.combine(first, time.min, UTC), datetime.combine(END_DAY, time.min, UTC)
    )
    assert_rows_match(source, rows, sim.dataset, first, END_DAY)
    invitees = await source.list_invitees(None)
    assert sorted(i.uid for i in invitees) == sorted(t.uid for t in sim.dataset.traders[exchange])


WINDOWED = ["bitget", "mexc", "bingx", "kucoin", "blofin", "weex", "gate"]


@pytest.mark.parametrize("exchange", WINDOWED)
async def test_long_range_is_chunked_into_allowed_windows(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    # 100 days: more than any of these exchanges allows in one query.
    source = make_source(exchange)
    first = END_DAY - timedelta(days=99)
    rows = await source.fetch_commissions(
        datetime.combine(first, time.min, UTC), datetime.combine(END_DAY, time(23, 59), UTC)
    )
    assert_rows_match(source, rows, sim.dataset, first, END_DAY)


@pytest.mark.parametrize(
    ("exchange", "method", "params"),
    [
        ("bitget", "privateBrokerGetV2BrokerCustomerCommissions",
         {"startTime": 0, "endTime": 100 * 86_400_000}),
        ("mexc", "spotPrivateGetRebateAffiliateCommissionDetail",
         {"startTime": 0, "endTime": 31 * 86_400_000}),
        ("kucoin", "privateGetAffiliateQueryTransactionByTime",
         {"tradeStartAt": 0, "tradeEndAt": 31 * 86_400_000}),
        ("okx", "privateGetAffiliateInviteeList",
         {"periodType": "custom", "begin": 0, "end": 86_400_000}),
    ],
)
async def test_simulator_rejects_windows_the_exchange_rejects(
    exchange: str, method: str, params: dict[str, Any], sim: Sim,
    make_source: Callable[..., AffiliateSource],
) -> None:
    source = make_source(exchange)
    with pytest.raises(PermanentError):
        await source._call(method, params)  # type: ignore[attr-defined]


async def test_bingx_rejects_more_than_30_days(
    sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source("bingx")
    params = {"startTime": "20261001", "endTime": "20261110", "pageIndex": 1, "pageSize": 10}
    with pytest.raises(PermanentError, match="100400"):
        await source._request(  # type: ignore[attr-defined]
            "reward/commissionDataList", ["agent", "v2", "private"], "GET", params
        )


def test_end_day_is_recent_enough_for_okx() -> None:
    # OKX refuses custom periods older than 180 days; the fixed test data must stay younger.
    assert (datetime.now(UTC).date() - END_DAY).days < 170, "move END_DAY in conftest forward"


async def test_htx_invitee_cursor(
    sim: Sim, make_source: Callable[..., AffiliateSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchanges.adapters import htx

    monkeypatch.setattr(htx, "PAGE_LIMIT", 4)
    invitees = await make_source("htx").list_invitees(None)
    assert sorted(i.uid for i in invitees) == sorted(t.uid for t in sim.dataset.traders["htx"])
