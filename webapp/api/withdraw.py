"""Withdrawals from the Mini App: the choices, a live quote, the request, its status, cancel,
and saved addresses. The same WithdrawalService as the bot, so the same checks, limits, fee
and words; a refusal is a 422 with the bot's message and the field it is about."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from services.models import PayoutMethod, Platform, WithdrawalStatus
from services.payouts.config import NetworkDTO
from services.payouts.quotes import PayoutRefusal, Quote, parse_amount
from services.payouts.requests import AddressDTO, Destination
from services.payouts.views import WithdrawalDTO
from services.payouts.wording import fee_rule, refusal_text
from webapp.api.common import (
    ApiError,
    Caller,
    caller,
    id_field,
    json_answer,
    json_body,
    moment_json,
    money_json,
    path_id,
    plain,
    text_field,
)
from webapp.api.deps import API, ApiDeps
from webapp.api.idempotency import once

# Which field of the form a refusal is about (the page shows the message beside it).
_AMOUNT_CODES = frozenset({
    "bad_amount", "too_many_decimals", "not_positive", "below_minimum", "above_balance",
    "above_maximum", "above_limit_24h", "above_limit_72h", "fee_exceeds_amount",
    "nothing_available", "fee_changed"})
MAX_LABEL_CHARS = 64
MAX_ADDRESS_CHARS = 128


def refused(who: Caller, refusal: PayoutRefusal) -> ApiError:
    if refusal.code == "banned":
        return ApiError(403, "banned", plain(who.t("common.banned")))
    field = ("amount" if refusal.code in _AMOUNT_CODES
             else "address" if refusal.code.startswith("address_") else None)
    status = 404 if refusal.code == "not_found" else 409 if refusal.code in (
        "cannot_cancel", "payouts_frozen") else 422
    return ApiError(status, refusal.code, plain(refusal_text(who.t, refusal)), field)


def destination_from(body: dict[str, Any], who: Caller) -> Destination:
    method = body.get("method")
    if method == PayoutMethod.INTERNAL.value:
        return Destination(PayoutMethod.INTERNAL,
                           exchange_id=text_field(body, "exchange_id", who.t, max_length=16))
    if method == PayoutMethod.ONCHAIN.value:
        return Destination(PayoutMethod.ONCHAIN,
                           network_id=text_field(body, "network_id", who.t, max_length=32),
                           address_id=id_field(body, "address_id", who.t))
    raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field", field="method")),
                   "method")


def _amount(body: dict[str, Any], who: Caller) -> Decimal | None:
    raw = body.get("amount")
    if not isinstance(raw, str):
        raise refused(who, PayoutRefusal("bad_amount"))
    try:
        return parse_amount(raw)
    except PayoutRefusal as refusal:
        raise refused(who, refusal) from None


def _quote_json(offer: Quote, who: Caller) -> dict[str, Any]:
    timing = "withdraw.timing_review" if offer.approvals_needed else "withdraw.timing_auto"
    return {"amount": money_json(offer.amount, who.locale),
            "fee": money_json(offer.fee, who.locale),
            "net": money_json(offer.net_amount, who.locale),
            "arrival_text": plain(who.t(timing)),
            "approval_needed": bool(offer.approvals_needed)}


def withdrawal_json(w: WithdrawalDTO, who: Caller,
                    networks: dict[str, NetworkDTO]) -> dict[str, Any]:
    network = networks.get(w.network_id or "")
    return {"id": w.id, "status": w.status.value,
            "status_text": plain(who.t(f"withdraw.status.{w.status.value}")),
            "method": w.method.value, "amount": money_json(w.amount, who.locale),
            "fee": money_json(w.fee, who.locale), "net": money_json(w.net_amount, who.locale),
            "destination": w.destination, "network_id": w.network_id,
            "exchange_id": w.exchange_id, "tx_hash": w.tx_hash,
            "explorer_url": network.explorer_url(w.tx_hash) if network and w.tx_hash else None,
            "reason": w.reason if w.status in (WithdrawalStatus.REJECTED,) else None,
            "created_at": moment_json(w.created_at, who.locale),
            "cancellable": w.status is WithdrawalStatus.AWAITING_APPROVAL}


def address_json(address: AddressDTO, who: Caller, deps: ApiDeps) -> dict[str, Any]:
    return {"id": address.id, "network_id": address.network_id, "address": address.address,
            "label": address.label, "usable": address.usable(deps.clock()),
            "usable_from": moment_json(address.usable_from, who.locale)}


async def _networks(deps: ApiDeps) -> dict[str, NetworkDTO]:
    return {network.id: network for network in await deps.withdrawals.networks()}


async def options(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    service, locale = deps.withdrawals, who.locale
    networks = await _networks(deps)
    names = {e.id: e.name for e in await deps.exchanges.list(enabled_only=False)}
    addresses = []
    for network in networks.values():
        if network.enabled:
            addresses += [address_json(a, who, deps)
                          for a in await service.addresses(who.user.id, network.id)]
    return json_answer({
        "available": money_json(await service.available(who.user.id), locale),
        "internal": [{"exchange_id": exchange_id, "exchange_name": names.get(exchange_id,
                                                                             exchange_id),
                      "uid": uid, "fee": money_json(Decimal(0), locale)}
                     for exchange_id, uid in await service.internal_accounts(who.user.id)],
        "networks": [{"id": n.id, "name": n.name, "min": money_json(n.min_amount, locale),
                      "max": money_json(n.max_amount, locale),
                      "fee_text": plain(fee_rule(who.t, n))}
                     for n in networks.values() if n.enabled],
        "addresses": addresses,
        "withdrawals": [withdrawal_json(w, who, networks)
                        for w in await service.recent(who.user.id, 10)]})


async def quote(request: web.Request) -> web.Response:
    """The summary the trader confirms; nothing is held. A read, though sent as a POST (it
    has a body): it needs no Idempotency-Key."""
    who = await caller(request)
    body = await json_body(request, who.t)
    destination, amount = destination_from(body, who), _amount(body, who)
    try:
        offer = await request.app[API].withdrawals.prepare(who.user.id, destination, amount)
    except PayoutRefusal as refusal:
        raise refused(who, refusal) from None
    return json_answer(_quote_json(offer, who))


async def create(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]

    async def write(key: str) -> web.Response:
        body = await json_body(request, who.t)
        destination, amount = destination_from(body, who), _amount(body, who)
        raw_fee = body.get("expected_fee")
        if not isinstance(raw_fee, str):
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field",
                                                         field="expected_fee")), "expected_fee")
        try:
            expected_fee = Decimal(raw_fee)
            if not expected_fee.is_finite() or expected_fee < 0:
                raise ValueError(raw_fee)
        except (ArithmeticError, ValueError):
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field",
                                                         field="expected_fee")),
                           "expected_fee") from None
        try:
            if amount is None:  # "all": the amount the quote showed, worked out again now
                amount = (await deps.withdrawals.prepare(who.user.id, destination, None)).amount
            made = await deps.withdrawals.create(who.user.id, destination, amount,
                                                 expected_fee=expected_fee, request_key=key)
        except PayoutRefusal as refusal:
            await deps.events.record("withdraw_refused", who.user.id, Platform.WEBAPP,
                                     code=refusal.code)
            raise refused(who, refusal) from None
        await deps.events.record("withdraw_requested", who.user.id, Platform.WEBAPP,
                                 withdrawal=made.id)
        if made.status is WithdrawalStatus.APPROVED and deps.enqueue_payout is not None:
            await deps.enqueue_payout(made.id)
        return json_answer(
            {"withdrawal": withdrawal_json(made, who, await _networks(deps))}, status=201)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def listing(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    networks = await _networks(deps)
    return json_answer({"withdrawals": [
        withdrawal_json(w, who, networks) for w in await deps.withdrawals.recent(who.user.id,
                                                                                 50)]})


async def one(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    found = await deps.withdrawals.get(who.user.id, path_id(request, who.t))
    if found is None:  # another trader's id reads exactly like one that does not exist
        raise ApiError(404, "not_found", plain(who.t("api.error.not_found")))
    return json_answer({"withdrawal": withdrawal_json(found, who, await _networks(deps))})


async def cancel(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    withdrawal_id = path_id(request, who.t)

    async def write(_key: str) -> web.Response:
        try:
            done = await deps.withdrawals.cancel(who.user.id, withdrawal_id)
        except PayoutRefusal as refusal:
            raise refused(who, refusal) from None
        return json_answer({"withdrawal": withdrawal_json(done, who,
                                                                await _networks(deps))})

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def add_address(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        network_id = text_field(body, "network_id", who.t, max_length=32) or ""
        text = text_field(body, "address", who.t, max_length=MAX_ADDRESS_CHARS) or ""
        label = body.get("label", "")
        if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field", field="label")),
                           "label")
        try:
            saved = await deps.withdrawals.add_address(who.user.id, network_id, text, label)
        except PayoutRefusal as refusal:
            raise refused(who, refusal) from None
        return json_answer({"address": address_json(saved, who, deps)}, status=201)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def remove_address(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    address_id = path_id(request, who.t)

    async def write(_key: str) -> web.Response:
        if not await deps.withdrawals.remove_address(who.user.id, address_id):
            raise ApiError(404, "not_found", plain(who.t("api.error.not_found")))
        return web.Response(status=204)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)
