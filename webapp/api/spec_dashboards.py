"""The admin dashboards' part of the OpenAPI description (webapp/api/admin_dashboards.py)."""

from __future__ import annotations

from webapp.api.spec_parts import (
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
)

COUNT = obj({"count": INT, "text": STRING})
PERCENT = nullable(obj({"percent": DECIMAL, "text": STRING}))
PERIOD_FIELDS = {"period": {"enum": ["7d", "30d", "90d"]}, "start": DAY, "end": DAY}


def compared(value: Schema) -> Schema:
    return obj({"value": value, "change": ref("Change")})


SHARES = array(obj({"key": STRING, "label": STRING, "count": COUNT, "percent": PERCENT}))
PAYOUT_FIGURES = obj({"completed": COUNT, "completed_amount": ref("Money"), "failed": COUNT,
                      "failed_amount": ref("Money"), "rejected": COUNT, "success": PERCENT})

SCHEMAS: dict[str, Schema] = {
    "ExecutiveDashboard": obj({
        **PERIOD_FIELDS,
        "volume": compared(ref("Money")), "revenue": compared(ref("Money")),
        "gross": ref("Money"), "traders": COUNT, "new_traders": compared(COUNT),
        "activation": compared(PERCENT),
        "by_exchange": array(obj({"id": STRING, "name": STRING, "revenue": ref("Money"),
                                  "share": PERCENT})),
        "days": array(obj({"day": DAY, "volume": DECIMAL, "revenue": DECIMAL})),
        "pending_withdrawals": COUNT, "alerts_firing": COUNT}),
    "ProductDashboard": obj({
        **PERIOD_FIELDS,
        "new_traders": compared(COUNT), "activation": compared(PERCENT),
        "retention_d30": compared(PERCENT),
        "exchanges_per_trader": compared(obj({"amount": DECIMAL, "text": STRING})),
        "funnel": array(obj({"key": STRING, "label": STRING, "count": COUNT,
                             "conversion": PERCENT})),
        "cohorts": array(obj({"week_start": DAY, "signups": COUNT,
                              "retention": array(PERCENT)})),
        "active_traders": COUNT, "features": SHARES, "platforms": SHARES, "sources": SHARES,
        "first_trade": SHARES}),
    "ExchangeDashboard": obj({
        **PERIOD_FIELDS, "revenue": ref("Money"),
        "exchanges": array(obj({
            "id": STRING, "name": STRING,
            "status": {"enum": ["ok", "lag", "error", "disabled", "not_configured", "csv"]},
            "status_text": STRING, "sync_text": STRING, "traders": COUNT,
            "volume": ref("Money"), "gross": ref("Money"), "revenue": compared(ref("Money")),
            "runs": obj({"ok": COUNT, "failed": COUNT, "running": COUNT})}))}),
    "PayoutDashboard": obj({
        **PERIOD_FIELDS,
        "pending": COUNT, "pending_amount": ref("Money"), "awaiting_approval": COUNT,
        "oldest_awaiting": nullable(ref("Moment")), "now": PAYOUT_FIGURES,
        "before": PAYOUT_FIGURES, "success_change": ref("Change"),
        "days": array(obj({"day": DAY, "paid": INT, "amount": DECIMAL})),
        "ways": array(obj({"way": STRING, "label": STRING, "paid": COUNT,
                           "amount": ref("Money"), "percent": PERCENT})),
        "durations": SHARES}),
}
BODIES: dict[str, Schema] = {}


def _period(default: str) -> Schema:
    return {"name": "period", "in": "query", "required": False,
            "schema": {"enum": ["7d", "30d", "90d"], "default": default}}


PATHS: dict[str, dict[str, Schema]] = {
    "/api/admin/dashboards/executive": {"get": operation(
        "The executive snapshot (operators)", 200, ref("ExecutiveDashboard"),
        params=[_period("30d")])},
    "/api/admin/dashboards/product": {"get": operation(
        "The product dashboard (operators)", 200, ref("ProductDashboard"),
        params=[_period("30d")])},
    "/api/admin/dashboards/exchanges": {"get": operation(
        "The exchange dashboard (admin, ops, viewer)", 200, ref("ExchangeDashboard"),
        params=[_period("30d")])},
    "/api/admin/dashboards/payouts": {"get": operation(
        "The payout dashboard (finance, admin)", 200, ref("PayoutDashboard"),
        params=[_period("7d")])},
}
