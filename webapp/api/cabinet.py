"""The trader's cabinet: me, exchanges, accounts and linking a UID (the dashboard is in
webapp/api/dashboard.py, the history in webapp/api/history.py). Each route: who asks → one
service call → JSON. A trader reads only their own data: the user id comes from the identity,
never the request."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.accounts import LinkOutcome
from services.formatting import moment
from services.models import Platform
from webapp.api.common import (
    ApiError,
    Caller,
    caller,
    json_answer,
    json_body,
    moment_json,
    plain,
    text_field,
)
from webapp.api.deps import API
from webapp.api.idempotency import once
from webapp.auth import csrf_token, identity_of


async def me(request: web.Request) -> web.Response:
    who = await caller(request)
    identity = identity_of(request)
    # Only a cookie session has a CSRF token (initData in a header needs none).
    token = (csrf_token(identity.session, request.app[API].session_secret)
             if identity.session else None)
    return json_answer({
        "id": who.user.id, "first_name": who.user.first_name, "username": who.user.username,
        "locale": who.locale, "role": who.user.role.value, "banned": who.user.is_banned,
        "csrf_token": token})


# --- exchanges and accounts ----------------------------------------------------------------


async def exchanges(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    accounts = await deps.accounts.list_for_user(who.user.id)
    shown = []
    for exchange in await deps.exchanges.list():
        guide_key = f"existing.{exchange.id}"
        shown.append({
            "id": exchange.id, "name": exchange.name,
            "share_percent": exchange.trader_share_percent,
            "share_text": f"{exchange.trader_share_percent}%",
            "link": deps.referrals.tracked_url(exchange.id, who.user.id)
            if exchange.link_template else None,
            "uids": [a.uid for a in accounts if a.exchange_id == exchange.id],
            "guide": plain(who.t(guide_key)) if who.t.has(guide_key) else None,
        })
    return json_answer({"exchanges": shown})


def _account(account: Any, who: Caller) -> dict[str, Any]:
    return {"id": account.id, "exchange_id": account.exchange_id,
            "exchange_name": account.exchange_name, "uid": account.uid,
            "status": account.status.value,
            "status_text": plain(who.t(f"accounts.status.{account.status.value}")),
            "reason": account.reject_reason,
            "linked_at": moment_json(account.created_at, who.locale)}


async def accounts(request: web.Request) -> web.Response:
    who = await caller(request)
    deps = request.app[API]
    linked = await deps.accounts.list_for_user(who.user.id)
    return json_answer({
        "accounts": [_account(account, who) for account in linked],
        "exchanges": [{"id": e.id, "name": e.name} for e in await deps.exchanges.list()]})


async def link_account(request: web.Request) -> web.Response:
    """The bot's link step in one call: the same UID checks and the same words."""
    who = await caller(request)
    deps = request.app[API]
    if who.user.is_banned:
        raise ApiError(403, "banned", plain(who.t("common.banned")))

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        exchange_id = text_field(body, "exchange_id", who.t, max_length=16) or ""
        exchange = await deps.exchanges.get(exchange_id)
        if exchange is None or not exchange.enabled:
            raise ApiError(422, "unknown_exchange",
                           plain(who.t("api.error.unknown_exchange")), "exchange_id")
        raw_uid = body.get("uid")
        check = deps.accounts.check_uid(exchange_id, raw_uid if isinstance(raw_uid, str)
                                        else "")
        if check.uid is None:
            raise ApiError(422, f"uid_{check.reason}", plain(who.t(
                f"link.invalid.{check.reason}", min=check.min_length, max=check.max_length)),
                "uid")
        result = await deps.accounts.link(who.user.id, exchange_id, check.uid)
        uid, name = result.uid or check.uid, exchange.name
        if result.outcome is not LinkOutcome.LINKED or result.account is None:
            await deps.events.record(f"uid_link_{result.outcome.value}", who.user.id,
                                     Platform.WEBAPP, exchange=exchange_id)
            raise ApiError(409 if result.outcome in (LinkOutcome.TAKEN,
                                                      LinkOutcome.ALREADY_YOURS) else 422,
                           f"uid_{result.outcome.value}",
                           plain(who.t(f"link.outcome.{result.outcome.value}", uid=uid,
                                       name=name)), "uid")
        if exchange.data_source == "csv":
            reject_at = result.account.created_at + deps.sync.uid_reject_after
            message = who.t("link.done_csv", uid=uid, name=name,
                            reject_at=moment(reject_at, who.locale))
        elif deps.enqueue_uid_check is not None:
            await deps.enqueue_uid_check(result.account.id)
            message = who.t("link.done_checking", uid=uid, name=name)
        else:
            message = who.t("link.done", uid=uid, name=name)
        return json_answer({"outcome": result.outcome.value, "message": plain(message),
                                  "account": _account(result.account, who)}, status=201)

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)
