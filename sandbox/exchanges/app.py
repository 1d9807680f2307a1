"""The simulator's aiohttp application: every exchange on one host, by path prefix.

An adapter built with `api_url="http://host:port/<exchange_id>"` keeps the real exchange's
paths after that prefix, e.g. `/okx/api/v5/affiliate/invitee/list`.

Control endpoints (not part of any exchange):
* `GET  /_sim/health`
* `GET  /_sim/faults` - current switches
* `POST /_sim/faults` - `{"exchange": "okx", "rate_limit": 2, "retry_after": 0.5,
  "server_error": 0, "slow": 0, "slow_seconds": 5, "malformed": 0, "auth_fail": false}`
  (any subset) or
  `{"exchange": "okx", "reset": true}`; without "exchange", "reset" clears every exchange
* `POST /_sim/invitees` - `{"exchange": "okx", "uid": "...", "registered_at": ISO-8601,
  "activity": [{"day": "YYYY-MM-DD", "product": "spot", "volume": "100", "fee": "0.1",
  "commission": "0.04"}]}` (uid, registered_at, activity, fee and commission optional)
* `GET  /_sim/totals?exchange=okx` - per-exchange grand totals of the data set
* `GET  /_sim/withdrawals[?exchange=okx]` - every withdrawal sent from our accounts (OKX and
  Bitget serve the withdrawal endpoints; see `wallet.py`)
* `POST /_sim/withdrawals/advance` - `{"exchange": "okx", "client_id": "...", "steps": 1}`
  (client_id optional: all of that exchange's withdrawals) moves withdrawals on by steps
* `GET  /_sim/wallet?exchange=okx` - balances; `POST /_sim/wallet` - `{"exchange": "okx",
  "asset": "USDT", "balance": "100"}` sets a balance, `{"auto_advance_seconds": 5}` (0 = off)
  sets how fast withdrawals move on by themselves
Withdrawal fault switches (`withdraw_refuse`, `withdraw_refuse_code`, `withdraw_server_error`,
`withdraw_drop_answer`, `withdraw_fail_after_accept`) go through `/_sim/faults` like the others.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.exchanges.dataset import Dataset
from sandbox.exchanges.faults import Faults
from sandbox.exchanges.venues import (
    bingx,
    bitget,
    blofin,
    bybit,
    gate,
    htx,
    kucoin,
    mexc,
    okx,
    weex,
)
from sandbox.exchanges.venues.common import Handler, ParamError, Venue, money
from sandbox.exchanges.wallet import Wallets

VENUE_CLASSES: list[type[Venue]] = [
    bybit.Bybit,
    okx.Okx,
    bitget.Bitget,
    mexc.Mexc,
    bingx.BingX,
    kucoin.KuCoin,
    blofin.BloFin,
    weex.Weex,
    htx.Htx,
    gate.Gate,
]
SIMULATED_EXCHANGES = [cls.id for cls in VENUE_CLASSES]

DATASET_KEY = web.AppKey("dataset", Dataset)
FAULTS_KEY = web.AppKey("faults", Faults)
WALLETS_KEY = web.AppKey("wallets", Wallets)
# Withdrawals move on by themselves this often unless a caller passes its own Wallets (tests
# pass auto_advance_seconds=None and advance by hand).
DEFAULT_AUTO_ADVANCE_SECONDS = 5.0


def create_app(
    dataset: Dataset, faults: Faults | None = None, wallets: Wallets | None = None
) -> web.Application:
    faults = faults if faults is not None else Faults()
    if wallets is None:
        wallets = Wallets(faults, auto_advance_seconds=DEFAULT_AUTO_ADVANCE_SECONDS)
    venues = {cls.id: cls(dataset) for cls in VENUE_CLASSES}
    for venue in venues.values():
        attach = getattr(venue, "attach_wallet", None)
        if attach is not None:
            attach(wallets.of(venue.id))

    @web.middleware
    async def exchange_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        prefix = request.path.strip("/").split("/", 1)[0]
        venue = venues.get(prefix)
        if venue is None:
            return await handler(request)
        switches = faults.of(venue.id)
        if switches.take("rate_limit"):
            return venue.rate_limited(switches.retry_after)
        if switches.take("server_error"):
            return web.Response(status=503, text="Service Unavailable")
        if switches.take("slow"):
            await asyncio.sleep(switches.slow_seconds)
        if switches.auth_fail or not venue.authenticated(request):
            return venue.auth_error()
        if switches.take("malformed"):
            return web.Response(text=venue.malformed_body(), content_type="application/json")
        try:
            return await handler(request)
        except ParamError as exc:
            return venue.param_error(str(exc))

    app = web.Application(middlewares=[exchange_middleware])
    app[DATASET_KEY] = dataset
    app[FAULTS_KEY] = faults
    app[WALLETS_KEY] = wallets
    for venue in venues.values():
        for method, path, handler in venue.routes():
            app.router.add_route(method, f"/{venue.id}{path}", handler)
    app.router.add_get("/_sim/health", _health)
    app.router.add_get("/_sim/faults", _get_faults)
    app.router.add_post("/_sim/faults", _set_faults)
    app.router.add_post("/_sim/invitees", _add_invitee)
    app.router.add_get("/_sim/totals", _totals)
    app.router.add_get("/_sim/withdrawals", _withdrawals)
    app.router.add_post("/_sim/withdrawals/advance", _advance)
    app.router.add_get("/_sim/wallet", _get_wallet)
    app.router.add_post("/_sim/wallet", _set_wallet)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "exchanges": SIMULATED_EXCHANGES})


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[FAULTS_KEY].as_dict())


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="body must be JSON") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


async def _set_faults(request: web.Request) -> web.Response:
    body = await _json_body(request)
    faults = request.app[FAULTS_KEY]
    exchange = body.pop("exchange", None)
    if body.pop("reset", False):
        faults.reset(exchange)
    if exchange is not None and body:
        try:
            faults.set(exchange, **body)
        except (TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
    return web.json_response(faults.as_dict())


async def _add_invitee(request: web.Request) -> web.Response:
    body = await _json_body(request)
    dataset = request.app[DATASET_KEY]
    exchange = body.get("exchange")
    if exchange not in SIMULATED_EXCHANGES:
        raise web.HTTPBadRequest(text=f"exchange must be one of {SIMULATED_EXCHANGES}")
    try:
        registered = (
            datetime.fromisoformat(body["registered_at"]) if body.get("registered_at") else None
        )
        if registered is not None and registered.tzinfo is None:
            registered = registered.replace(tzinfo=UTC)
        trader = dataset.add_trader(exchange, body.get("uid"), registered)
        for item in body.get("activity", []):
            dataset.add_activity(
                exchange,
                trader.uid,
                date.fromisoformat(item["day"]),
                item.get("product", "spot"),
                Decimal(str(item["volume"])),
                Decimal(str(item["fee"])) if "fee" in item else None,
                Decimal(str(item["commission"])) if "commission" in item else None,
            )
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise web.HTTPBadRequest(text=f"bad invitee: {exc}") from exc
    return web.json_response(
        {
            "exchange": exchange,
            "uid": trader.uid,
            "registered_at": trader.registered_at.isoformat(),
        }
    )


async def _totals(request: web.Request) -> web.Response:
    dataset = request.app[DATASET_KEY]
    exchange = request.query.get("exchange", "")
    total = dataset.grand_totals(exchange)
    return web.json_response(
        {
            "exchange": exchange,
            "traders": len(dataset.traders.get(exchange, [])),
            "volume": money(total.volume),
            "fee": money(total.fee),
            "commission": money(total.commission),
        }
    )


async def _withdrawals(request: web.Request) -> web.Response:
    wallets = request.app[WALLETS_KEY]
    exchange = request.query.get("exchange") or None
    return web.json_response([w.as_dict() for w in wallets.all_withdrawals(exchange)])


async def _advance(request: web.Request) -> web.Response:
    body = await _json_body(request)
    exchange = body.get("exchange")
    if exchange not in SIMULATED_EXCHANGES:
        raise web.HTTPBadRequest(text=f"exchange must be one of {SIMULATED_EXCHANGES}")
    try:
        steps = int(body.get("steps", 1))
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text="steps must be an integer") from exc
    client_id = body.get("client_id")
    moved = request.app[WALLETS_KEY].of(exchange).advance(
        str(client_id) if client_id else None, steps
    )
    return web.json_response([w.as_dict() for w in moved])


def _wallet_view(wallets: Wallets, exchange: str) -> dict[str, Any]:
    wallet = wallets.of(exchange)
    wallet.balance("USDT")  # the seeded balance shows before the first withdrawal
    return {
        "exchange": exchange,
        "balances": {asset: str(amount) for asset, amount in sorted(wallet.balances.items())},
        "auto_advance_seconds": wallet.auto_advance_seconds,
    }


async def _get_wallet(request: web.Request) -> web.Response:
    exchange = request.query.get("exchange", "")
    if exchange not in SIMULATED_EXCHANGES:
        raise web.HTTPBadRequest(text=f"exchange must be one of {SIMULATED_EXCHANGES}")
    return web.json_response(_wallet_view(request.app[WALLETS_KEY], exchange))


async def _set_wallet(request: web.Request) -> web.Response:
    body = await _json_body(request)
    wallets = request.app[WALLETS_KEY]
    try:
        if "auto_advance_seconds" in body:
            seconds = body["auto_advance_seconds"]
            wallets.set_auto_advance(float(seconds) if seconds else None)
        exchange = body.get("exchange")
        if exchange is None:
            return web.json_response({"auto_advance_seconds": wallets.auto_advance_seconds})
        if exchange not in SIMULATED_EXCHANGES:
            raise web.HTTPBadRequest(text=f"exchange must be one of {SIMULATED_EXCHANGES}")
        if "balance" in body:
            wallets.of(exchange).set_balance(
                str(body.get("asset", "USDT")), Decimal(str(body["balance"]))
            )
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise web.HTTPBadRequest(text=f"bad wallet settings: {exc}") from exc
    return web.json_response(_wallet_view(wallets, exchange))
