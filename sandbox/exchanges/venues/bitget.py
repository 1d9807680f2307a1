"""Bitget v2 affiliate ("broker" section): customer-commissions and customer-list.

Docs (bitget api-doc "Affiliate"): GET /api/v2/broker/customer-commissions - startTime/endTime
(ms, at most 90 days apart; default yesterday), idLessThan cursor, limit <= 1000 -> data.endId +
data.commissionList[] with one row per uid / day / coin / symbol; `date` is the "commission return
date (UTC+8)", stamped as the day's midnight in UTC+8, i.e. 16:00 UTC the day before (the docs'
example: 1694275200000). POST /api/v2/broker/customer-list (JSON body: startTime, endTime,
pageNo, pageSize <= 1000, uid) -> data[] {uid, registerTime}.
Envelope `{"code": "00000", "msg": "success", "requestTime": ms, "data": ...}`.

Withdrawals (bitget api-doc spot "Wallet": Withdraw, Get Withdrawal Records; state machine and
fault switches in `sandbox/exchanges/wallet.py`):
* `POST /api/v2/spot/wallet/withdrawal` - JSON body coin, transferType (`on_chain` |
  `internal_transfer`), address (chain address, or for internal transfers a UID / email /
  mobile per innerToType, default `uid`), chain (required on-chain, e.g. `trc20`), tag, size,
  clientOid -> data {orderId, clientOid}.
* `GET /api/v2/spot/wallet/withdrawal-records` - startTime and endTime required (ms), coin,
  clientOid, orderId, idLessThan, limit (default 20, max 100) -> data[] {orderId, tradeId
  (on-chain: the tx hash; internal: a trade id), coin, dest, clientOid, type "withdraw", tag,
  size, fee (negative), status (`pending` | `fail` | `success`), toAddress, fromAddress,
  confirm, chain, cTime, uTime}.
Bitget has no "sent" status: a broadcast withdrawal is still `pending`, with its hash in
`tradeId` (empty before; the docs do not say what tradeId holds before broadcast).
The fee is taken on top of `size` here (the docs do not say which way; ccxt reads the amount
received as size - |fee|).
Errors (Bitget's error-code list; HTTP 400): 43012 "Insufficient balance", 47003 "Withdraw
address is not in addressBook", 40017 parameter error; a repeated clientOid gets 43118
"clientOrderId duplicate" (listed among the withdrawal codes; 45034 "clientOid duplicate" is the
trading one) - unverified live.

Window rule (the docs do not say how startTime/endTime meet `date`): the widest reading, which
is also what the live API did (issue 9) - whole UTC days, both ends inclusive: a query returns
every line whose `date` falls on the UTC date of startTime through the UTC date of endTime (see
`common.on_utc_days`). A query for days D1..D2 sent as [00:00 UTC - 8 h of D1, 23:59:59.999 UTC -
8 h of D2] so returns D1..D2 and also D2 + 1 (stamped 16:00 UTC on D2), which the next window
returns again. Without startTime/endTime: yesterday (UTC+8) only, as documented.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import q8
from sandbox.exchanges.venues.common import (
    Handler,
    ParamError,
    Venue,
    int_param,
    json_object,
    money,
    ms,
    now_ms,
    on_utc_days,
    utc8_day_ms,
)
from sandbox.exchanges.wallet import Refusal, ServerError, SimState, SimWithdrawal, Wallet

MAX_RANGE_MS = 90 * 86_400_000
PRODUCT_TYPE = {"spot": "SPOT", "futures": "USDT-FUTURES"}
CHAIN_FEES = {"trc20": Decimal("1"), "erc20": Decimal("3"), "bep20": Decimal("0.3")}
STATUS = {
    SimState.PENDING: "pending",
    SimState.SENT: "pending",
    SimState.COMPLETED: "success",
    SimState.FAILED: "fail",
}
REFUSALS = {
    "duplicate": ("43118", "clientOrderId duplicate"),
    "insufficient": ("43012", "Insufficient balance"),
    "address": ("47003", "Withdraw address is not in addressBook"),
    "param": ("40017", "Parameter verification failed: size"),
}
OUR_UID = "6000000001"


class Bitget(Venue):
    id = "bitget"
    key_header = "ACCESS-KEY"
    sign_header = "ACCESS-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v2/broker/customer-commissions", self.customer_commissions),
            ("POST", "/api/v2/broker/customer-list", self.customer_list),
            ("POST", "/api/v2/spot/wallet/withdrawal", self.withdrawal),
            ("GET", "/api/v2/spot/wallet/withdrawal-records", self.withdrawal_records),
        ]

    wallet: Wallet | None = None

    def attach_wallet(self, wallet: Wallet) -> None:
        self.wallet = wallet

    def _wallet(self) -> Wallet:
        if self.wallet is None:
            raise RuntimeError("no wallet attached to the Bitget venue")
        return self.wallet

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json(
            {"code": "00000", "msg": "success", "requestTime": now_ms(), "data": data}
        )

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json(
            {"code": code, "msg": message, "requestTime": now_ms(), "data": None}, status
        )

    def auth_error(self) -> web.Response:
        return self.error("40037", "Apikey does not exist", 400)

    def param_error(self, message: str) -> web.Response:
        return self.error("40017", f"Parameter verification failed: {message}", 400)

    def authenticated(self, request: web.Request) -> bool:
        return super().authenticated(request) and bool(request.headers.get("ACCESS-PASSPHRASE"))

    def _rows(self) -> list[dict[str, Any]]:
        """All commission lines, each activity split over two symbols, ids ascending."""
        rows: list[dict[str, Any]] = []
        activity = sorted(self.data.activity.get(self.id, []), key=lambda a: (a.day, a.uid))
        for a in activity:
            stamp = utc8_day_ms(a.day)
            pairs = ("BTCUSDT", "ETHUSDT")
            share = Decimal("0.7")
            first = (q8(a.volume * share), q8(a.fee * share), q8(a.commission * share))
            rest = (a.volume - first[0], a.fee - first[1], a.commission - first[2])
            for symbol, (volume, fee, commission) in zip(pairs, (first, rest), strict=True):
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "uid": a.uid,
                        "date": str(stamp),
                        "coin": "USDT",
                        "symbol": symbol,
                        "productType": PRODUCT_TYPE.get(a.product, a.product.upper()),
                        "dealAmount": money(volume),
                        "fee": money(fee),
                        "feeDeduction": "0",
                        "feePaid": money(fee),
                        "rebateAmount": money(commission),
                    }
                )
        return rows

    async def customer_commissions(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 100) or 100
        if not 1 <= limit <= 1000:
            raise ParamError("limit")
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        if (start is None) != (end is None):
            raise ParamError("startTime and endTime go together")
        if start is None or end is None:
            yesterday = utc8_day_ms(self.data.end_day)

            def wanted(stamp: int) -> bool:
                return stamp == yesterday
        else:
            if end < start or end - start > MAX_RANGE_MS:
                raise ParamError("startTime/endTime range must be within 90 days")
            first, last = start, end

            def wanted(stamp: int) -> bool:
                return on_utc_days(stamp, first, last)
        before = int_param(request, "idLessThan")
        uid = request.query.get("uid")
        rows = [
            r for r in reversed(self._rows())  # newest first, as Bitget pages with idLessThan
            if wanted(int(r["date"]))
            and (before is None or r["id"] < before)
            and (uid is None or r["uid"] == uid)
        ][:limit]
        end_id = str(rows[-1]["id"]) if rows else ""
        for r in rows:
            r["id"] = str(r["id"])
        return self.ok({"endId": end_id, "commissionList": rows})

    async def customer_list(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError as exc:
            raise ParamError("body") from exc
        page_no = int(body.get("pageNo", 1))
        page_size = int(body.get("pageSize", 100))
        if not 1 <= page_size <= 1000:
            raise ParamError("pageSize")
        start = int(body["startTime"]) if body.get("startTime") else None
        end = int(body["endTime"]) if body.get("endTime") else None
        uid = body.get("uid")
        traders = [
            t
            for t in sorted(self.data.traders.get(self.id, []), key=lambda t: t.uid)
            if (uid is None or t.uid == uid)
            and (start is None or ms(t.registered_at) >= start)
            and (end is None or ms(t.registered_at) <= end)
        ]
        chunk = traders[(page_no - 1) * page_size : page_no * page_size]
        return self.ok([{"uid": t.uid, "registerTime": str(ms(t.registered_at))} for t in chunk])

    # --- withdrawals -----------------------------------------------------------------------

    async def withdrawal(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        coin = str(body.get("coin") or "")
        transfer_type = str(body.get("transferType") or "")
        address = str(body.get("address") or "")
        client_oid = str(body.get("clientOid") or "")
        if not coin:
            raise ParamError("coin")
        if transfer_type not in ("on_chain", "internal_transfer"):
            raise ParamError("transferType")
        if not address:
            raise ParamError("address")
        if len(client_oid) > 50:
            return self.error("40304", "clientOid or clientOrderId length cannot greater than 50",
                              400)
        try:
            size = Decimal(str(body.get("size")))
        except InvalidOperation as exc:
            raise ParamError("size") from exc
        if not size.is_finite() or size <= 0:
            raise ParamError("size")
        chain, fee = "", Decimal(0)
        if transfer_type == "on_chain":
            chain = str(body.get("chain") or "")
            if not chain:
                raise ParamError("chain")
            if chain.lower() not in CHAIN_FEES:
                return self.error("40017", f"Parameter verification failed: chain {chain}", 400)
            fee = CHAIN_FEES[chain.lower()]
        else:
            inner = str(body.get("innerToType") or "uid")
            if inner not in ("uid", "email", "mobile"):
                raise ParamError("innerToType")
            if inner == "uid" and not address.isdigit():
                return self.error("40104", "Unable to withdraw to this account Please make "
                                  "sure this is a valid and verified account", 400)
        wallet = self._wallet()
        try:
            withdrawal, drop = wallet.submit(
                client_id=client_oid,
                kind="onchain" if transfer_type == "on_chain" else "internal",
                asset=coin, amount=size, fee=fee, to=address, chain=chain,
                tag=str(body.get("tag") or ""),
            )
        except ServerError:
            return web.Response(status=503, text="Service Unavailable")
        except Refusal as exc:
            code, message = REFUSALS.get(exc.reason, ("47003", str(exc)))
            return self.error(exc.code or code, message, 400)
        if drop:
            await asyncio.sleep(wallet.faults.of(self.id).slow_seconds)
        return self.ok({"orderId": withdrawal.id, "clientOid": client_oid or None})

    def _record(self, w: SimWithdrawal) -> dict[str, Any]:
        # internal: Bitget's "trade ID"; on-chain: the tx hash once broadcast, "" before
        trade_id = w.id if w.kind == "internal" else w.tx_hash
        confirm = {SimState.SENT: "1", SimState.COMPLETED: "100"}.get(w.state, "0")
        return {
            "orderId": w.id,
            "tradeId": trade_id,
            "coin": w.asset,
            "dest": "on_chain" if w.kind == "onchain" else "internal_transfer",
            "clientOid": w.client_id or None,
            "type": "withdraw",
            "tag": w.tag,
            "size": money(w.amount),
            "fee": money(-w.fee),
            "status": STATUS[w.state],
            "toAddress": w.to,
            "fromAddress": OUR_UID if w.kind == "internal" else "",
            "confirm": confirm,
            "chain": w.chain,
            "cTime": str(w.created_ms),
            "uTime": str(w.updated_ms),
        }

    async def withdrawal_records(self, request: web.Request) -> web.Response:
        start, end = int_param(request, "startTime"), int_param(request, "endTime")
        if start is None or end is None:
            raise ParamError("startTime and endTime are required")
        if end < start or end - start > MAX_RANGE_MS:
            raise ParamError("startTime/endTime range must be within 90 days")
        limit = int_param(request, "limit", 20) or 20
        if not 1 <= limit <= 100:
            raise ParamError("limit")
        before = int_param(request, "idLessThan")
        q = request.query
        wallet = self._wallet()
        wallet.tick()
        rows = [
            self._record(w)
            for w in sorted(wallet.withdrawals, key=lambda w: int(w.id), reverse=True)
            if start <= w.created_ms <= end
            and (not q.get("coin") or w.asset == q["coin"])
            and (not q.get("clientOid") or w.client_id == q["clientOid"])
            and (not q.get("orderId") or w.id == q["orderId"])
            and (before is None or int(w.id) < before)
        ]
        return self.ok(rows[:limit])
