"""The Exchanges screen's part of the OpenAPI description (webapp/api/admin_exchanges.py):
the exchanges with their status, one exchange with its sync history, and an admin's changes.
No schema has a field for a secret in an answer: credentials are written, never read."""

from __future__ import annotations

from webapp.api.spec_parts import (
    BOOL,
    DAY,
    DECIMAL,
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

EXCHANGE = {"name": "exchange", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9]{1,16}$"}}
DAY_TEXT = obj({"day": DAY, "text": STRING})
STATUSES = ["ok", "lag", "error", "disabled", "not_configured", "csv"]

SCHEMAS: dict[str, Schema] = {
    "AdminExchange": obj({
        "id": STRING, "name": STRING, "enabled": BOOL, "data_source": {"enum": ["api", "csv"]},
        "api_verified": BOOL, "link_template": STRING,
        "share": obj({"percent": DECIMAL, "text": STRING, "since": nullable(DAY_TEXT),
                      "upcoming": array(obj({"from": DAY_TEXT, "percent": DECIMAL,
                                             "text": STRING}))}),
        "sync_interval_minutes": INT, "status": {"enum": STATUSES}, "status_text": STRING,
        "sync_text": STRING, "last_sync": nullable(ref("Moment")),
        "next_sync": nullable(ref("Moment")), "last_error": nullable(STRING),
        "credential": obj({
            "source": {"enum": ["db", "env", "none"]}, "source_text": STRING,
            "hint": nullable(STRING), "expires_on": nullable(DAY_TEXT), "expired": BOOL,
            "expiring": BOOL, "set_by": nullable(INT), "set_at": nullable(ref("Moment")),
            "unreadable": BOOL}),
    }),
    "AdminExchangeActions": obj({"edit": BOOL, "share": BOOL}),
    "AdminExchanges": obj({"exchanges": array(ref("AdminExchange")),
                           "actions": ref("AdminExchangeActions")}),
    "AdminExchangeFile": obj({
        "exchange": ref("AdminExchange"),
        "runs": array(obj({
            "id": INT, "trigger": STRING, "status": {"enum": ["running", "ok", "failed"]},
            "status_text": STRING, "started_at": ref("Moment"),
            "finished_at": nullable(ref("Moment")), "seen": INT, "new": INT, "changed": INT,
            "error_class": nullable(STRING), "error_words": nullable(STRING),
            "error": nullable(STRING)})),
        "actions": ref("AdminExchangeActions"),
        "limits": obj({"interval_min": INT, "interval_max": INT})}),
    "CredentialsRotated": obj({"rotated": INT, "unreadable": INT, "message": STRING}),
}

BODIES: dict[str, Schema] = {
    "ExchangeChangeBody": {"type": "object", "properties": {
        "enabled": BOOL, "link_template": STRING,
        "sync_interval_minutes": {"type": "integer", "minimum": 5, "maximum": 1440}}},
    "ExchangeShareBody": {"type": "object", "required": ["share_percent"], "properties": {
        "share_percent": {"type": "string", "pattern": r"^[0-9]{1,3}(\.[0-9]{1,2})?$"},
        "valid_from": DAY}},
    "ExchangeCredentialsBody": {"type": "object", "required": ["api_key", "api_secret"],
                                "properties": {"api_key": STRING, "api_secret": STRING,
                                               "api_password": STRING, "expires_on": DAY}},
}

PATHS: dict[str, dict[str, Schema]] = {
    "/api/admin/exchanges": {"get": operation(
        "The exchanges with status and settings (admin, ops, viewer)", 200,
        ref("AdminExchanges"))},
    "/api/admin/exchanges/{exchange}": {
        "get": operation("One exchange with its recent sync runs (admin, ops, viewer)", 200,
                         ref("AdminExchangeFile"), params=[EXCHANGE]),
        "patch": write("Enable or disable, link template, sync interval (admin)", 200,
                       ref("AdminExchangeFile"), params=[EXCHANGE],
                       request="ExchangeChangeBody"),
    },
    "/api/admin/exchanges/{exchange}/share": {"put": write(
        "The trader share from a day on (admin)", 200, ref("AdminExchangeFile"),
        params=[EXCHANGE], request="ExchangeShareBody")},
    "/api/admin/exchanges/{exchange}/credentials": {
        "put": write("Set or replace the API credentials; write-only (admin)", 200,
                     ref("AdminExchangeFile"), params=[EXCHANGE],
                     request="ExchangeCredentialsBody"),
        "delete": write("Remove the stored API credentials (admin)", 200,
                        ref("AdminExchangeFile"), params=[EXCHANGE]),
    },
    "/api/admin/credentials/rotate": {"post": write(
        "Re-encrypt the stored credentials under the current SECRET_KEY (admin)", 200,
        ref("CredentialsRotated"))},
}
