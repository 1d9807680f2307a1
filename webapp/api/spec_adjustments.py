"""Manual ledger adjustments' part of the OpenAPI description (webapp/api/admin_adjustments.py):
ask for one on a user, list them, and the second admin's or the requester's decision."""

from __future__ import annotations

from webapp.api.spec_parts import (
    BOOL,
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

STATUS: Schema = {"enum": ["awaiting_second", "applied", "rejected", "cancelled"]}
DIRECTION: Schema = {"enum": ["credit", "debit"]}

SCHEMAS: dict[str, Schema] = {
    "Adjustment": obj({
        "id": INT, "user_id": INT, "user_name": nullable(STRING), "direction": DIRECTION,
        "direction_text": STRING, "amount": ref("Money"), "asset": STRING, "reason": STRING,
        "document_ref": nullable(STRING), "status": STATUS, "status_text": STRING,
        "revision": INT, "requested_by": INT, "requested_by_name": nullable(STRING),
        "decided_by": nullable(INT), "entry_id": nullable(INT), "created_at": ref("Moment"),
        "decided_at": nullable(ref("Moment")),
        "actions": obj({"approve": BOOL, "reject": BOOL, "cancel": BOOL})}),
    "Adjustments": obj({"adjustments": array(ref("Adjustment")),
                        "second_admin_above": ref("Money"), "can_request": BOOL}),
    "OneAdjustment": obj({"adjustment": ref("Adjustment")}),
}

BODIES: dict[str, Schema] = {
    "AdjustmentBody": {"type": "object", "required": ["direction", "amount", "reason"],
                       "properties": {
                           "direction": DIRECTION,
                           # A decimal string ("12.5" or "12,5"): a JSON number may have lost
                           # the exact value already.
                           "amount": {"type": "string", "maxLength": 40},
                           "reason": {"type": "string", "maxLength": 500},
                           "document_ref": nullable({"type": "string", "maxLength": 200})}},
    "AdjustmentDecisionBody": {"type": "object", "required": ["revision"],
                               "properties": {"revision": {"type": "integer", "minimum": 1}}},
}

_FILTERS = [
    {"name": "status", "in": "query", "required": False, "schema": STATUS},
    {"name": "user", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1}},
]


def _decision(summary: str) -> Schema:
    return write(summary, 200, ref("OneAdjustment"), params=[ID],
                 request="AdjustmentDecisionBody")


PATHS: dict[str, dict[str, Schema]] = {
    "/api/admin/users/{id}/adjustments": {"post": write(
        "Credit or debit a trader's available balance (admin): applied at once up to the "
        "threshold, else waiting for a second admin", 201, ref("OneAdjustment"), params=[ID],
        request="AdjustmentBody")},
    "/api/admin/adjustments": {"get": operation(
        "Adjustments (operators): those awaiting a second admin, or one user's", 200,
        ref("Adjustments"), params=_FILTERS)},
    "/api/admin/adjustments/{id}/approve": {"post": _decision(
        "A second, different admin approves the revision they saw: applied")},
    "/api/admin/adjustments/{id}/reject": {"post": _decision(
        "A second, different admin rejects it")},
    "/api/admin/adjustments/{id}/cancel": {"post": _decision(
        "The requester withdraws it before a decision")},
}
