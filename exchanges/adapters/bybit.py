"""Bybit affiliate API (v5): invitees, their trading volume and our commission per coin.

`GET /v5/affiliate/aff-user-list` with `startDate`/`endDate` (YYYY-MM-DD) gives, per invitee,
the custom-range fields `takerVol`, `makerVol`, `tradeVol` (USDT, all products together),
`tradfiTradeVol`, and `commissionsVol`: our commission for the range as a map of five fixed
coins (BTC, ETH, MNT, USDC, USDT), each an amount of that coin. We ask one day at a time
(`startDate = endDate = day`) to get per-day rows, product "all". The key must carry only the
"Affiliate" permission (Bybit's rule).

Rows of one invitee's day, from `commissionsVol`:
* one USDT row: `volume = tradeVol`, `commission` = the USDT amount (also when that is 0, as long
  as there was volume), rate 1;
* one row per other non-zero coin: `commission` = the coin amount, `currency` = the coin (its own
  source key), `volume=None`. USDC is counted 1:1 (`make_row`'s stable-coin rule); BTC, ETH, MNT
  at the close of that UTC day's daily spot candle `<COIN>USDT` from `GET /v5/market/kline`,
  fetched once per coin and day per `fetch_commissions` call and stored as `rate_to_usdt`.
Volume is reported once per invitee and day, not per coin, so it goes on the USDT row only:
summing volume over rows never counts it twice, and a coin row whose price is missing has no
volume the rebate engine could estimate a commission from beside the real one.
When a coin's price cannot be had (no candle for the day, an unknown symbol), the row keeps
`rate_to_usdt=None` and `commission_usdt=None`: nothing is invented, the rebate engine leaves the
row unvalued until a re-read brings the rate. Temporary errors fail the read as everywhere.

Readings the docs leave open: `commissionsVol` amounts are taken in each coin's own units (the
sibling affiliate-sub-list documents a separate `commissionsForUsdt` for the USDT total, which
aff-user-list does not send); `tradeVol` is taken as the whole volume and `tradfiTradeVol` is not
added to it; figures are T+1, so a day read early can show zeros that a later re-read revises.
A day still running is valued at the candle's last price and revised when re-read.

Fallback: a response row without `commissionsVol` (an API that does not send it) gives the
volume-only row of old, `commission=None`, for the domain's estimate - same source key as the
USDT row above, so the two readings of a day never count twice either. `fee` is never reported.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from exchanges.adapters.ccxt_base import CcxtSource, day_end_ms, day_start_ms, days
from exchanges.base import USD_STABLES, USDT, Capabilities, CommissionRow, Invitee, make_row
from exchanges.errors import PermanentError

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # documented maximum
USER_LIST = "privateGetV5AffiliateAffUserList"  # GET /v5/affiliate/aff-user-list
CUSTOMER_INFO = "privateGetV5UserAffCustomerInfo"  # GET /v5/user/aff-customer-info
KLINE = "publicGetV5MarketKline"  # GET /v5/market/kline (public)

Prices = dict[tuple[str, date], Decimal | None]


class BybitSource(CcxtSource):
    exchange_id = "bybit"
    ccxt_id = "bybit"
    capabilities = Capabilities(
        commission=True, volume=True, fee=False, uid_check=True, verified=True
    )

    async def _user_list(self, window: dict[str, str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"size": PAGE_SIZE, **window}
            if cursor:
                params["cursor"] = cursor
            response = await self._call(USER_LIST, params)
            result = self._dict(response, "result")
            page = self._list(result, "list")
            rows.extend(page)
            cursor = str(result.get("nextPageCursor") or "")
            if not page or not cursor:
                return rows
            if cursor in seen:  # a cursor that repeats would loop forever
                raise self._malformed("nextPageCursor repeats")
            seen.add(cursor)

    async def list_invitees(self, since: datetime | None = None) -> list[Invitee]:
        invitees = []
        for item in await self._user_list({}):
            registered = _parse_register_time(item.get("registerTime"))
            # Dates only: compare days so an invitee of `since`'s day is never dropped.
            if since is None or registered is None or registered.date() >= since.date():
                invitees.append(Invitee(str(item["userId"]), registered))
        return invitees

    async def check_uid(self, uid: str) -> Invitee | None:
        """One UID through aff-customer-info instead of paging the whole invitee list.

        The docs show only the answer for one of our clients (`result.uid` is the UID); they do
        not say what a UID that is not ours returns. Reading: a successful answer without that
        UID in `result` means "not ours"; an error code is an error (raised, so an unexplained
        answer never counts as "not ours"). The answer has no registration time.
        """
        result = self._dict(await self._call(CUSTOMER_INFO, {"uid": uid}), "result")
        return Invitee(uid, None) if str(result.get("uid") or "") == uid else None

    async def fetch_commissions(self, start: datetime, end: datetime) -> list[CommissionRow]:
        rows: list[CommissionRow] = []
        prices: Prices = {}  # one kline request per coin and day in this read
        for day in days(start, end):
            stamp = day.isoformat()
            for item in await self._user_list({"startDate": stamp, "endDate": stamp}):
                rows.extend(await self._day_rows(item, day, prices))
        return rows

    async def _day_rows(
        self, item: dict[str, Any], day: date, prices: Prices
    ) -> list[CommissionRow]:
        uid = str(item["userId"])
        volume = self._decimal(item.get("tradeVol"))
        coins = self._commissions(item)
        if coins is None:  # fallback: volume only, commission for the domain to estimate
            if not volume:  # no trading that day (or not reported): no row
                return []
            return [make_row(self.exchange_id, uid, day, "all",
                             volume=volume, fee=None, commission=None)]
        rows = []
        paid_usdt = coins.pop(USDT, Decimal(0))
        if volume or paid_usdt:
            rows.append(make_row(self.exchange_id, uid, day, "all",
                                 volume=volume, fee=None, commission=paid_usdt))
        for coin, amount in sorted(coins.items()):
            if not amount:
                continue
            rate = None if coin in USD_STABLES else await self._daily_close(coin, day, prices)
            rows.append(make_row(self.exchange_id, uid, day, "all", volume=None, fee=None,
                                 commission=amount, currency=coin, rate_to_usdt=rate))
        return rows

    def _commissions(self, item: dict[str, Any]) -> dict[str, Decimal] | None:
        """`commissionsVol` as coin → amount, or None when the row has no such field."""
        raw = item.get("commissionsVol")
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):  # documented as "json": accept it sent as a JSON string too
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise self._malformed("commissionsVol") from exc
        if not isinstance(raw, dict):
            raise self._malformed("commissionsVol")
        coins: dict[str, Decimal] = {}
        for coin, value in raw.items():
            amount = self._decimal(value)
            if amount is not None:
                key = str(coin).upper()
                coins[key] = coins.get(key, Decimal(0)) + amount
        return coins

    async def _daily_close(self, coin: str, day: date, prices: Prices) -> Decimal | None:
        """Close of `<coin>USDT`'s daily spot candle for the UTC day, or None if there is none."""
        key = (coin, day)
        if key not in prices:
            prices[key] = await self._fetch_close(coin, day)
        return prices[key]

    async def _fetch_close(self, coin: str, day: date) -> Decimal | None:
        start = day_start_ms(day)
        params = {"category": "spot", "symbol": f"{coin}USDT", "interval": "D",
                  "start": start, "end": day_end_ms(day)}
        try:
            close = self._close_of(await self._call(KLINE, params), start)
        except PermanentError as exc:  # e.g. retCode 10001 "Not supported symbols", a bad body
            log.warning("bybit: no %sUSDT price for %s: %s", coin, day, exc)
            return None
        if close is None:
            log.warning("bybit: no %sUSDT daily candle for %s", coin, day)
        return close

    def _close_of(self, response: dict[str, Any], start: int) -> Decimal | None:
        candles = self._dict(response, "result").get("list")
        if not isinstance(candles, list):
            raise self._malformed("kline list")
        for candle in candles:  # [startTime, open, high, low, close, volume, turnover]
            if not isinstance(candle, list) or len(candle) < 5:
                raise self._malformed("kline candle")
            if str(candle[0]) == str(start):
                close = self._decimal(candle[4])
                return close if close is not None and close > 0 else None
        return None


def _parse_register_time(value: Any) -> datetime | None:
    """Bybit sends a date ("2024-05-01"), sometimes with a time; "0001-01-01" means unknown."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
