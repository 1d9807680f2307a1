"""Fixtures: the exchange simulator on 127.0.0.1 (random port) and adapters pointed at it."""
# ruff: noqa: E402 - the path fix below must run before the project imports

from __future__ import annotations

import sys
from pathlib import Path

# The project is not installed into the venv and pyproject sets no pythonpath (not ours to
# change): make the repository root importable when pytest is run as `.venv/bin/pytest`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from exchange_checks import END_DAY, Sim

from exchanges.base import AffiliateSource
from exchanges.registry import build_source
from sandbox.exchanges import SIMULATED_EXCHANGES, Dataset, Faults, create_app


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    # END_DAY is fixed but recent: OKX rejects windows older than 180 days from "now".
    dataset = Dataset.build(SIMULATED_EXCHANGES, traders=25, days=12, seed=7, end_day=END_DAY)
    faults = Faults()
    server = TestServer(create_app(dataset, faults), host="127.0.0.1", port=0)
    await server.start_server()
    yield Sim(dataset, faults, str(server.make_url("")).rstrip("/"))
    await server.close()


@pytest.fixture
async def make_source(sim: Sim) -> AsyncIterator[Callable[..., AffiliateSource]]:
    made: list[AffiliateSource] = []

    async def record_sleep(seconds: float) -> None:
        sim.sleeps.append(seconds)

    def make(exchange: str, **overrides: Any) -> AffiliateSource:
        options: dict[str, Any] = {
            "api_url": f"{sim.url}/{exchange}",
            "api_key": sim.dataset.api_key,
            "api_secret": "sim-secret",
            "api_password": "sim-pass",
            "timeout": 5.0,
            "rate_limit": False,
            "retry_attempts": 3,
            "sleep": record_sleep,
        }
        options.update(overrides)
        source = build_source(exchange, **options)
        made.append(source)
        return source

    yield make
    for source in made:
        await source.close()
