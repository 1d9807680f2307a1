"""The admin screens' Exchanges (issue 14): each exchange's status and settings, one exchange's
sync history with each run's error in words, and an admin's changes: enabled, affiliate link,
sync interval, trader share from a day on, API credentials (write-only: no answer ever carries
them, only their hint and expiry). Viewing per Permission.EXCHANGES_VIEW; changes per
EXCHANGES_EDIT (the share per RATES), checked here and again in services/exchange_admin.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from services.credentials import ApiSecret
from services.exchange_admin import (
    INTERVAL_MINUTES,
    Changes,
    ExchangeAdmin,
    ExchangeAdminError,
    ExchangeCard,
    ExchangeRefusal,
    RunLine,
    check_secret,
)
from services.formatting import day_text, percent
from services.permissions import Permission, allowed
from services.sync.wording import run_error_words, sync_line
from webapp.api.admin import operator
from webapp.api.common import ApiError, Caller, json_answer, json_body, moment_json, plain
from webapp.api.deps import API
from webapp.api.idempotency import once

EXPIRY_WARNING_DAYS = 7
_STATUS = {ExchangeRefusal.NOT_ALLOWED: 403, ExchangeRefusal.UNKNOWN_EXCHANGE: 404,
           ExchangeRefusal.UNCHANGED: 409, ExchangeRefusal.NO_CREDENTIALS: 409}


def _service(request: web.Request, who: Caller) -> ExchangeAdmin:
    service = request.app[API].exchange_admin
    if service is None:
        raise ApiError(503, "unavailable", plain(who.t("api.error.unavailable")))
    return service


def _refused(refused: ExchangeAdminError, who: Caller) -> ApiError:
    code = refused.refusal.value
    if refused.refusal is ExchangeRefusal.NOT_ALLOWED:
        text = who.t("admin.staff.refused.not_allowed")
    elif refused.refusal is ExchangeRefusal.UNKNOWN_EXCHANGE:
        text = who.t("api.error.unknown_exchange")
    elif refused.refusal is ExchangeRefusal.BAD_INTERVAL:
        low, high = INTERVAL_MINUTES
        text = who.t("api.error.exchange.bad_interval", low=low, high=high)
    elif refused.refusal is ExchangeRefusal.BAD_DATE:
        text = who.t("api.error.exchange.bad_date", field=refused.field or "")
    elif refused.refusal is ExchangeRefusal.BAD_KEY:
        text = who.t("api.error.exchange.bad_key", field=refused.field or "")
    else:
        text = who.t(f"api.error.exchange.{code}")
    return ApiError(_STATUS.get(refused.refusal, 422), code, plain(text), refused.field)


def _day(value: date | None, locale: str) -> dict[str, str] | None:
    return None if value is None else {"day": value.isoformat(), "text": day_text(value, locale)}


def _credential(card: ExchangeCard, who: Caller, today: date) -> dict[str, Any]:
    info = card.credential
    expires = info.expires_on if info else None
    left = (expires - today).days if expires else None
    return {"source": card.credential_source,
            "source_text": plain(who.t(f"app.admin.exchanges.source.{card.credential_source}")),
            "hint": info.hint if info else None, "expires_on": _day(expires, who.locale),
            "expired": left is not None and left <= 0,
            "expiring": left is not None and 0 < left <= EXPIRY_WARNING_DAYS,
            "set_by": info.set_by if info else None,
            "set_at": moment_json(info.set_at if info else None, who.locale),
            "unreadable": card.credential_unreadable}


def _card(card: ExchangeCard, who: Caller, now: datetime) -> dict[str, Any]:
    locale = who.locale
    sync = card.sync
    return {
        "id": card.id, "name": card.name, "enabled": card.enabled,
        "data_source": card.data_source, "api_verified": card.api_verified,
        "link_template": card.link_template,
        "share": {"percent": f"{(card.share * 100).normalize():f}",
                  "text": f"{percent(card.share * 100, locale)}%",
                  "since": _day(card.share_since, locale),
                  "upcoming": [{"from": _day(day, locale),
                                "percent": f"{(share * 100).normalize():f}",
                                "text": f"{percent(share * 100, locale)}%"}
                               for day, share in card.share_upcoming]},
        "sync_interval_minutes": card.sync_interval_minutes,
        "status": sync.status.value,
        "status_text": plain(who.t(f"app.admin.exchanges.status.{sync.status.value}")),
        "sync_text": plain(sync_line(who.t, sync, now)),
        "last_sync": moment_json(sync.last_success_at, locale),
        "next_sync": moment_json(sync.next_due_at, locale),
        "last_error": sync.last_error,
        "credential": _credential(card, who, now.date()),
    }


def _run(run: RunLine, who: Caller) -> dict[str, Any]:
    return {"id": run.id, "trigger": run.trigger, "status": run.status,
            "status_text": plain(who.t(f"app.admin.exchanges.run.{run.status}")),
            "started_at": moment_json(run.started_at, who.locale),
            "finished_at": moment_json(run.finished_at, who.locale),
            "seen": run.seen, "new": run.new, "changed": run.changed,
            "error_class": run.error_class,
            "error_words": (plain(run_error_words(who.t, run.error_class))
                            if run.status == "failed" else None),
            "error": run.error}


def _actions(who: Caller) -> dict[str, bool]:
    return {"edit": allowed(who.user.role, Permission.EXCHANGES_EDIT),
            "share": allowed(who.user.role, Permission.RATES)}


def _exchange_id(request: web.Request, who: Caller) -> str:
    raw = request.match_info["exchange"]
    if not raw.isascii() or not raw.isalnum() or len(raw) > 16:
        raise ApiError(404, "unknown_exchange", plain(who.t("api.error.unknown_exchange")))
    return raw.lower()


async def exchanges(request: web.Request) -> web.Response:
    who = await operator(request, Permission.EXCHANGES_VIEW)
    now = request.app[API].clock()
    cards = await _service(request, who).cards()
    return json_answer({"exchanges": [_card(card, who, now) for card in cards],
                        "actions": _actions(who)})


async def _one(request: web.Request, who: Caller, exchange_id: str) -> web.Response:
    service = _service(request, who)
    try:
        card = await service.card(exchange_id)
    except ExchangeAdminError as refused:
        raise _refused(refused, who) from None
    low, high = INTERVAL_MINUTES
    return json_answer({
        "exchange": _card(card, who, request.app[API].clock()),
        "runs": [_run(run, who) for run in await service.history(exchange_id)],
        "actions": _actions(who), "limits": {"interval_min": low, "interval_max": high}})


async def exchange(request: web.Request) -> web.Response:
    who = await operator(request, Permission.EXCHANGES_VIEW)
    return await _one(request, who, _exchange_id(request, who))


def _bad(who: Caller, name: str) -> ApiError:
    return ApiError(422, "bad_field", plain(who.t("api.error.bad_field", field=name)), name)


def _optional_date(body: dict[str, Any], name: str, who: Caller) -> date | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ApiError(422, "bad_date", plain(who.t("api.error.bad_date", field=name)), name)


async def _write(request: web.Request, permission: Permission, act: Any) -> web.Response:
    """Role first (a 403 is audited), then one Idempotency-Key'd write, then the page's
    answer: the exchange as it is now."""
    who = await operator(request, permission)
    exchange_id = _exchange_id(request, who)
    service = _service(request, who)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t) if request.method != "DELETE" else {}
        try:
            await act(service, who, exchange_id, body)
        except ExchangeAdminError as refused:
            raise _refused(refused, who) from None
        return await _one(request, who, exchange_id)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def update(request: web.Request) -> web.Response:
    async def act(service: ExchangeAdmin, who: Caller, exchange_id: str,
                  body: dict[str, Any]) -> None:
        enabled, link, minutes = (body.get("enabled"), body.get("link_template"),
                                  body.get("sync_interval_minutes"))
        if enabled is not None and not isinstance(enabled, bool):
            raise _bad(who, "enabled")
        if link is not None and not isinstance(link, str):
            raise _bad(who, "link_template")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            raise _bad(who, "sync_interval_minutes")
        if enabled is None and link is None and minutes is None:
            raise ApiError(400, "bad_json", plain(who.t("api.error.bad_json")))
        await service.update(who.user.id, exchange_id, Changes(enabled, link, minutes))

    return await _write(request, Permission.EXCHANGES_EDIT, act)


async def set_share(request: web.Request) -> web.Response:
    async def act(service: ExchangeAdmin, who: Caller, exchange_id: str,
                  body: dict[str, Any]) -> None:
        share = body.get("share_percent")
        if isinstance(share, int | float) and not isinstance(share, bool):
            share = str(share)
        if not isinstance(share, str):
            raise _bad(who, "share_percent")
        await service.set_share(who.user.id, exchange_id, share,
                                _optional_date(body, "valid_from", who))

    return await _write(request, Permission.RATES, act)


async def set_credentials(request: web.Request) -> web.Response:
    async def act(service: ExchangeAdmin, who: Caller, exchange_id: str,
                  body: dict[str, Any]) -> None:
        secret: ApiSecret = check_secret(body.get("api_key"),  # type: ignore[arg-type]
                                         body.get("api_secret"),  # type: ignore[arg-type]
                                         body.get("api_password") or None)
        await service.set_credentials(who.user.id, exchange_id, secret,
                                      _optional_date(body, "expires_on", who))

    return await _write(request, Permission.EXCHANGES_EDIT, act)


async def remove_credentials(request: web.Request) -> web.Response:
    async def act(service: ExchangeAdmin, who: Caller, exchange_id: str,
                  body: dict[str, Any]) -> None:
        await service.remove_credentials(who.user.id, exchange_id)

    return await _write(request, Permission.EXCHANGES_EDIT, act)


async def rotate_credentials(request: web.Request) -> web.Response:
    """Re-encrypt every stored credential under the current SECRET_KEY."""
    who = await operator(request, Permission.EXCHANGES_EDIT)
    service = _service(request, who)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        try:
            rotated, unreadable = await service.rotate(who.user.id)
        except ExchangeAdminError as refused:
            raise _refused(refused, who) from None
        return json_answer({"rotated": rotated, "unreadable": unreadable,
                            "message": plain(who.t("app.admin.exchanges.rotated",
                                                   rotated=rotated, unreadable=unreadable))})

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)
