"""The Mini App's JSON API under /api/, described by /api/openapi.json (webapp/api/spec.py).

Every route needs an identity (webapp/auth.py: initData or the browser session); the trader is
taken from it alone. Writes need an Idempotency-Key (webapp/api/idempotency.py). Errors are
``{"error": {"code", "message", "field"}}`` in the trader's language (webapp/api/common.py).
"""

from __future__ import annotations

from aiohttp import web

from webapp.api import (
    admin,
    admin_adjustments,
    admin_dashboards,
    admin_exchanges,
    admin_groups,
    admin_payouts,
    cabinet,
    dashboard,
    history,
    preferences,
    withdraw,
)
from webapp.api.common import CATALOG, USERS, json_answer
from webapp.api.deps import API, ApiDeps
from webapp.api.spec import OPENAPI_PATH, openapi

# (method, path, handler): the one list the router and the OpenAPI test both read.
ROUTES = (
    ("GET", "/api/me", cabinet.me),
    ("GET", "/api/exchanges", cabinet.exchanges),
    ("GET", "/api/accounts", cabinet.accounts),
    ("POST", "/api/accounts", cabinet.link_account),
    ("GET", "/api/dashboard", dashboard.dashboard),
    ("GET", "/api/dashboard/chart", dashboard.chart),
    ("GET", "/api/history", history.history),
    ("GET", "/api/history.csv", history.history_csv),
    ("GET", "/api/withdraw/options", withdraw.options),
    ("POST", "/api/withdraw/quote", withdraw.quote),
    ("GET", "/api/withdrawals", withdraw.listing),
    ("POST", "/api/withdrawals", withdraw.create),
    ("GET", "/api/withdrawals/{id}", withdraw.one),
    ("POST", "/api/withdrawals/{id}/cancel", withdraw.cancel),
    ("POST", "/api/addresses", withdraw.add_address),
    ("DELETE", "/api/addresses/{id}", withdraw.remove_address),
    ("GET", "/api/settings", preferences.read),
    ("PATCH", "/api/settings", preferences.update),
    ("PUT", "/api/settings/auto-withdraw", preferences.set_auto),
    ("DELETE", "/api/settings/auto-withdraw", preferences.stop_auto),
    # The admin screens: each route checks the caller's role (webapp/api/admin.py).
    ("GET", "/api/admin/users", admin.users),
    ("GET", "/api/admin/users/{id}", admin.user),
    ("POST", "/api/admin/users/{id}/ban", admin.ban),
    ("POST", "/api/admin/users/{id}/unban", admin.unban),
    ("PUT", "/api/admin/users/{id}/role", admin.set_role),
    ("GET", "/api/admin/audit", admin.audit_log),
    # The payout screens (webapp/api/admin_payouts.py).
    ("GET", "/api/admin/payouts/queue", admin_payouts.queue),
    ("POST", "/api/admin/payouts/{id}/approve", admin_payouts.approve),
    ("POST", "/api/admin/payouts/{id}/reject", admin_payouts.reject),
    ("POST", "/api/admin/payouts/{id}/retry", admin_payouts.retry),
    ("POST", "/api/admin/payouts/{id}/paid", admin_payouts.paid),
    ("GET", "/api/admin/payouts/settings", admin_payouts.configuration),
    ("PATCH", "/api/admin/payouts/settings", admin_payouts.change_settings),
    ("PATCH", "/api/admin/payouts/networks/{id}", admin_payouts.change_network),
    # The Exchanges screen (webapp/api/admin_exchanges.py).
    ("GET", "/api/admin/exchanges", admin_exchanges.exchanges),
    ("GET", "/api/admin/exchanges/{exchange}", admin_exchanges.exchange),
    ("PATCH", "/api/admin/exchanges/{exchange}", admin_exchanges.update),
    ("PUT", "/api/admin/exchanges/{exchange}/share", admin_exchanges.set_share),
    ("PUT", "/api/admin/exchanges/{exchange}/credentials", admin_exchanges.set_credentials),
    ("DELETE", "/api/admin/exchanges/{exchange}/credentials",
     admin_exchanges.remove_credentials),
    ("POST", "/api/admin/credentials/rotate", admin_exchanges.rotate_credentials),
    # Manual ledger adjustments (webapp/api/admin_adjustments.py).
    ("POST", "/api/admin/users/{id}/adjustments", admin_adjustments.create),
    ("GET", "/api/admin/adjustments", admin_adjustments.listing),
    ("POST", "/api/admin/adjustments/{id}/approve", admin_adjustments.approve),
    ("POST", "/api/admin/adjustments/{id}/reject", admin_adjustments.reject),
    ("POST", "/api/admin/adjustments/{id}/cancel", admin_adjustments.cancel),
    # The dashboards (webapp/api/admin_dashboards.py).
    ("GET", "/api/admin/dashboards/executive", admin_dashboards.executive),
    ("GET", "/api/admin/dashboards/product", admin_dashboards.product),
    ("GET", "/api/admin/dashboards/exchanges", admin_dashboards.exchanges),
    ("GET", "/api/admin/dashboards/payouts", admin_dashboards.payouts),
    # A trader's rate group on their page (webapp/api/admin_groups.py).
    ("PUT", "/api/admin/users/{id}/group", admin_groups.set_group),
)


async def openapi_file(request: web.Request) -> web.Response:
    return json_answer(openapi())


def setup_api(app: web.Application, deps: ApiDeps) -> None:
    app[API] = deps
    app[USERS] = deps.users
    app[CATALOG] = deps.i18n
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    # The description is public: it names no data (webapp/auth.py lets it through).
    app.router.add_get(OPENAPI_PATH, openapi_file)
