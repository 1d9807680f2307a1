"""Fault handling at the adapter boundary, against the simulator's fault switches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

import pytest
from exchange_checks import END_DAY, Sim

from exchanges.base import AffiliateSource
from exchanges.errors import AuthError, PermanentError, TemporaryError
from exchanges.registry import api_exchanges

EXCHANGES = api_exchanges()
DAY_START = datetime.combine(END_DAY, time.min, tzinfo=UTC)


async def read(source: AffiliateSource) -> list[Any]:
    """One typical sync read: commissions where the adapter has them, else invitees."""
    caps = source.capabilities
    if caps.commission or caps.volume:
        return list(await source.fetch_commissions(DAY_START, DAY_START))
    return list(await source.list_invitees(None))


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_rate_limit_backs_off_then_succeeds(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    sim.faults.set(exchange, rate_limit=2, retry_after=0.25)
    rows = await read(source)
    assert rows
    assert len(sim.sleeps) == 2
    assert all(s >= 0.25 for s in sim.sleeps)  # Retry-After is honoured as a floor


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_server_errors_retry_then_temporary_error(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange, retry_attempts=3)
    sim.faults.set(exchange, server_error=3)
    with pytest.raises(TemporaryError):
        await read(source)
    assert len(sim.sleeps) == 2  # three attempts, two waits


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_one_server_error_is_retried(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    sim.faults.set(exchange, server_error=1)
    assert await read(source)


@pytest.mark.parametrize("exchange", ["okx", "bybit"])
async def test_timeouts_retry_then_temporary_error(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange, timeout=0.2, retry_attempts=2)
    sim.faults.set(exchange, slow=2, slow_seconds=1.0)
    with pytest.raises(TemporaryError):
        await source.list_invitees(None)
    assert len(sim.sleeps) == 1


async def test_one_timeout_is_retried(
    sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source("okx", timeout=0.2)
    sim.faults.set("okx", slow=1, slow_seconds=1.0)
    assert await source.list_invitees(None)


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_auth_failure_is_auth_error_without_retries(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    sim.faults.set(exchange, auth_fail=True)
    with pytest.raises(AuthError):
        await read(source)
    assert sim.sleeps == []


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_wrong_key_is_auth_error(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange, api_key="not-the-key")
    with pytest.raises(AuthError):
        await source.list_invitees(None)


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_malformed_body_is_permanent_error(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    source = make_source(exchange)
    sim.faults.set(exchange, malformed=1)
    with pytest.raises(PermanentError):
        await read(source)
    assert sim.sleeps == []
