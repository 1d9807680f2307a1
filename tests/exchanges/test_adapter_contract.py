"""Contract tests: real ccxt -> simulator, through build_source(..., api_url=...)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from exchange_checks import END_DAY, Sim, assert_rows_match

from exchanges.base import AffiliateSource
from exchanges.errors import PermanentError
from exchanges.registry import api_exchanges, capabilities
from sandbox.exchanges.dataset import products

EXCHANGES = api_exchanges()
# Exchanges whose adapter reads money (volume and/or commission), not only invitees.
MONEY_EXCHANGES = [
    ex for ex in EXCHANGES if (caps := capabilities(ex)) and (caps.volume or caps.commission)
]


def utc(day: object, at: time = time.min) -> datetime:
    return datetime.combine(day, at, tzinfo=UTC)  # type: ignore[arg-type]


@pytest.mark.parametrize("exchange", MONEY_EXCHANGES)
async def test_commissions_equal_dataset(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    first = END_DAY - timedelta(days=6)
    rows = await source.fetch_commissions(utc(first), utc(END_DAY, time(23, 59)))
    assert_rows_match(source, rows, sim.dataset, first, END_DAY)


@pytest.mark.parametrize("exchange", MONEY_EXCHANGES)
async def test_rereading_an_overlapping_window_gives_the_same_keys(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    day = END_DAY - timedelta(days=2)
    wide = await source.fetch_commissions(utc(day - timedelta(days=2)), utc(END_DAY))
    narrow = await source.fetch_commissions(utc(day), utc(day, time(12)))
    wide_by_key = {r.source_key: r for r in wide}
    assert narrow
    for row in narrow:
        assert wide_by_key[row.source_key] == row


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_invitees_and_uid_check(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    traders = sim.dataset.traders[exchange]
    invitees = await source.list_invitees(None)
    assert {i.uid for i in invitees} == {t.uid for t in traders}
    for invitee in invitees:
        assert invitee.registered_at is None or invitee.registered_at.tzinfo is not None

    cutoff = sorted(t.registered_at for t in traders)[len(traders) // 2]
    recent = await source.list_invitees(cutoff)
    expected = {t.uid for t in traders if t.registered_at.date() >= cutoff.date()}
    assert {t.uid for t in traders if t.registered_at >= cutoff} <= {i.uid for i in recent}
    assert {i.uid for i in recent} <= expected

    known = traders[3]
    found = await source.check_uid(known.uid)
    assert found is not None and found.uid == known.uid
    assert await source.check_uid("99999999") is None


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_runtime_invitee_appears(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    trader = sim.dataset.add_trader(exchange)
    sim.dataset.add_activity(
        exchange, trader.uid, END_DAY, products(exchange)[0], Decimal("1000")
    )
    found = await source.check_uid(trader.uid)
    assert found is not None
    if exchange in MONEY_EXCHANGES:
        rows = await source.fetch_commissions(utc(END_DAY), utc(END_DAY))
        assert trader.uid in {r.uid for r in rows}


async def test_htx_cannot_fetch_commissions(make_source: Callable[..., AffiliateSource]) -> None:
    source = make_source("htx")
    assert not source.capabilities.commission and not source.capabilities.verified
    with pytest.raises(PermanentError):
        await source.fetch_commissions(utc(END_DAY), utc(END_DAY))
