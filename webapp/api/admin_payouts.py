"""The payout screens' API (issue 14): the queue (as the finance cards show it) with approve /
reject / retry / paid-by-hand, and the payout networks, limits and thresholds.

Decisions go through ApprovalService only, so the rules are the finance chat's: finance (and
admins if the settings allow it), never on one's own request, on the revision the screen showed,
one decision for a double click or two people at once, two approvers above the second
threshold. After a decision, as in the chat: an approved request is queued for payment and the
finance card is edited. The route checks the role first (services/permissions.py; a refusal is
a 403, audited); reading and deciding need PAYOUTS_DECIDE, changing the configuration
PAYOUTS_CONFIG (admins)."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from services.payouts.approvals import Decision
from services.payouts.config import NetworkDTO, PayoutSettingsDTO
from services.payouts.queue import QueueItem
from services.payouts.settings_admin import (
    NETWORK_MONEY,
    SETTINGS_MONEY,
    SettingsRefusal,
)
from services.permissions import Permission, allowed
from webapp.api.admin import operator
from webapp.api.common import (
    ApiError,
    Caller,
    json_answer,
    json_body,
    money_json,
    path_id,
    plain,
)
from webapp.api.deps import API
from webapp.api.idempotency import once
from webapp.api.payout_views import fee_percent_json, queue_item_json

log = logging.getLogger(__name__)

NETWORK_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")
# A refusal of a decision: its HTTP status (the rest are 409, a conflict with the request's
# state now).
DECISION_STATUS = {"not_allowed": 403, "not_found": 404, "no_reason": 422, "no_tx_hash": 422,
                   "tx_hash_used": 409}
DECISION_FIELD = {"no_reason": "reason", "no_tx_hash": "tx_hash", "tx_hash_used": "tx_hash"}
SETTINGS_STATUS = {"unknown_network": 404, "unchanged": 409, "not_seeded": 409}


# --- the queue -------------------------------------------------------------------------------


async def queue(request: web.Request) -> web.Response:
    who = await operator(request, Permission.PAYOUTS_DECIDE)
    items, total = await request.app[API].payout_queue.items(who.user.id, who.user.role)
    return json_answer({"items": [queue_item_json(item, who) for item in items],
                        "total": total})


def _decision_message(decision: Decision, item: QueueItem | None, who: Caller) -> str:
    w = decision.withdrawal
    params: dict[str, object] = {"id": w.id if w else "", "have": decision.approvals,
                                 "need": w.approvals_needed if w else 0}
    code = decision.code
    if code == "already_decided" and item is not None:
        params["status"] = plain(who.t(f"finance.status.{item.card.withdrawal.status.value}"))
        decided = item.card.decided_by
        if decided is not None:
            code, params["name"] = "already_decided_by", decided.name
    return plain(who.t(f"app.admin.payouts.decision.{code}", **params))


async def _decide(request: web.Request, action: str) -> web.Response:
    who = await operator(request, Permission.PAYOUTS_DECIDE)
    withdrawal_id = path_id(request, who.t)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        revision = body.get("revision")
        if isinstance(revision, bool) or not isinstance(revision, int) or \
                not 0 < revision < 2**31:
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field",
                                                         field="revision")), "revision")
        words = body.get("reason" if action == "reject" else "tx_hash", "")
        if action in ("reject", "paid") and (not isinstance(words, str) or len(words) > 2000):
            field = "reason" if action == "reject" else "tx_hash"
            raise ApiError(422, "bad_field", plain(who.t("api.error.bad_field", field=field)),
                           field)
        approvals = deps.approvals
        if action == "approve":
            decision = await approvals.approve(withdrawal_id, who.user.id, revision)
        elif action == "retry":
            decision = await approvals.retry(withdrawal_id, who.user.id, revision)
        elif action == "reject":
            decision = await approvals.reject(withdrawal_id, who.user.id, revision, words)
        else:
            decision = await approvals.mark_paid(withdrawal_id, who.user.id, revision, words)
        await _after(request, decision)
        item = await deps.payout_queue.item(withdrawal_id, who.user.id, who.user.role)
        message = _decision_message(decision, item, who)
        if not decision.ok:
            raise ApiError(DECISION_STATUS.get(decision.code, 409), decision.code, message,
                           DECISION_FIELD.get(decision.code))
        assert item is not None  # it was just decided on
        return json_answer({"code": decision.code, "message": message,
                            "item": queue_item_json(item, who)})

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def _after(request: web.Request, decision: Decision) -> None:
    """As the finance chat does after a click: pay an approved request now, edit the card.
    Neither may undo the decision: the payout tick pays and edits what is missed here."""
    deps = request.app[API]
    w = decision.withdrawal
    if w is None:
        return
    if decision.ok and decision.code in ("approved", "retrying") and deps.enqueue_payout:
        try:
            await deps.enqueue_payout(w.id)
        except Exception:  # the queue is down: the next payout tick pays it
            log.warning("payout of %s not queued; the payout tick will pay it", w.id,
                        exc_info=True)
    if deps.refresh_finance_card is not None:
        try:
            await deps.refresh_finance_card(w.id)
        except Exception:  # Telegram is slow or down: the payout tick edits the card
            log.warning("finance card of %s not edited now", w.id, exc_info=True)


async def approve(request: web.Request) -> web.Response:
    return await _decide(request, "approve")


async def reject(request: web.Request) -> web.Response:
    return await _decide(request, "reject")


async def retry(request: web.Request) -> web.Response:
    return await _decide(request, "retry")


async def paid(request: web.Request) -> web.Response:
    return await _decide(request, "paid")


# --- the configuration -----------------------------------------------------------------------


def _network_json(n: NetworkDTO, locale: str) -> dict[str, Any]:
    return {"id": n.id, "name": n.name, "asset": n.asset, "network": n.network,
            "enabled": n.enabled, "position": n.position,
            "payout_exchange_id": n.payout_exchange_id,
            **{name: money_json(getattr(n, name), locale) for name in NETWORK_MONEY},
            "fee_percent": fee_percent_json(n.fee_percent, locale),
            "explorer_tx_url": n.explorer_tx_url}


def _settings_json(s: PayoutSettingsDTO, locale: str) -> dict[str, Any]:
    return {**{name: money_json(getattr(s, name), locale) for name in SETTINGS_MONEY},
            "address_cooldown_hours": s.address_cooldown_hours,
            "admins_can_approve": s.admins_can_approve}


async def _configuration(request: web.Request, who: Caller,
                         message: str | None = None) -> web.Response:
    networks, settings = await request.app[API].payout_settings.read()
    return json_answer({
        "networks": [_network_json(n, who.locale) for n in networks],
        "settings": _settings_json(settings, who.locale),
        "can_edit": allowed(who.user.role, Permission.PAYOUTS_CONFIG),
        "message": message})


async def configuration(request: web.Request) -> web.Response:
    who = await operator(request, Permission.PAYOUTS_DECIDE)
    return await _configuration(request, who)


def _refused(refusal: SettingsRefusal, who: Caller) -> ApiError:
    key = f"app.admin.payout_settings.field.{refusal.field}"
    label = plain(who.t(key)) if who.t.has(key) else refusal.field or ""
    return ApiError(SETTINGS_STATUS.get(refusal.code, 422), refusal.code, plain(who.t(
        f"app.admin.payout_settings.refused.{refusal.code}", field=label,
        **refusal.params)), refusal.field)


async def change_network(request: web.Request) -> web.Response:
    who = await operator(request, Permission.PAYOUTS_CONFIG)
    network_id = request.match_info["id"]
    if not NETWORK_ID.fullmatch(network_id):
        raise ApiError(404, "not_found", plain(who.t("api.error.not_found")))
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        try:
            changed = await deps.payout_settings.change_network(who.user.id, network_id, body)
        except SettingsRefusal as refusal:
            raise _refused(refusal, who) from None
        return await _configuration(request, who, plain(who.t(
            "app.admin.payout_settings.saved_network", name=changed.name)))

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)


async def change_settings(request: web.Request) -> web.Response:
    who = await operator(request, Permission.PAYOUTS_CONFIG)
    deps = request.app[API]

    async def write(_key: str) -> web.Response:
        body = await json_body(request, who.t)
        try:
            await deps.payout_settings.change_settings(who.user.id, body)
        except SettingsRefusal as refusal:
            raise _refused(refusal, who) from None
        return await _configuration(request, who, plain(who.t(
            "app.admin.payout_settings.saved_settings")))

    return await once(request, deps.redis, deps.redis_prefix, who.user.id, who.t, write)
