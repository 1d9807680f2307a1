"""Each adapter built the way the product builds it: from EXCHANGE_<ID>_* settings, as a user
sets them, then real ccxt against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer

from bot.app import build_source_factory
from bot.settings import load_settings
from exchanges.registry import capabilities
from sandbox.exchanges import SIMULATED_EXCHANGES, Dataset, Faults, create_app

END_DAY = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture(scope="module")
async def simulator() -> AsyncIterator[tuple[Dataset, str]]:
    dataset = Dataset.build(SIMULATED_EXCHANGES, traders=4, days=3, seed=5, end_day=END_DAY)
    server = TestServer(create_app(dataset, Faults()), host="127.0.0.1", port=0)
    await server.start_server()
    yield dataset, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.mark.parametrize("exchange_id", [e for e in SIMULATED_EXCHANGES if e != "htx"])
async def test_adapter_from_settings_reads_the_simulator(
    simulator: tuple[Dataset, str], exchange_id: str
) -> None:
    dataset, url = simulator
    upper = exchange_id.upper()
    settings = load_settings({
        f"EXCHANGE_{upper}_API_URL": f"{url}/{exchange_id}",
        f"EXCHANGE_{upper}_API_KEY": dataset.api_key,
        f"EXCHANGE_{upper}_API_SECRET": "sim-secret",
        f"EXCHANGE_{upper}_API_PASSWORD": "sim-pass",
    })
    source = build_source_factory(settings)(exchange_id)
    assert source is not None
    try:
        start = datetime.combine(dataset.first_day, time.min, tzinfo=UTC)
        end = datetime.combine(END_DAY, time.max, tzinfo=UTC)
        rows = await source.fetch_commissions(start, end)
    finally:
        await source.close()
    expected = dataset.grand_totals(exchange_id)
    assert rows, exchange_id
    caps = capabilities(exchange_id)
    assert caps is not None
    if caps.commission:
        got = sum((r.commission_usdt or Decimal(0) for r in rows), Decimal(0))
        assert abs(got - expected.commission) < Decimal("0.0001"), exchange_id
    if caps.volume:
        volume = sum((r.volume_usdt or Decimal(0) for r in rows), Decimal(0))
        assert volume > 0


def test_no_key_means_no_source() -> None:
    assert build_source_factory(load_settings({}))("okx") is None
    # CSV-only exchanges have no adapter, whatever is configured.
    settings = load_settings({"EXCHANGE_BINANCE_API_KEY": "k"})
    assert build_source_factory(settings)("binance") is None
