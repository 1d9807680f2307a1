"""The Mini App's JSON API under /api/, described by /api/openapi.json (webapp/api/spec.py).

Every route needs an identity (webapp/auth.py: initData or the browser session); the trader is
taken from it alone. Writes need an Idempotency-Key (webapp/api/idempotency.py). Errors are
``{"error": {"code", "message", "field"}}`` in the trader's language (webapp/api/common.py).
"""

from __future__ import annotations

from aiohttp import web

from webapp.api import admin, cabinet, dashboard, history, preferences, withdraw
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
