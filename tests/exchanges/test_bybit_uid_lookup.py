"""Bybit: one UID is checked through GET /v5/user/aff-customer-info (one request), not by
paging the whole invitee list; the venue answers as the docs show, and an error code is an
error, never "not ours"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from exchange_checks import Sim

from exchanges.adapters.bybit import BybitSource
from exchanges.base import AffiliateSource
from exchanges.errors import ExchangeError

AUTH = {"X-BAPI-API-KEY": "sim-key", "X-BAPI-SIGN": "sim-signature"}


async def test_check_uid_asks_one_uid(
    sim: Sim, make_source: Callable[..., AffiliateSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_source("bybit")
    assert isinstance(source, BybitSource)

    async def no_paging(*_: Any, **__: Any) -> list[dict[str, Any]]:
        raise AssertionError("check_uid must not page aff-user-list")

    monkeypatch.setattr(source, "_user_list", no_paging)
    known = sim.dataset.traders["bybit"][0]
    found = await source.check_uid(known.uid)
    assert found is not None and found.uid == known.uid
    assert await source.check_uid("12345") is None


async def test_venue_answers_as_documented(sim: Sim) -> None:
    known = sim.dataset.traders["bybit"][0]
    headers = {**AUTH, "X-BAPI-API-KEY": sim.dataset.api_key}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/bybit/v5/user/aff-customer-info",
                            params={"uid": known.uid}, headers=headers) as response:
            body = await response.json()
        assert body["retCode"] == 0
        assert body["result"]["uid"] == known.uid
        assert {"tradeVol30Day", "tradeVol365Day", "vipLevel", "totalWalletBalance"} <= set(
            body["result"])
        async with http.get(f"{sim.url}/bybit/v5/user/aff-customer-info",
                            params={"uid": "12345"}, headers=headers) as response:
            assert (await response.json())["result"] == {}


async def test_error_code_is_not_a_no(
    make_source: Callable[..., AffiliateSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_source("bybit")
    assert isinstance(source, BybitSource)

    async def refused(method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise ExchangeError("bybit: retCode 10005 permission denied")

    monkeypatch.setattr(source, "_call", refused)
    with pytest.raises(ExchangeError):
        await source.check_uid("12345")
