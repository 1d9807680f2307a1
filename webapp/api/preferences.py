"""Settings from the Mini App: language, the daily digest, the auto-withdrawal standing order.
The same services as the bot's Settings screen and Auto-withdrawal screen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from services.i18n import SUPPORTED_LOCALES
from services.models import DigestMode, PayoutMethod
from services.payouts.quotes import PayoutRefusal, parse_amount
from webapp.api.common import ApiError, Caller, caller, json_answer, json_body, money_json, plain
from webapp.api.deps import API, ApiDeps
from webapp.api.idempotency import once
from webapp.api.withdraw import destination_from, refused

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}  # each in its own language


async def _settings_json(who: Caller, deps: ApiDeps) -> dict[str, Any]:
    order = await deps.auto_withdrawals.get(who.user.id)
    auto = None
    if order is not None and order.enabled:
        target = order.destination
        if target.method is PayoutMethod.INTERNAL:
            exchange = await deps.exchanges.get(target.exchange_id or "")
            text = who.t("auto.to_uid", name=exchange.name if exchange else target.exchange_id)
        else:
            saved = {a.id: a for a in await deps.withdrawals.addresses(
                who.user.id, target.network_id or "")}
            address = saved.get(target.address_id or 0)
            text = who.t("auto.to_address", network=target.network_id,
                         address=address.address if address else "—")
        auto = {"threshold": money_json(order.threshold, who.locale),
                "method": target.method.value, "exchange_id": target.exchange_id,
                "network_id": target.network_id, "address_id": target.address_id,
                "destination_text": plain(text)}
    return {"locale": who.locale,
            "locales": [{"code": code, "name": LANGUAGE_NAMES.get(code, code)}
                        for code in SUPPORTED_LOCALES],
            "digest_mode": who.user.digest_mode.value,
            "digest_modes": [{"code": mode.value,
                              "name": plain(who.t(f"settings.digest.{mode.value}"))}
                             for mode in DigestMode],
            "auto_withdraw": auto}


async def read(request: web.Request) -> web.Response:
    who = await caller(request)
    return json_answer(await _settings_json(who, request.app[API]))


async def update(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        unknown = set(body) - {"locale", "digest_mode"}
        if unknown or not body:
            field = sorted(unknown)[0] if unknown else "locale"
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field", field=field)),
                           field)
        locale, mode = body.get("locale"), body.get("digest_mode")
        if locale is not None and locale not in SUPPORTED_LOCALES:
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field",
                                                         field="locale")), "locale")
        if mode is not None and mode not in {m.value for m in DigestMode}:
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field",
                                                         field="digest_mode")), "digest_mode")
        user = who.user
        if locale is not None:
            user = await deps.users.set_locale(user.id, locale)
        if mode is not None:
            user = await deps.users.set_digest_mode(user.id, DigestMode(mode))
        fresh = Caller(user, deps.i18n.translator(user.locale or who.locale))
        return json_answer(await _settings_json(fresh, deps))

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def set_auto(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        raw = body.get("threshold")
        try:
            threshold = parse_amount(raw) if isinstance(raw, str) else None
            if threshold is None:
                raise PayoutRefusal("bad_amount")
            await deps.auto_withdrawals.set(who.user.id, destination_from(body, who),
                                            Decimal(threshold))
        except PayoutRefusal as refusal:
            raise refused(who, refusal) from None
        return json_answer(await _settings_json(who, deps))

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def stop_auto(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        await deps.auto_withdrawals.disable(who.user.id)
        return json_answer(await _settings_json(who, deps))

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)
