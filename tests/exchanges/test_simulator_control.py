"""The simulator's control endpoints and raw HTTP behaviour (auth, faults, envelopes)."""

from __future__ import annotations

import aiohttp
from exchange_checks import END_DAY, Sim


async def test_health_faults_invitees_totals(sim: Sim) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/_sim/health") as r:
            assert (await r.json())["ok"] is True
        body = {"exchange": "okx", "rate_limit": 2, "retry_after": 0.5}
        async with http.post(f"{sim.url}/_sim/faults", json=body) as r:
            assert (await r.json())["okx"]["rate_limit"] == 2
        assert sim.faults.of("okx").retry_after == 0.5
        async with http.post(f"{sim.url}/_sim/faults", json={"exchange": "okx", "bogus": 1}) as r:
            assert r.status == 400
        async with http.post(f"{sim.url}/_sim/faults", json={"reset": True}) as r:
            assert await r.json() == {}

        invitee = {
            "exchange": "bybit",
            "uid": "777777777",
            "activity": [{"day": END_DAY.isoformat(), "product": "spot", "volume": "100"}],
        }
        async with http.post(f"{sim.url}/_sim/invitees", json=invitee) as r:
            assert (await r.json())["uid"] == "777777777"
        assert sim.dataset.find_trader("bybit", "777777777") is not None
        async with http.post(f"{sim.url}/_sim/invitees", json={"exchange": "nope"}) as r:
            assert r.status == 400
        async with http.get(f"{sim.url}/_sim/totals", params={"exchange": "bybit"}) as r:
            totals = await r.json()
        assert totals["traders"] == len(sim.dataset.traders["bybit"])


async def test_missing_auth_headers_get_the_exchange_error(sim: Sim) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/bybit/v5/affiliate/aff-user-list") as r:
            assert r.status == 401
            assert (await r.json())["retCode"] == 10003
        async with http.get(f"{sim.url}/okx/api/v5/affiliate/invitee/list") as r:
            assert (await r.json())["code"] == "50111"


async def test_rate_limit_fault_sends_retry_after(sim: Sim) -> None:
    sim.faults.set("bybit", rate_limit=1, retry_after=3)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/bybit/v5/affiliate/aff-user-list") as r:
            assert r.status == 429 and r.headers["Retry-After"] == "3"
        async with http.get(f"{sim.url}/bybit/v5/affiliate/aff-user-list") as r:
            assert r.status == 401  # the fault is used up; auth is checked again
