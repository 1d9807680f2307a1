"""Bybit: commission per coin from aff-user-list's `commissionsVol`, valued at daily closes.

The simulator's two row shapes, its kline endpoint, and the adapter through real ccxt: per-day
per-coin rows whose USDT value equals the value computed here from the simulator's own answers
(raw HTTP, not the adapter), volume counted once, the volume-only fallback, no row for a day
without trading, and no invented price.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from exchange_checks import END_DAY, Sim

from exchanges.adapters import bybit as bybit_adapter
from exchanges.adapters.bybit import BybitSource
from exchanges.base import AffiliateSource, CommissionRow, source_key
from sandbox.exchanges.venues import bybit as venue
from sandbox.exchanges.venues.common import day_ms

AUTH = {"X-BAPI-API-KEY": "sim-key", "X-BAPI-SIGN": "sim-signature"}
RANGE_FIELDS = {"takerVol", "makerVol", "tradeVol", "tradfiTradeVol", "commissionsVol"}
ROLLING_FIELDS = {
    f"{name}{span}"
    for span in ("30Day", "365Day")
    for name in ("takerVol", "makerVol", "tradeVol", "depositAmount")
}
TOLERANCE = Decimal("1e-8")
FIRST = END_DAY - timedelta(days=6)


def utc(day: date, at: time = time.min) -> datetime:
    return datetime.combine(day, at, tzinfo=UTC)


async def user_list(sim: Sim, **params: Any) -> dict[str, Any]:
    url = f"{sim.url}/bybit/v5/affiliate/aff-user-list"
    query = {"size": 1000, **params}
    async with aiohttp.ClientSession() as http, http.get(url, params=query, headers=AUTH) as r:
        body: dict[str, Any] = await r.json()
        return body


async def day_rows(sim: Sim, day: date) -> list[dict[str, Any]]:
    body = await user_list(sim, startDate=day.isoformat(), endDate=day.isoformat())
    assert body["retCode"] == 0 and body["result"]["nextPageCursor"] == ""
    rows: list[dict[str, Any]] = body["result"]["list"]
    return rows


async def kline(sim: Sim, **params: Any) -> dict[str, Any]:
    url = f"{sim.url}/bybit/v5/market/kline"  # public: no key, no signature
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as r:
        body: dict[str, Any] = await r.json()
        return body


async def close_of(sim: Sim, coin: str, day: date) -> Decimal:
    body = await kline(sim, category="spot", symbol=f"{coin}USDT", interval="D",
                       start=day_ms(day), end=day_ms(day + timedelta(days=1)) - 1)
    (candle,) = body["result"]["list"]
    assert candle[0] == str(day_ms(day))
    return Decimal(candle[4])


def by_day(rows: list[CommissionRow]) -> dict[tuple[str, date], list[CommissionRow]]:
    out: dict[tuple[str, date], list[CommissionRow]] = defaultdict(list)
    for row in rows:
        out[(row.uid, row.day)].append(row)
    return out


# --- the simulator ---------------------------------------------------------------------------


async def test_rows_with_dates_carry_the_range_fields_and_commissions_vol(sim: Sim) -> None:
    seen_coins: set[str] = set()
    for offset in range(7):
        day = END_DAY - timedelta(days=offset)
        expected = venue.payouts(sim.dataset, day, day)
        volume: dict[str, Decimal] = defaultdict(Decimal)
        for a in sim.dataset.activity_between("bybit", day, day):
            volume[a.uid] += a.volume
        rows = await day_rows(sim, day)
        assert {r["userId"] for r in rows} == {t.uid for t in sim.dataset.traders["bybit"]}
        for row in rows:
            assert set(row) >= RANGE_FIELDS
            assert not ROLLING_FIELDS & set(row)
            assert (row["startDate"], row["endDate"]) == (day.isoformat(), day.isoformat())
            assert Decimal(row["tradeVol"]) == volume.get(row["userId"], 0)
            assert Decimal(row["takerVol"]) + Decimal(row["makerVol"]) == Decimal(row["tradeVol"])
            coins = row["commissionsVol"]
            assert isinstance(coins, dict) and sorted(coins) == sorted(venue.COINS)
            for coin, text in coins.items():
                assert isinstance(text, str)
                amount = Decimal(text)
                assert text == "0" if amount == 0 else amount == amount.quantize(TOLERANCE)
                assert amount == expected.get((row["userId"], day), {}).get(coin, 0)
                if amount and coin != "USDT":
                    seen_coins.add(coin)
    assert seen_coins == {"BTC", "ETH", "MNT", "USDC"}  # conversion is exercised


async def test_a_range_sums_its_days(sim: Sim) -> None:
    rows = (await user_list(sim, startDate=FIRST.isoformat(),
                            endDate=END_DAY.isoformat()))["result"]["list"]
    per_day = venue.payouts(sim.dataset, FIRST, END_DAY)
    for row in rows:
        for coin in venue.COINS:
            total = sum((amounts[coin] for (uid, _), amounts in per_day.items()
                         if uid == row["userId"]), Decimal(0))
            assert Decimal(row["commissionsVol"][coin]) == total


async def test_rows_without_dates_carry_only_the_rolling_fields(sim: Sim) -> None:
    body = await user_list(sim)
    assert body["retCode"] == 0
    for row in body["result"]["list"]:
        assert set(row) >= ROLLING_FIELDS
        assert not RANGE_FIELDS & set(row)
        assert "startDate" not in row and "endDate" not in row


@pytest.mark.parametrize(
    "params",
    [{"startDate": END_DAY.isoformat()}, {"endDate": END_DAY.isoformat()},
     {"startDate": "2026-13-01", "endDate": "2026-13-01"},
     {"startDate": END_DAY.isoformat(), "endDate": FIRST.isoformat()}, {"size": 1001}],
)
async def test_bad_parameters_are_rejected(sim: Sim, params: dict[str, Any]) -> None:
    assert (await user_list(sim, **params))["retCode"] == 10001


async def test_kline_is_public_daily_and_newest_first(sim: Sim) -> None:
    body = await kline(sim, category="spot", symbol="BTCUSDT", interval="D",
                       start=day_ms(FIRST), end=day_ms(END_DAY))
    assert body["retCode"] == 0 and body["result"]["symbol"] == "BTCUSDT"
    candles = body["result"]["list"]
    assert [c[0] for c in candles] == [
        str(day_ms(END_DAY - timedelta(days=i))) for i in range(7)
    ]
    for candle in candles:
        assert len(candle) == 7 and all(isinstance(v, str) for v in candle)
        day = datetime.fromtimestamp(int(candle[0]) / 1000, UTC).date()
        assert Decimal(candle[4]) == venue.daily_close("BTC", day)
        assert Decimal(candle[3]) <= Decimal(candle[4]) <= Decimal(candle[2])
    assert (await kline(sim, category="spot", symbol="DOGEUSDT", interval="D"))["retCode"] == 10001
    future = datetime.now(UTC).date() + timedelta(days=2)
    body = await kline(sim, category="spot", symbol="BTCUSDT", interval="D",
                       start=day_ms(future), end=day_ms(future))
    assert body["result"]["list"] == []


async def test_coin_values_are_within_rounding_of_the_usdt_truth(sim: Sim) -> None:
    # /_sim/totals stays the USDT truth; each day's coins are worth it up to the last 8th dp.
    payouts = venue.payouts(sim.dataset, FIRST, END_DAY)
    assert payouts
    for (uid, day), amounts in payouts.items():
        truth = sum((a.commission for a in sim.dataset.activity_between("bybit", day, day)
                     if a.uid == uid), Decimal(0))
        assert abs(venue.paid_usdt(amounts, day) - truth) <= Decimal("0.5e-8")
        assert all(amount >= 0 and amount == amount.quantize(TOLERANCE)
                   for amount in amounts.values())
    url = f"{sim.url}/_sim/totals"
    async with aiohttp.ClientSession() as http, http.get(url, params={"exchange": "bybit"}) as r:
        totals = await r.json()
    assert Decimal(totals["commission"]) == sim.dataset.grand_totals("bybit").commission


# --- the adapter -----------------------------------------------------------------------------


def count_calls(source: AffiliateSource, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    original = source._call  # type: ignore[attr-defined]

    async def spy(method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == bybit_adapter.KLINE:
            calls.append(dict(params))
        result: dict[str, Any] = await original(method, params)
        return result

    monkeypatch.setattr(source, "_call", spy)
    return calls


async def test_rows_per_day_and_coin_equal_the_simulators_value(
    sim: Sim, make_source: Callable[..., AffiliateSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_source("bybit")
    assert source.capabilities.commission and source.capabilities.volume
    klines = count_calls(source, monkeypatch)
    rows = await source.fetch_commissions(utc(FIRST), utc(END_DAY, time(23, 59)))
    groups = by_day(rows)
    assert len({r.source_key for r in rows}) == len(rows)

    # Independently, from the simulator's answers over HTTP.
    expected: dict[tuple[str, date], Decimal] = {}
    amounts: dict[tuple[str, date, str], Decimal] = {}
    closes: dict[tuple[str, date], Decimal] = {}
    volumes: dict[tuple[str, date], Decimal] = {}
    for offset in range(7):
        day = END_DAY - timedelta(days=offset)
        for item in await day_rows(sim, day):
            uid, value = item["userId"], Decimal(0)
            for coin, text in item["commissionsVol"].items():
                amount = Decimal(text)
                if not amount:
                    continue
                if coin in ("USDT", "USDC"):
                    rate = Decimal(1)
                else:
                    if (coin, day) not in closes:
                        closes[(coin, day)] = await close_of(sim, coin, day)
                    rate = closes[(coin, day)]
                amounts[(uid, day, coin)] = amount
                value += amount * rate
            if Decimal(item["tradeVol"]) or value:
                expected[(uid, day)] = value
                volumes[(uid, day)] = Decimal(item["tradeVol"])

    assert set(groups) == set(expected)
    for key, value in expected.items():
        group = groups[key]
        total = sum((r.commission_usdt for r in group if r.commission_usdt is not None),
                    Decimal(0))
        assert all(r.commission_usdt is not None for r in group)
        assert abs(total - value) <= TOLERANCE, key
        # Volume once, on the USDT row; the other coins' rows carry none.
        (usdt,) = [r for r in group if r.currency == "USDT"]
        assert usdt.volume == usdt.volume_usdt == volumes[key]
        assert usdt.source_key == source_key("bybit", key[0], key[1], "all")
        for row in group:
            assert row.product == "all" and row.fee is None and row.fee_usdt is None
            assert row.commission == amounts.get((row.uid, row.day, row.currency), 0)
            if row.currency != "USDT":
                assert row.volume is None and row.volume_usdt is None
                assert row.commission and row.source_key.endswith(f":{row.currency}")
                assert row.rate_to_usdt == closes.get((row.currency, row.day), Decimal(1))
    assert {r.currency for r in rows} == {"USDT", "BTC", "ETH", "MNT", "USDC"}
    assert sum((r.volume for r in rows if r.volume is not None), Decimal(0)) == (
        sim.dataset.grand_totals("bybit", FIRST, END_DAY).volume
    )
    # One price request per coin and day, however many rows need it; none for USDT / USDC.
    asked = [(c["symbol"], c["start"]) for c in klines]
    assert len(asked) == len(set(asked)) == len(closes)
    assert {s for s, _ in asked} <= {"BTCUSDT", "ETHUSDT", "MNTUSDT"}


async def test_a_row_without_commissions_vol_falls_back_to_volume_only(
    sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    uid = sim.dataset.traders["bybit"][2].uid
    source = make_source("bybit")
    before = await source.fetch_commissions(utc(FIRST), utc(END_DAY))
    sim.dataset.no_commission_field["bybit"] = {uid}
    after = await source.fetch_commissions(utc(FIRST), utc(END_DAY))
    fallback = [r for r in after if r.uid == uid]
    assert fallback, "the trader should have traded in the window"
    for row in fallback:
        volume = sum((a.volume for a in sim.dataset.activity_between("bybit", row.day, row.day)
                      if a.uid == uid), Decimal(0))
        assert row.currency == "USDT" and row.volume == row.volume_usdt == volume
        assert row.commission is None and row.commission_usdt is None and row.fee is None
    # Same key as the commission reading's USDT row: the two readings never count twice.
    assert {r.source_key for r in fallback} == {
        r.source_key for r in before if r.uid == uid and r.currency == "USDT"
    }
    assert [r for r in after if r.uid != uid] == [r for r in before if r.uid != uid]


async def test_a_day_without_trading_gives_no_row(
    sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    trader = sim.dataset.add_trader("bybit", "123123123", utc(FIRST))
    sim.dataset.add_activity("bybit", trader.uid, END_DAY, "spot", Decimal("1000"))
    idle = sim.dataset.add_trader("bybit", "321321321", utc(FIRST))
    rows = await make_source("bybit").fetch_commissions(utc(FIRST), utc(END_DAY))
    assert {r.day for r in rows if r.uid == trader.uid} == {END_DAY}
    assert not [r for r in rows if r.uid == idle.uid]
    # Every trader is listed for every day; the silent ones give nothing.
    assert len(await day_rows(sim, FIRST)) == len(sim.dataset.traders["bybit"])
    traded = {(a.uid, a.day) for a in sim.dataset.activity_between("bybit", FIRST, END_DAY)}
    assert set(by_day(rows)) == traded


def uid_paid_in(coin: str, day: date, seed: int) -> str:
    """A UID the venue pays partly in `coin` on `day` (the split is deterministic)."""
    for n in range(100_000_000, 100_010_000):
        if venue.split(seed, str(n), day, Decimal(10))[coin]:
            return str(n)
    raise AssertionError(f"no uid paid in {coin}")


async def test_a_missing_price_is_not_invented(
    sim: Sim, make_source: Callable[..., AffiliateSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No candle: a day the venue has no price for yet (tomorrow).
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    uid = uid_paid_in("ETH", tomorrow, sim.dataset.seed)
    sim.dataset.add_trader("bybit", uid, utc(FIRST))
    sim.dataset.add_activity("bybit", uid, tomorrow, "spot", Decimal("25000"))
    # Unknown symbol: the venue stops listing MNTUSDT (retCode 10001).
    monkeypatch.delitem(venue.KLINE_SYMBOLS, "MNTUSDT")
    rows = await make_source("bybit").fetch_commissions(utc(FIRST), utc(tomorrow))
    (eth,) = [r for r in rows if r.uid == uid and r.currency == "ETH"]
    assert eth.commission and eth.rate_to_usdt is None and eth.commission_usdt is None
    assert eth.volume is None and eth.volume_usdt is None  # nothing to estimate from either
    mnt = [r for r in rows if r.currency == "MNT"]
    assert mnt and all(r.rate_to_usdt is None and r.commission_usdt is None for r in mnt)
    assert all(r.commission_usdt is not None for r in rows if r.currency in ("USDT", "USDC"))
    assert any(r.rate_to_usdt for r in rows if r.currency == "BTC")


async def test_commissions_vol_as_a_json_string_or_missing() -> None:
    source = BybitSource(api_url="http://127.0.0.1:9/bybit")  # parsing only: no request
    try:
        assert source._commissions({"commissionsVol": '{"BTC": "0.1", "usdt": "2"}'}) == {
            "BTC": Decimal("0.1"), "USDT": Decimal(2)
        }
        assert source._commissions({"tradeVol": "1"}) is None
        assert source._commissions({"commissionsVol": None}) is None
    finally:
        await source.close()
