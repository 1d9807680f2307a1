"""The payout screens' part of the OpenAPI description (webapp/api/admin_payouts.py): the
queue with its decisions, and the payout networks, limits and thresholds."""

from __future__ import annotations

from webapp.api.spec_parts import (
    BOOL,
    DECIMAL,
    ID,
    INT,
    STRING,
    Schema,
    array,
    nullable,
    obj,
    operation,
    ref,
    write,
)

NETWORK_MONEY = ("min_amount", "max_amount", "fee_min", "fee_max", "limit_24h", "limit_72h")
SETTINGS_MONEY = ("approval_threshold", "dual_approval_threshold", "internal_limit_24h",
                  "internal_limit_72h", "internal_min_amount")
NETWORK_ID = {"name": "id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,24}$"}}
# Amounts in a body are decimal strings (a JSON number may have lost the exact value already).
AMOUNT_IN: Schema = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}

SCHEMAS: dict[str, Schema] = {
    "PayoutItem": obj({
        "id": INT, "status": STRING, "status_text": STRING, "revision": INT,
        "method": {"enum": ["internal", "onchain"]}, "asset": STRING,
        "amount": ref("Money"), "fee": ref("Money"), "net": ref("Money"),
        "network_id": nullable(STRING), "network_name": nullable(STRING),
        "exchange_id": STRING, "destination": STRING,
        "destination_known": nullable(BOOL), "destination_text": STRING, "auto": BOOL,
        "trader": obj({"id": INT, "name": STRING, "joined": ref("Moment"),
                       "earned": ref("Money"), "withdrawn": ref("Money"),
                       "withdrawals": INT, "accounts": INT, "verified_accounts": INT,
                       "history_text": STRING}),
        "flags": array(obj({"code": STRING, "text": STRING})),
        "approvals": obj({"have": INT, "need": INT, "names": array(STRING), "text": STRING}),
        "reason": nullable(STRING), "tx_hash": nullable(STRING),
        "created_at": ref("Moment"),
        "decided": nullable(obj({"name": STRING, "at": ref("Moment")})),
        "actions": obj({"approve": BOOL, "reject": BOOL, "retry": BOOL, "paid": BOOL})}),
    "PayoutQueue": obj({"items": array(ref("PayoutItem")), "total": INT}),
    "PayoutDecision": obj({"code": {"enum": ["approved", "approval_recorded", "rejected",
                                             "retrying", "paid_manually"]},
                           "message": STRING, "item": ref("PayoutItem")}),
    "PayoutConfiguration": obj({
        "networks": array(obj({
            "id": STRING, "name": STRING, "asset": STRING, "network": STRING,
            "enabled": BOOL, "position": INT, "payout_exchange_id": STRING,
            **{name: ref("Money") for name in NETWORK_MONEY},
            "fee_percent": obj({"amount": DECIMAL, "text": STRING}),
            "explorer_tx_url": STRING})),
        "settings": obj({**{name: ref("Money") for name in SETTINGS_MONEY},
                         "address_cooldown_hours": INT, "admins_can_approve": BOOL}),
        "can_edit": BOOL, "message": nullable(STRING)}),
}

BODIES: dict[str, Schema] = {
    "DecisionBody": {"type": "object", "required": ["revision"], "properties": {
        "revision": {"type": "integer", "minimum": 1},
        "reason": STRING, "tx_hash": STRING}},
    "NetworkBody": {"type": "object", "minProperties": 1, "properties": {
        "enabled": BOOL, **{name: AMOUNT_IN for name in NETWORK_MONEY},
        "fee_percent": AMOUNT_IN, "explorer_tx_url": STRING}},
    "PayoutSettingsBody": {"type": "object", "minProperties": 1, "properties": {
        **{name: AMOUNT_IN for name in SETTINGS_MONEY},
        "address_cooldown_hours": {"type": "integer", "minimum": 0, "maximum": 720},
        "admins_can_approve": BOOL}},
}


def _decision(summary: str) -> Schema:
    return {"post": write(summary, 200, ref("PayoutDecision"), params=[ID],
                          request="DecisionBody")}


PATHS: dict[str, dict[str, Schema]] = {
    "/api/admin/payouts/queue": {"get": operation(
        "Withdrawals waiting for a person or in flight, as the finance cards show them "
        "(admin, finance)", 200, ref("PayoutQueue"))},
    "/api/admin/payouts/{id}/approve": _decision(
        "Approve the revision shown (finance; admins if allowed)"),
    "/api/admin/payouts/{id}/reject": _decision(
        "Reject with a reason the trader reads (finance; admins if allowed)"),
    "/api/admin/payouts/{id}/retry": _decision(
        "Send one the exchange refused again (finance; admins if allowed)"),
    "/api/admin/payouts/{id}/paid": _decision(
        "Record one the exchange refused as paid by hand, with its hash"),
    "/api/admin/payouts/settings": {
        "get": operation("Payout networks, limits and thresholds (admin, finance)", 200,
                         ref("PayoutConfiguration")),
        "patch": write("Change the payout-wide thresholds and limits (admin)", 200,
                       ref("PayoutConfiguration"), request="PayoutSettingsBody"),
    },
    "/api/admin/payouts/networks/{id}": {"patch": write(
        "Change a payout network (admin)", 200, ref("PayoutConfiguration"),
        params=[NETWORK_ID], request="NetworkBody")},
}
