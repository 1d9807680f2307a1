"""The Mini App's pages under /app/: server-rendered shells in the reader's language (``?lang=``,
else Accept-Language) that /static/app.js fills from the JSON API (webapp/api/). A page loads
without an identity (the Mini App's first load, a browser not signed in yet); the script
authenticates its API calls. No inline script: the page's configuration travels in a
``<script type="application/json">`` block."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web

from services.i18n import Catalog
from services.models import Role, SignupSource
from webapp.public import reader_locale

if TYPE_CHECKING:
    from webapp.app import WebDeps

STATIC_DIR = Path(__file__).resolve().parent / "static"
TELEGRAM_WEB_APP_JS = "https://telegram.org/js/telegram-web-app.js"

# Telegram's web clients show a Mini App in a frame; everything else is our own origin.
APP_CSP = ("default-src 'self'; script-src 'self' https://telegram.org; "
           "img-src 'self' blob: data:; style-src 'self'; connect-src 'self'; "
           "frame-src https://oauth.telegram.org; base-uri 'none'; form-action 'self'; "
           "object-src 'none'; frame-ancestors 'self' https://web.telegram.org")
APP_HEADERS = {"Content-Security-Policy": APP_CSP, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}

# (page, path, icon): the bottom bar, in order.
PAGES = (("dashboard", "/app/", "📊"), ("exchanges", "/app/exchanges", "🏦"),
         ("accounts", "/app/accounts", "🔗"), ("history", "/app/history", "📜"),
         ("withdraw", "/app/withdraw", "💸"), ("settings", "/app/settings", "⚙"))

# The operators' pages (page, path): not in the traders' bottom bar; each links to the other.
# The shell renders for anyone; the admin API answers by the caller's role.
ADMIN_PAGES = (("admin_users", "/app/admin/"), ("admin_user", "/app/admin/user"),
               ("admin_payouts", "/app/admin/payouts"),
               ("admin_payout_settings", "/app/admin/payout-settings"),
               ("admin_audit", "/app/admin/audit"),
               ("admin_dashboards", "/app/admin/dashboards"),
               ("admin_exchanges", "/app/admin/exchanges"))

# The page scripts /static/pages/<name>.js that exist to be served: one per page, and the
# withdraw page's second (the status and the listing, withdraw.html loads it), nothing else.
PAGE_SCRIPTS = frozenset([*(name for name, _, _ in PAGES), "withdrawals",
                          *(name for name, _ in ADMIN_PAGES),
                          "admin_adjust"])  # manual adjustments: both users pages' second
SCRIPT_DIR = STATIC_DIR / "pages"
STATIC_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"}

PAGES_I18N = web.AppKey("pages_i18n", Catalog)
PAGES_BOT = web.AppKey("pages_bot_username", str)
PAGES_TEMPLATES = web.AppKey("pages_templates", jinja2.Environment)


def setup_pages(app: web.Application, deps: WebDeps) -> None:
    """Register the /app/ pages when the web process has a catalog to word them."""
    if deps.i18n is None:
        return
    app[PAGES_I18N] = deps.i18n
    app[PAGES_BOT] = deps.bot_username or ""
    app[PAGES_TEMPLATES] = jinja2.Environment(
        loader=jinja2.PackageLoader("webapp", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined)
    for page, path, _ in PAGES:
        app.router.add_get(path, _page_handler(page))
    for page, path in ADMIN_PAGES:
        app.router.add_get(path, _admin_handler(page))
    app.router.add_get("/app/admin", admin_without_slash)
    app.router.add_get("/app/login", login_page)
    app.router.add_get("/static/app.js", _static("app.js"))
    app.router.add_get("/static/app.css", _static("app.css"))
    app.router.add_get("/static/pages/{name}.js", page_script)


def _render(request: web.Request, template: str, page: str,
            context: dict[str, Any] | None = None, *, admin: bool = False) -> web.Response:
    i18n = request.app[PAGES_I18N]
    locale, chosen = reader_locale(request, i18n)
    t = i18n.translator(locale)
    suffix = f"?lang={locale}" if chosen else ""
    nav = [{"page": name, "url": path + suffix, "icon": icon, "label": t(f"app.nav.{name}")}
           for name, path, icon in PAGES]
    urls = {name: path + suffix for name, path, _ in PAGES}
    config = {"page": page, "lang": locale, "locales": list(i18n.locales),
              "home_url": "/app/" + suffix, "login_url": "/app/login" + suffix,
              "urls": urls, "texts": page_texts(i18n, locale, page)}
    title = t(f"app.title.{page}") if not admin else t(f"app.admin.{page[len('admin_'):]}.title")
    if admin:
        urls.update((name, path + suffix) for name, path in ADMIN_PAGES)
        if page != "admin_users":  # Telegram's BackButton: from a user back to the directory
            config["home_url"] = urls["admin_users"]
        context = {"urls": urls, **(context or {})}
    html = request.app[PAGES_TEMPLATES].get_template(template).render(
        t=t, locale=locale, page=page, nav=nav, config=config,
        title=title, bot_username=request.app[PAGES_BOT],
        telegram_script=TELEGRAM_WEB_APP_JS, **(context or {}))
    response = web.Response(text=html, content_type="text/html")
    response.headers.update(APP_HEADERS)
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language"
    return response


def page_texts(i18n: Catalog, locale: str, page: str) -> dict[str, str]:
    """The words a page's script shows: ``app.common.*`` and ``app.<page>.*`` (``app.admin.*``
    for both operators' pages), keyed without the ``app.`` prefix (``common.retry_button``),
    in the reader's language."""
    t = i18n.translator(locale)
    prefixes = ("app.common.", "app.admin." if page.startswith("admin_") else f"app.{page}.")
    return {key[len("app."):]: t(key) for key in sorted(i18n.keys(i18n.default_locale))
            if key.startswith(prefixes)}


def _page_handler(page: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return _render(request, f"app/{page}.html", page)

    handler.__name__ = f"page_{page}"
    return handler


def _admin_handler(page: str) -> Any:
    # The filters' choices come from the models, so a new role or source shows up here too.
    choices = {"roles": [role.value for role in Role],
               "sources": [source.value for source in SignupSource]}

    async def handler(request: web.Request) -> web.Response:
        return _render(request, f"app/{page}.html", page, choices, admin=True)

    handler.__name__ = f"page_{page}"
    return handler


async def admin_without_slash(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(request.rel_url.with_path("/app/admin/").with_query(
        request.query))


async def login_page(request: web.Request) -> web.Response:
    return _render(request, "app/login.html", "login")


def _static(name: str) -> Any:
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / name, headers=STATIC_HEADERS)

    return handler


async def page_script(request: web.Request) -> web.FileResponse:
    """A page's own script; only the whitelisted names, so no other file is reachable."""
    name = request.match_info["name"]
    path = SCRIPT_DIR / f"{name}.js"
    if name not in PAGE_SCRIPTS or not path.is_file():
        raise web.HTTPNotFound(headers={"X-Content-Type-Options": "nosniff"})
    return web.FileResponse(path, headers={**STATIC_HEADERS,
                                           "Content-Type": "text/javascript; charset=utf-8"})
