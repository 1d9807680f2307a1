"""The OpenAPI 3.1 description of /api/, served at /api/openapi.json.

Written as data here (not generated from the handlers) so that it is a contract the handlers
are tested against: tests/web/test_api_schema.py checks that every route of webapp/api is in
it and, with schemathesis, that every answer matches it. Response objects are closed
(``additionalProperties: false``): a field added to a handler and not here fails the tests.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

from webapp.api import (
    spec_adjustments,
    spec_dashboards,
    spec_exchanges,
    spec_groups,
    spec_payouts,
)
from webapp.api.spec_parts import (
    ADMIN_USER_FILTERS,
    BOOL,
    CSV,
    DAY,
    DECIMAL,
    HISTORY_FILTERS,
    ID,
    INT,
    NAMED,
    PAGING,
    PERIOD,
    STRING,
    SVG,
    THEME,
    Schema,
    array,
    nullable,
    obj,
    operation,
    ref,
    write,
)

OPENAPI_PATH = "/api/openapi.json"


SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": obj({"code": STRING, "message": STRING,
                                "field": nullable(STRING)})}),
    "Money": obj({"amount": DECIMAL, "text": STRING}),
    "Moment": obj({"at": {"type": "string", "format": "date-time"}, "text": STRING}),
    "Change": nullable(obj({"percent": DECIMAL, "text": STRING,
                            "direction": {"enum": ["up", "down", "flat"]}})),
    "Me": obj({"id": INT, "first_name": STRING, "username": nullable(STRING),
               "locale": STRING, "role": STRING, "banned": BOOL,
               "csrf_token": nullable(STRING)}),
    "Totals": obj({name: ref("Money")
                   for name in ("volume", "fee", "commission", "rebate", "estimated")}),
    "Dashboard": obj({
        "period": {"enum": ["7d", "30d", "90d", "all"]}, "start": DAY, "end": DAY,
        "totals": ref("Totals"),
        "change": obj({name: ref("Change") for name in ("volume", "fee", "commission",
                                                         "rebate")}),
        "balance": obj({name: ref("Money") for name in ("available", "held", "paid_out",
                                                         "total_earned", "estimated")}),
        "exchanges": array(obj({"id": STRING, "name": STRING, "volume": ref("Money"),
                                "rebate": ref("Money"), "last_sync": nullable(ref("Moment")),
                                "next_sync": nullable(ref("Moment")), "sync_text": STRING})),
    }),
    "Exchanges": obj({"exchanges": array(obj({
        "id": STRING, "name": STRING, "share_percent": DECIMAL, "share_text": STRING,
        "link": nullable(STRING), "uids": array(STRING), "guide": nullable(STRING)}))}),
    "Account": obj({"id": INT, "exchange_id": STRING, "exchange_name": STRING, "uid": STRING,
                    "status": {"enum": ["pending", "verified", "rejected"]},
                    "status_text": STRING, "reason": nullable(STRING),
                    "linked_at": ref("Moment")}),
    "Accounts": obj({"accounts": array(ref("Account")), "exchanges": array(NAMED)}),
    "Linked": obj({"outcome": STRING, "message": STRING, "account": ref("Account")}),
    "History": obj({
        "lines": array(obj({
            "day": DAY, "exchange_id": STRING, "exchange_name": STRING,
            "volume": nullable(ref("Money")), "fee": nullable(ref("Money")),
            "commission": ref("Money"), "share_percent": DECIMAL, "share_text": STRING,
            "rebate": ref("Money"), "estimated": BOOL})),
        "page": INT, "pages": INT, "page_size": INT,
        "totals": obj({"volume": ref("Money"), "fee": ref("Money"),
                       "commission": ref("Money"), "rebate": ref("Money"), "lines": INT}),
        "filters": obj({"exchange": nullable(STRING), "from": nullable(DAY),
                        "to": nullable(DAY)}),
        "exchanges": array(NAMED)}),
    "Address": obj({"id": INT, "network_id": STRING, "address": STRING, "label": STRING,
                    "usable": BOOL, "usable_from": ref("Moment")}),
    "Withdrawal": obj({
        "id": INT, "status": STRING, "status_text": STRING,
        "method": {"enum": ["internal", "onchain", "manual"]},
        "amount": ref("Money"), "fee": ref("Money"), "net": ref("Money"),
        "destination": STRING, "network_id": nullable(STRING), "exchange_id": STRING,
        "tx_hash": nullable(STRING), "explorer_url": nullable(STRING),
        "reason": nullable(STRING), "created_at": ref("Moment"), "cancellable": BOOL}),
    "WithdrawOptions": obj({
        "available": ref("Money"),
        "internal": array(obj({"exchange_id": STRING, "exchange_name": STRING, "uid": STRING,
                               "fee": ref("Money")})),
        "networks": array(obj({"id": STRING, "name": STRING, "min": ref("Money"),
                               "max": ref("Money"), "fee_text": STRING})),
        "addresses": array(ref("Address")), "withdrawals": array(ref("Withdrawal"))}),
    "Quote": obj({"amount": ref("Money"), "fee": ref("Money"), "net": ref("Money"),
                  "arrival_text": STRING, "approval_needed": BOOL}),
    "OneWithdrawal": obj({"withdrawal": ref("Withdrawal")}),
    "Withdrawals": obj({"withdrawals": array(ref("Withdrawal"))}),
    "SavedAddress": obj({"address": ref("Address")}),
    "Settings": obj({
        "locale": STRING, "locales": array(obj({"code": STRING, "name": STRING})),
        "digest_mode": {"enum": ["on", "silent", "off"]},
        "digest_modes": array(obj({"code": STRING, "name": STRING})),
        "auto_withdraw": nullable(obj({
            "threshold": ref("Money"), "method": STRING, "exchange_id": nullable(STRING),
            "network_id": nullable(STRING), "address_id": nullable(INT),
            "destination_text": STRING}))}),
    "AdminUser": obj({
        "id": INT, "name": STRING, "username": nullable(STRING), "role": STRING,
        "role_text": STRING, "banned": BOOL, "source": STRING, "created_at": ref("Moment"),
        "exchanges": array(STRING), "available": ref("Money")}),
    "AdminUsers": obj({"users": array(ref("AdminUser")), "page": INT, "pages": INT,
                       "page_size": INT, "total": INT, "exchanges": array(NAMED)}),
    "AdminUserFile": obj({
        "user": obj({
            "id": INT, "name": STRING, "username": nullable(STRING), "role": STRING,
            "role_text": STRING, "banned": BOOL, "source": STRING,
            "created_at": ref("Moment"), "exchanges": array(STRING),
            "available": ref("Money"), "locale": nullable(STRING)}),
        "accounts": array(obj({"exchange_id": STRING, "exchange_name": STRING, "uid": STRING,
                               "status": STRING, "status_text": STRING,
                               "reason": nullable(STRING)})),
        "balance": obj({name: ref("Money") for name in ("available", "held", "paid_out",
                                                         "total_earned")}),
        "operations": array(obj({"id": INT, "kind": STRING, "at": ref("Moment"),
                                 "memo": STRING,
                                 "postings": array(obj({"account": STRING,
                                                        "amount": ref("Money")}))})),
        "withdrawals": array(obj({"id": INT, "status": STRING, "status_text": STRING,
                                  "amount": ref("Money"), "created_at": ref("Moment")})),
        "events": array(obj({"name": STRING, "at": ref("Moment")})),
        "actions": obj({"ban": BOOL, "unban": BOOL, "role": BOOL, "group": BOOL}),
        "roles": array(obj({"code": STRING, "name": STRING})),
        # The rate group (webapp/api/spec_groups.py).
        "group": nullable(ref("RateGroupRef")), "group_upcoming": nullable(ref("GroupChange")),
        "groups": array(ref("RateGroupRef"))}),
    "AuditLog": obj({
        "entries": array(obj({
            "seq": INT, "at": ref("Moment"), "actor_id": nullable(INT), "action": STRING,
            "object_type": STRING, "object_id": STRING, "before": nullable(STRING),
            "after": nullable(STRING)})),
        "page": INT, "pages": INT, "page_size": INT, "total": INT,
        "chain": obj({"ok": BOOL, "since": nullable(ref("Moment")),
                      "broken_at": nullable(INT)})}),
}

# Request bodies: open to what the handlers read (extra fields are ignored, not refused).
DESTINATION = {"method": {"enum": ["internal", "onchain"]}, "exchange_id": STRING,
               "network_id": STRING, "address_id": INT}
BODIES: dict[str, Schema] = {
    "LinkBody": {"type": "object", "required": ["exchange_id", "uid"],
                 "properties": {"exchange_id": STRING, "uid": STRING}},
    "QuoteBody": {"type": "object", "required": ["method", "amount"],
                  "properties": {**DESTINATION, "amount": STRING}},
    "WithdrawalBody": {"type": "object", "required": ["method", "amount", "expected_fee"],
                       "properties": {**DESTINATION, "amount": STRING,
                                      "expected_fee": DECIMAL}},
    "AddressBody": {"type": "object", "required": ["network_id", "address"],
                    "properties": {"network_id": STRING, "address": STRING, "label": STRING}},
    "SettingsBody": {"type": "object", "properties": {
        "locale": STRING, "digest_mode": {"enum": ["on", "silent", "off"]}}},
    "RoleBody": {"type": "object", "required": ["role"], "properties": {
        "role": {"enum": ["trader", "viewer", "ops", "finance", "admin"]}}},
    "AutoWithdrawBody": {"type": "object", "required": ["method", "threshold"],
                         "properties": {**DESTINATION, "threshold": STRING}},
}

PATHS: dict[str, dict[str, Schema]] = {
    "/api/me": {"get": operation("Who is signed in", 200, ref("Me"))},
    "/api/exchanges": {"get": operation("The exchanges with share, link and guide", 200,
                                        ref("Exchanges"))},
    "/api/accounts": {
        "get": operation("The trader's linked UIDs", 200, ref("Accounts")),
        "post": write("Link a UID", 201, ref("Linked"), request="LinkBody"),
    },
    "/api/dashboard": {"get": operation("A period's totals, balances, days and exchanges", 200,
                                        ref("Dashboard"), params=[PERIOD])},
    "/api/dashboard/chart": {"get": operation("Daily rebate and volume of a period", 200, SVG,
                                              params=[PERIOD, THEME], media="image/svg+xml")},
    "/api/history": {"get": operation("Per-day lines, newest first", 200, ref("History"),
                                      params=[*HISTORY_FILTERS, *PAGING])},
    "/api/history.csv": {"get": operation("Every line of the filtered history", 200, CSV,
                                          params=HISTORY_FILTERS, media="text/csv")},
    "/api/withdraw/options": {"get": operation("What can be withdrawn, and where to", 200,
                                               ref("WithdrawOptions"))},
    "/api/withdraw/quote": {"post": operation("The fee and net of a withdrawal (holds nothing)",
                                              200, ref("Quote"), request="QuoteBody")},
    "/api/withdrawals": {
        "get": operation("The trader's withdrawals, newest first", 200, ref("Withdrawals")),
        "post": write("Request a withdrawal (holds the amount)", 201, ref("OneWithdrawal"),
                      request="WithdrawalBody"),
    },
    "/api/withdrawals/{id}": {"get": operation("One withdrawal", 200, ref("OneWithdrawal"),
                                               params=[ID])},
    "/api/withdrawals/{id}/cancel": {"post": write("Cancel a request not yet approved", 200,
                                                   ref("OneWithdrawal"), params=[ID])},
    "/api/addresses": {"post": write("Save an address", 201, ref("SavedAddress"),
                                     request="AddressBody")},
    "/api/addresses/{id}": {"delete": write("Remove a saved address", 204, None,
                                            params=[ID])},
    "/api/settings": {
        "get": operation("Language, digest, auto-withdrawal", 200, ref("Settings")),
        "patch": write("Change language or digest", 200, ref("Settings"),
                       request="SettingsBody"),
    },
    "/api/admin/users": {"get": operation("The users directory (operators)", 200,
                                          ref("AdminUsers"),
                                          params=[*ADMIN_USER_FILTERS, *PAGING])},
    "/api/admin/users/{id}": {"get": operation("A user's file (operators)", 200,
                                               ref("AdminUserFile"), params=[ID])},
    "/api/admin/users/{id}/ban": {"post": write("Ban a trader (admin, ops)", 200,
                                                ref("AdminUserFile"), params=[ID])},
    "/api/admin/users/{id}/unban": {"post": write("Unban (admin, ops)", 200,
                                                  ref("AdminUserFile"), params=[ID])},
    "/api/admin/users/{id}/role": {"put": write("Give a role (admin)", 200,
                                                ref("AdminUserFile"), params=[ID],
                                                request="RoleBody")},
    "/api/admin/audit": {"get": operation("The audit log, newest first (admin, finance)", 200,
                                          ref("AuditLog"), params=[
        {"name": "actor", "in": "query", "required": False, "schema": STRING},
        {"name": "action", "in": "query", "required": False, "schema": STRING},
        {"name": "object_type", "in": "query", "required": False, "schema": STRING},
        {"name": "object_id", "in": "query", "required": False, "schema": STRING},
        {"name": "from", "in": "query", "required": False, "schema": DAY},
        {"name": "to", "in": "query", "required": False, "schema": DAY}, *PAGING])},
    "/api/settings/auto-withdraw": {
        "put": write("Set the auto-withdrawal", 200, ref("Settings"),
                     request="AutoWithdrawBody"),
        "delete": write("Turn the auto-withdrawal off", 200, ref("Settings")),
    },
}


def sections() -> tuple[ModuleType, ...]:
    """The admin screens' parts of the description, one module each (``PATHS``, ``SCHEMAS``
    and ``BODIES``), so that a screen's routes and their contract live side by side."""
    return (spec_payouts, spec_exchanges, spec_adjustments, spec_dashboards, spec_groups)


@cache
def openapi() -> dict[str, Any]:
    paths = dict(PATHS)
    schemas = {**SCHEMAS, **BODIES}
    for section in sections():
        clashes = (paths.keys() & section.PATHS.keys()) | (
            schemas.keys() & (section.SCHEMAS.keys() | section.BODIES.keys()))
        if clashes:
            raise ValueError(f"{section.__name__} redefines {sorted(clashes)}")
        paths.update(section.PATHS)
        schemas.update({**section.SCHEMAS, **section.BODIES})
    return {
        "openapi": "3.1.0",
        "info": {"title": "CryptoRebate Mini App API", "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"telegramInitData": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "telegramInitData": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`tma <initData>`: the Mini App's signed launch data"},
                "session": {"type": "apiKey", "in": "cookie", "name": "cr_session",
                            "description": "After the Login Widget; writes also need "
                                           "X-CSRF-Token (from /api/me)"},
            },
        },
    }
