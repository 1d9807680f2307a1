"""Bybit v5: GET /v5/affiliate/aff-user-list (invitees, volume, our commission per coin),
GET /v5/user/aff-customer-info (one invitee by UID) and the public GET /v5/market/kline (the
daily prices the venue pays those coins at).

aff-user-list (docs: bybit-exchange/docs `docs/v5/affiliate/affiliate-user-list`, and Bybit's
newer description of the custom range): `size` 0..1000, `cursor` / `nextPageCursor` ("" on the
last page). Two row shapes:
* with `startDate` and `endDate` (YYYY-MM-DD, both or neither): the custom-range fields
  `takerVol`, `makerVol`, `tradeVol`, `tradfiTradeVol` (USDT) and `commissionsVol` - our
  commission for the range as a JSON object of exactly the five coins BTC, ETH, MNT, USDC,
  USDT, each an amount of that coin as a string ("0" when nothing) - and no 30/365-day fields;
* without them: the 30/365-day fields (`takerVol30Day` ... `depositAmount365Day`, windows ending
  at the data set's `end_day`) and no custom-range fields.
The data set's commission is USDT. The venue pays part of some invitees' days in other coins,
deterministically per (uid, day) (`split`): a coin's share of the day's commission converted at
that day's close (`daily_close`), the coin amount rounded to 8 dp; the rest, rounded to 8 dp,
stays USDT. So a day's value at the closes (`paid_usdt`) is within 0.5e-8 of the data set's
USDT truth (what `/_sim/totals` reports), not equal to it: tests that need exact numbers take
the amounts from `payouts` (or the rows) and value them with `paid_usdt` / `daily_close`.
UIDs in `dataset.no_commission_field["bybit"]` get rows without `commissionsVol` (an API that
leaves it out), for the adapter's fallback.

kline (docs: `docs/v5/market/kline`, public, no key): category (`spot` only here), symbol
(BTCUSDT, ETHUSDT, MNTUSDT, USDCUSDT), interval (`D` only here), start/end ms, limit 1..1000
(default 200) → `result{category, symbol, list[[startTime, open, high, low, close, volume,
turnover], ...]}` as strings, newest first; candles start at 00:00 UTC and never lie in the
future. Envelope `{"retCode": 0, "retMsg": "", "result": ..., "retExtInfo": {}, "time"}`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import Dataset, SimTrader, q8
from sandbox.exchanges.venues.common import (
    Handler,
    ParamError,
    Venue,
    day_ms,
    int_param,
    money,
    ms_to_day,
    now_ms,
)

EXCHANGE = "bybit"
COINS = ("BTC", "ETH", "MNT", "USDC", "USDT")  # commissionsVol's fixed keys
PAR = frozenset({"USDC", "USDT"})  # paid 1:1 (the adapter counts stable coins 1:1 as well)
# Daily closes move around these, ±10 %, in the coin's tick.
BASE_PRICE = {"BTC": Decimal("97000"), "ETH": Decimal("3400"), "MNT": Decimal("0.85")}
TICK = {"BTC": Decimal("0.01"), "ETH": Decimal("0.01"), "MNT": Decimal("0.0001")}
KLINE_SYMBOLS = {f"{coin}USDT": coin for coin in ("BTC", "ETH", "MNT", "USDC")}
# How an invitee's day is paid: share of the USDT truth per coin, the rest in USDT. Picked
# per (seed, uid, day); the all-USDC one leaves a zero USDT amount beside non-zero volume.
SCHEMES: tuple[dict[str, Decimal], ...] = (
    {},
    {},
    {"BTC": Decimal("0.5")},
    {"ETH": Decimal("0.5")},
    {"MNT": Decimal("0.25")},
    {"USDC": Decimal("0.5")},
    {"USDC": Decimal(1)},
    {"BTC": Decimal("0.2"), "ETH": Decimal("0.2"), "MNT": Decimal("0.2"), "USDC": Decimal("0.2")},
)
TAKER_SHARE = Decimal("0.6")
CENT = Decimal("0.01")


def _unit(*parts: object) -> Decimal:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
    return Decimal(int(digest[:12], 16)) / Decimal(16**12)


def daily_close(coin: str, day: date) -> Decimal:
    """The close of `coin`/USDT's daily candle for `day` (the price the venue pays at)."""
    coin = coin.upper()
    if coin in PAR:
        return Decimal(1)
    wiggle = (_unit("close", coin, day.isoformat()) - Decimal("0.5")) / 5  # ±10 %
    return (BASE_PRICE[coin] * (1 + wiggle)).quantize(TICK[coin])


def split(seed: int, uid: str, day: date, commission: Decimal) -> dict[str, Decimal]:
    """One invitee's day of USDT commission as the five coin amounts the venue pays.

    Each coin's share of the commission is converted at the day's close and rounded to 8 dp in
    the coin; the USDT amount is what is left, rounded to 8 dp. So the day's value at the
    closes (`paid_usdt`) is within 0.5e-8 of the USDT truth, and exact given the amounts.
    """
    amounts = dict.fromkeys(COINS, Decimal(0))
    scheme = SCHEMES[int(_unit("pay", seed, uid, day.isoformat()) * len(SCHEMES))]
    rest = commission
    for coin, share in scheme.items():
        close = daily_close(coin, day)
        amount = q8(commission * share / close)
        if amount <= 0 or amount * close > rest:  # tiny or negative commission: keep USDT
            continue
        amounts[coin] = amount
        rest -= amount * close
    amounts["USDT"] = q8(rest)
    return amounts


def payouts(
    dataset: Dataset, first: date, last: date
) -> dict[tuple[str, date], dict[str, Decimal]]:
    """(uid, day) → the coin amounts the venue pays for that day (days with activity only)."""
    commission: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for a in dataset.activity_between(EXCHANGE, first, last):
        commission[(a.uid, a.day)] += a.commission
    return {
        (uid, day): split(dataset.seed, uid, day, total)
        for (uid, day), total in commission.items()
    }


def paid_usdt(amounts: dict[str, Decimal], day: date) -> Decimal:
    """USDT value of one day's coin amounts at the venue's own daily closes (exact)."""
    return sum((amount * daily_close(coin, day) for coin, amount in amounts.items()), Decimal(0))


def coin_text(amount: Decimal) -> str:
    return "0" if amount == 0 else money(amount)


class Bybit(Venue):
    id = EXCHANGE
    key_header = "X-BAPI-API-KEY"
    sign_header = "X-BAPI-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/v5/affiliate/aff-user-list", self.aff_user_list),
            ("GET", "/v5/user/aff-customer-info", self.aff_customer_info),
            ("GET", "/v5/market/kline", self.kline),
        ]

    def authenticated(self, request: web.Request) -> bool:
        # Market data is public on Bybit: no key, no signature.
        if request.path.startswith(f"/{self.id}/v5/market/"):
            return True
        return super().authenticated(request)

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json(
            {"retCode": 0, "retMsg": "", "result": data, "retExtInfo": {}, "time": now_ms()}
        )

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json(
            {"retCode": int(code), "retMsg": message, "result": {}, "retExtInfo": {},
             "time": now_ms()},
            status,
        )

    def auth_error(self) -> web.Response:
        return self.error("10003", "API key is invalid.", 401)

    def param_error(self, message: str) -> web.Response:
        return self.error("10001", message)

    def malformed_body(self) -> str:
        return '{"retCode":0,"retMsg":"","result":{"list":[{"userId":"1'

    def _volumes(self, first: date, last: date) -> dict[str, Decimal]:
        volume: dict[str, Decimal] = defaultdict(Decimal)
        for a in self.data.activity_between(self.id, first, last):
            volume[a.uid] += a.volume
        return volume

    @staticmethod
    def _vol_fields(volume: Decimal, suffix: str) -> dict[str, str]:
        taker = q8(volume * TAKER_SHARE)
        return {
            f"takerVol{suffix}": money(taker),
            f"makerVol{suffix}": money(volume - taker),
            f"tradeVol{suffix}": money(volume),
        }

    async def aff_user_list(self, request: web.Request) -> web.Response:
        size = int_param(request, "size", 20) or 20
        if not 0 <= size <= 1000:
            raise ParamError("size must be in [0, 1000]")
        cursor = int_param(request, "cursor", 0) or 0
        raw_start, raw_end = request.query.get("startDate"), request.query.get("endDate")
        ranged = raw_start is not None or raw_end is not None
        start = end = self.data.end_day
        if ranged:
            try:
                start = date.fromisoformat(raw_start or "")
                end = date.fromisoformat(raw_end or "")
            except ValueError as exc:
                raise ParamError("startDate and endDate must both be YYYY-MM-DD") from exc
            if end < start:
                raise ParamError("endDate must not be before startDate")
        traders = sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
        page = traders[cursor : cursor + size]
        rows = self._range_rows(page, start, end) if ranged else self._rolling_rows(page)
        following = cursor + size
        return self.ok(
            {"list": rows, "nextPageCursor": str(following) if following < len(traders) else ""}
        )

    @staticmethod
    def _user(t: SimTrader) -> dict[str, Any]:
        return {
            "userId": t.uid,
            "registerTime": t.registered_at.date().isoformat(),
            "source": "aff_sim_1",
            "remarks": "",
            "isKyc": True,
        }

    def _range_rows(self, page: list[SimTrader], start: date, end: date) -> list[dict[str, Any]]:
        """Rows of a custom range: range volumes and commissionsVol, no 30/365-day fields."""
        volume = self._volumes(start, end)
        paid: dict[str, dict[str, Decimal]] = {}
        for (uid, _), amounts in payouts(self.data, start, end).items():
            total = paid.setdefault(uid, dict.fromkeys(COINS, Decimal(0)))
            for coin, amount in amounts.items():
                total[coin] += amount
        omit = self.data.no_commission_field.get(self.id, set())
        rows = []
        for t in page:
            row = self._user(t) | self._vol_fields(volume.get(t.uid, Decimal(0)), "")
            row["tradfiTradeVol"] = money(Decimal(0))
            if t.uid not in omit:
                coins = paid.get(t.uid, {})
                row["commissionsVol"] = {c: coin_text(coins.get(c, Decimal(0))) for c in COINS}
            row["startDate"], row["endDate"] = start.isoformat(), end.isoformat()
            rows.append(row)
        return rows

    async def aff_customer_info(self, request: web.Request) -> web.Response:
        """One invitee by UID (docs: `docs/v5/affiliate/affiliate-info`): the 30/365-day
        figures of `uid`, no registration time. The docs show only the answer for one of our
        clients; for any other UID this venue answers retCode 0 with an empty `result` (our
        reading: Bybit's usual "nothing found" shape), which the adapter takes as "not ours".
        """
        uid = request.query.get("uid", "")
        if not uid:
            raise ParamError("uid is required")
        trader = self.data.find_trader(self.id, uid)
        if trader is None:
            return self.ok({})
        last = self.data.end_day
        row: dict[str, Any] = {"uid": uid, "vipLevel": "0", "totalWalletBalance": "1",
                               "depositAmount30Day": "0", "depositAmount365Day": "0",
                               "KycLevel": 1}
        row |= self._vol_fields(self._volumes(last - timedelta(days=29), last).get(
            uid, Decimal(0)), "30Day")
        row |= self._vol_fields(self._volumes(last - timedelta(days=364), last).get(
            uid, Decimal(0)), "365Day")
        return self.ok(row)

    def _rolling_rows(self, page: list[SimTrader]) -> list[dict[str, Any]]:
        """Rows without a range: the 30/365-day fields (ending at end_day), nothing else."""
        last = self.data.end_day
        volume30 = self._volumes(last - timedelta(days=29), last)
        volume365 = self._volumes(last - timedelta(days=364), last)
        rows = []
        for t in page:
            row = self._user(t) | self._vol_fields(volume30.get(t.uid, Decimal(0)), "30Day")
            row["depositAmount30Day"] = ""
            row |= self._vol_fields(volume365.get(t.uid, Decimal(0)), "365Day")
            row["depositAmount365Day"] = ""
            rows.append(row)
        return rows

    async def kline(self, request: web.Request) -> web.Response:
        category = request.query.get("category", "linear")
        if category != "spot":
            raise ParamError("the simulator serves category=spot only")
        symbol = request.query.get("symbol", "")
        coin = KLINE_SYMBOLS.get(symbol)
        if coin is None:
            raise ParamError("Not supported symbols")
        if request.query.get("interval") != "D":
            raise ParamError("the simulator serves interval=D only")
        limit = int_param(request, "limit", 200) or 200
        if not 1 <= limit <= 1000:
            raise ParamError("limit must be in [1, 1000]")
        today = datetime.now(UTC).date()
        end = int_param(request, "end")
        last = min(today, ms_to_day(end)) if end is not None else today
        start = int_param(request, "start")
        first = last - timedelta(days=limit - 1)
        if start is not None:
            aligned = ms_to_day(start)
            first = max(first, aligned if day_ms(aligned) >= start else aligned + timedelta(1))
        candles = []
        day = last
        while day >= first:  # newest first
            close = daily_close(coin, day)
            open_ = daily_close(coin, day - timedelta(days=1))
            high, low = max(open_, close), min(open_, close)
            volume = Decimal(1000) + (_unit("vol", coin, day.isoformat()) * 1000).quantize(CENT)
            candles.append(
                [str(day_ms(day)), str(open_), str(high), str(low), str(close), str(volume),
                 str(q8(volume * close))]
            )
            day -= timedelta(days=1)
        return self.ok({"category": category, "symbol": symbol, "list": candles})
