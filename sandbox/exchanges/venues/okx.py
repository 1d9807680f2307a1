"""OKX v5 affiliate (invitee/list, invitee/detail) and funding withdrawals.

Withdrawals (okx.com/docs-v5 "Funding account"; see `sandbox/exchanges/wallet.py` for the
state machine and fault switches):
* `POST /api/v5/asset/withdrawal` - JSON body ccy, amt, dest (`3` internal transfer, `4`
  on-chain), toAddr, toAddrType (`1` address/email/phone/account name, `2` UID - only for
  whitelisted users, dest=3 only), chain (e.g. `USDT-TRC20`; default the main chain), clientId
  (up to 32 case-sensitive alphanumerics). The fee is not part of `amt` (it is taken on top; the
  request has no fee parameter any more). Answer `data[0]`: {ccy, chain, amt, wdId, clientId}.
* `GET /api/v5/asset/withdrawal-history` - ccy, wdId, clientId, txId, type, state, after,
  before, limit (<= 100), newest first; rows {ccy, chain, nonTradableAsset, amt, ts, from, to,
  toAddrType, txId ("" for internal), fee, feeCcy, state, wdId, clientId, note}.
* `GET /api/v5/asset/deposit-withdraw-status` - wdId -> {wdId, txId, state, estCompleteTime}.
Simulated states: pending `0` (waiting withdrawal), sent `1` (broadcasting, txId set),
completed `2`, failed `-1`; internal transfers are `2` at once.
Errors (OKX's error-code list, HTTP 200): 58350 "Insufficient balance.", 58207 "Withdrawal
address isn't on the verified address list", 58010 "Chain {chain} isn't supported", 51000
parameter error; a repeated clientId gets 50071 "{param} already exists" - OKX documents that
code generically ("e.g. clOrdId already exists"), not for withdrawals: unverified live.

Docs (okx.com/docs-v5 "Affiliate"): invitee/list takes page, limit (<=100), periodType
(custom needs begin/end in ms, at most 90 days apart, begin not before now-180 d),
commissionCategory (SPOT | DERIVATIVE | BSC; none = all three); the response has a top-level
`totalPage`. Numbers are USDT strings. Envelope `{"code": "0", "msg": "", "data": [...]}`.
BSC is served for the traders the data set gives a "bsc" product (some OKX traders).

Window rule: begin and end are documented as inclusive. The docs do not say which time zone
OKX's daily figures follow; we count a day when its UTC start lies in [begin, end]. A row is a
total over the whole window with no day of its own, so the reading only matters at the edges:
the adapter asks one UTC day at a time ([00:00, 23:59:59.999]), windows that share no moment.
"""

from __future__ import annotations

import asyncio
import math
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import SimTrader
from sandbox.exchanges.venues.common import (
    Handler,
    ParamError,
    Venue,
    day_ms,
    int_param,
    json_object,
    money,
    ms,
    ms_to_day,
    now_ms,
)
from sandbox.exchanges.wallet import Refusal, ServerError, SimState, SimWithdrawal, Wallet

MAX_CUSTOM_MS = 90 * 86_400_000
OLDEST_MS = 180 * 86_400_000
CATEGORY = {
    "SPOT": {"spot"},
    "DERIVATIVE": {"futures"},
    "BSC": {"bsc"},
    "": {"spot", "futures", "bsc"},
}
# Not in ccxt's OKX error table (so it surfaces as a generic ExchangeError); code as in OKX's
# error list, "The user isn't your invitee" - unverified against the live API.
NOT_INVITEE = "51621"

CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
CHAIN_FEES = {  # chain -> fixed fee (simulated amounts)
    "USDT-TRC20": Decimal("1"),
    "USDT-ERC20": Decimal("3"),
    "USDT-BSC": Decimal("0.3"),
    "BTC-Bitcoin": Decimal("0.0002"),
}
MAIN_CHAIN = {"USDT": "USDT-ERC20", "BTC": "BTC-Bitcoin"}
STATE_CODE = {
    SimState.PENDING: "0",
    SimState.SENT: "1",
    SimState.COMPLETED: "2",
    SimState.FAILED: "-1",
}
REFUSALS = {
    "duplicate": ("50071", "clientId already exists"),
    "insufficient": ("58350", "Insufficient balance."),
    "address": ("58207", "Withdrawal address isn't on the verified address list."),
    "param": ("51000", "Parameter amt error"),
}
OUR_ACCOUNT = "sim-treasury@example.com"


class Okx(Venue):
    id = "okx"
    key_header = "OK-ACCESS-KEY"
    sign_header = "OK-ACCESS-SIGN"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v5/affiliate/invitee/list", self.invitee_list),
            ("GET", "/api/v5/affiliate/invitee/detail", self.invitee_detail),
            ("POST", "/api/v5/asset/withdrawal", self.withdrawal),
            ("GET", "/api/v5/asset/withdrawal-history", self.withdrawal_history),
            ("GET", "/api/v5/asset/deposit-withdraw-status", self.deposit_withdraw_status),
        ]

    wallet: Wallet | None = None

    def attach_wallet(self, wallet: Wallet) -> None:
        self.wallet = wallet

    def _wallet(self) -> Wallet:
        if self.wallet is None:
            raise RuntimeError("no wallet attached to the OKX venue")
        return self.wallet

    def ok(self, data: Any, **extra: Any) -> web.Response:
        return self.json({"code": "0", "msg": "", **extra, "data": data})

    def error(self, code: str, message: str, status: int = 200) -> web.Response:
        return self.json({"code": code, "msg": message, "data": []}, status)

    def auth_error(self) -> web.Response:
        return self.error("50111", "Invalid OK-ACCESS-KEY", 401)

    def rate_limited(self, retry_after: float) -> web.Response:
        response = self.error("50011", "Too Many Requests", 429)
        response.headers["Retry-After"] = f"{retry_after:g}"
        return response

    def param_error(self, message: str) -> web.Response:
        return self.error("51000", f"Parameter {message} error", 400)

    def authenticated(self, request: web.Request) -> bool:
        return super().authenticated(request) and bool(request.headers.get("OK-ACCESS-PASSPHRASE"))

    def _window(self, request: web.Request) -> tuple[date, date]:
        period = request.query.get("periodType", "total")
        end_day = self.data.end_day
        if period == "custom":
            begin, end = int_param(request, "begin"), int_param(request, "end")
            if begin is None or end is None or end < begin:
                raise ParamError("begin")
            if end - begin > MAX_CUSTOM_MS or begin < now_ms() - OLDEST_MS:
                raise ParamError("begin")
            first = ms_to_day(begin)
            # A day counts when its start lies inside [begin, end].
            if day_ms(first) < begin:
                first += timedelta(days=1)
            return first, ms_to_day(end)
        lengths = {"last_7d": 7, "last_30d": 30, "last_90d": 90}
        if period == "total":
            return date.min, end_day
        if period not in lengths:
            raise ParamError("periodType")
        return end_day - timedelta(days=lengths[period] - 1), end_day

    def _row(
        self, t: SimTrader, vol: Decimal, fee: Decimal, commission: Decimal
    ) -> dict[str, Any]:
        return {
            "uid": t.uid,
            "country": "",
            "joinTime": str(ms(t.registered_at)),
            "firstTradeTime": "",
            "channelName": "",
            "rebateRate": "0.4",
            "feeTierRank": "Lv1",
            "kycStatus": "1",
            "kycTime": "",
            "depAmt": "0",
            "totalVol": money(vol),
            "totalFee": money(fee),
            "totalCommission": money(commission),
            "isCompliant": True,
        }

    async def invitee_list(self, request: web.Request) -> web.Response:
        page = int_param(request, "page", 1) or 1
        limit = int_param(request, "limit", 100) or 100
        if not 1 <= limit <= 100:
            raise ParamError("limit")
        category = request.query.get("commissionCategory", "")
        if category not in CATEGORY:
            raise ParamError("commissionCategory")
        first, last = self._window(request)
        sums: dict[str, list[Decimal]] = {}
        for a in self.data.activity_between(self.id, first, last):
            if a.product in CATEGORY[category]:
                slot = sums.setdefault(a.uid, [Decimal(0)] * 3)
                slot[0] += a.volume
                slot[1] += a.fee
                slot[2] += a.commission
        keyword = request.query.get("keyword", "")
        traders = sorted(
            (t for t in self.data.traders.get(self.id, []) if keyword in t.uid),
            key=lambda t: t.uid,
        )
        chunk = traders[(page - 1) * limit : page * limit]
        zero = [Decimal(0)] * 3
        data = [self._row(t, *sums.get(t.uid, zero)) for t in chunk]
        return self.ok(data, totalPage=str(max(1, math.ceil(len(traders) / limit))))

    async def invitee_detail(self, request: web.Request) -> web.Response:
        uid = request.query.get("uid", "")
        if not uid:
            raise ParamError("uid")
        trader = self.data.find_trader(self.id, uid)
        if trader is None:
            return self.error(NOT_INVITEE, "The user isn't your invitee")
        totals = self.data.grand_totals(self.id)
        return self.ok(
            [
                {
                    "inviteeLevel": "2",
                    "joinTime": str(ms(trader.registered_at)),
                    "inviteeRebateRate": "0.4",
                    "totalCommission": money(totals.commission),
                    "firstTradeTime": "",
                    "level": "Lv1",
                    "depAmt": "0",
                    "wdAmt": "0",
                    "volMonth": "0",
                    "totalVol": "0",
                    "accFee": "0",
                    "kycTime": "",
                    "region": "",
                    "affiliateCode": "SIM",
                }
            ]
        )

    # --- withdrawals -----------------------------------------------------------------------

    async def withdrawal(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        ccy = str(body.get("ccy") or "")
        dest = str(body.get("dest") or "")
        to_addr = str(body.get("toAddr") or "")
        client_id = str(body.get("clientId") or "")
        if not ccy:
            raise ParamError("ccy")
        if dest not in ("3", "4"):
            raise ParamError("dest")
        if not to_addr:
            raise ParamError("toAddr")
        if client_id and not CLIENT_ID.match(client_id):
            raise ParamError("clientId")
        try:
            amount = Decimal(str(body.get("amt")))
        except InvalidOperation as exc:
            raise ParamError("amt") from exc
        if not amount.is_finite() or amount <= 0:
            raise ParamError("amt")
        chain, fee, tag = "", Decimal(0), ""
        if dest == "4":
            chain = str(body.get("chain") or MAIN_CHAIN.get(ccy, ""))
            if chain not in CHAIN_FEES or not chain.startswith(f"{ccy}-"):
                return self.error("58010", f"Chain {chain} isn't supported")
            fee = CHAIN_FEES[chain]
            if ":" in to_addr:
                to_addr, tag = to_addr.split(":", 1)
        else:
            to_type = str(body.get("toAddrType") or "1")
            if to_type not in ("1", "2"):
                raise ParamError("toAddrType")
            if to_type == "2" and not to_addr.isdigit():
                return self.error("58213", "The internal transfer address is illegal. It must "
                                  "be an email, phone number, or account name")
        wallet = self._wallet()
        try:
            withdrawal, drop = wallet.submit(
                client_id=client_id, kind="internal" if dest == "3" else "onchain",
                asset=ccy, amount=amount, fee=fee, to=to_addr, chain=chain, tag=tag,
            )
        except ServerError:
            return web.Response(status=503, text="Service Unavailable")
        except Refusal as exc:
            code, message = REFUSALS.get(exc.reason, ("58207", str(exc)))
            return self.error(exc.code or code, message)
        if drop:
            await asyncio.sleep(wallet.faults.of(self.id).slow_seconds)
        return self.ok([{"ccy": ccy, "chain": chain, "amt": str(amount),
                         "wdId": withdrawal.id, "clientId": client_id}])

    def _history_row(self, w: SimWithdrawal) -> dict[str, Any]:
        return {
            "ccy": w.asset,
            "chain": w.chain,
            "nonTradableAsset": False,
            "amt": str(w.amount),
            "ts": str(w.created_ms),
            "from": OUR_ACCOUNT,
            "areaCodeFrom": "",
            "to": w.to,
            "areaCodeTo": "",
            "toAddrType": "2" if w.kind == "internal" and w.to.isdigit() else "1",
            "txId": w.tx_hash if w.kind == "onchain" else "",
            "fee": str(w.fee),
            "feeCcy": w.asset,
            "state": STATE_CODE[w.state],
            "wdId": w.id,
            "clientId": w.client_id,
            "note": "",
            **({"tag": w.tag} if w.tag else {}),
        }

    async def withdrawal_history(self, request: web.Request) -> web.Response:
        limit = int_param(request, "limit", 100) or 100
        if not 1 <= limit <= 100:
            raise ParamError("limit")
        kind = request.query.get("type", "")
        if kind not in ("", "3", "4"):
            raise ParamError("type")
        after, before = int_param(request, "after"), int_param(request, "before")
        wallet = self._wallet()
        wallet.tick()
        q = request.query
        rows = [
            self._history_row(w)
            for w in sorted(wallet.withdrawals, key=lambda w: w.created_ms, reverse=True)
            if (not q.get("ccy") or w.asset == q["ccy"])
            and (not q.get("wdId") or w.id == q["wdId"])
            and (not q.get("clientId") or w.client_id == q["clientId"])
            and (not q.get("txId") or w.tx_hash == q["txId"])
            and (not kind or (kind == "3") == (w.kind == "internal"))
            and (after is None or w.created_ms < after)
            and (before is None or w.created_ms > before)
        ]
        if q.get("state"):
            rows = [r for r in rows if r["state"] == q["state"]]
        return self.ok(rows[:limit])

    async def deposit_withdraw_status(self, request: web.Request) -> web.Response:
        wd_id = request.query.get("wdId", "")
        if not wd_id:
            raise ParamError("wdId")
        wallet = self._wallet()
        wallet.tick()
        found = [w for w in wallet.withdrawals if w.id == wd_id]
        if not found:
            return self.error("58215", "Withdrawal ID does not exist.")
        w = found[0]
        words = {
            SimState.PENDING: "Stage 1: Pending withdrawal:Waiting withdrawal",
            SimState.SENT: "Stage 2: Withdrawal in progress:Broadcasting your transaction",
            SimState.COMPLETED: "Final stage: Withdrawal complete",
            SimState.FAILED: "Final stage: Withdrawal failed",
        }
        return self.ok([{"wdId": w.id, "txId": w.tx_hash, "state": words[w.state],
                         "estCompleteTime": ""}])
