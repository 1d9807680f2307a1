"""The public pages, no sign-in: the landing (what we do, the exchanges and the trader's share on
each) and the rebate calculator. Plain HTML, no JavaScript, in the reader's language (``?lang=``,
else Accept-Language). Routes are thin: parse → one service call → render."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel.dates import format_date
from babel.numbers import NumberFormatError, parse_decimal

from services.formatting import money, percent
from services.i18n import Catalog, Translator
from services.models.rates import ALL, EstimateBasis
from services.rate_card import CENT, RateCardService

if TYPE_CHECKING:
    from webapp.app import WebDeps

STATIC_DIR = Path(__file__).resolve().parent / "static"
STYLESHEET_PATH = "/static/public.css"

# The fee tiers offered on the form, in percent (a taker fee of 0.1% is the common base tier).
FEE_PRESETS = ("0.02", "0.05", "0.1")
DEFAULT_FEE = "0.1"
MAX_VOLUME = Decimal("100000000000")  # 100 billion USDT a month: beyond any trader
MAX_FEE_PERCENT = Decimal("1")
MAX_INPUT_CHARS = 32

SECURITY_HEADERS = {
    # Nothing inline, nothing from elsewhere: the pages have no script and one stylesheet.
    "Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class PublicDeps:
    rate_card: RateCardService
    i18n: Catalog
    bot_username: str | None


PUBLIC = web.AppKey("public", PublicDeps)
TEMPLATES = web.AppKey("public_templates", jinja2.Environment)


class InputError(ValueError):
    """A calculator field that cannot be used; ``key`` names the message shown for it."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def setup_public(app: web.Application, deps: WebDeps) -> None:
    """Register the public pages when the web process has what they show."""
    if deps.rate_card is None or deps.i18n is None:
        return
    app[PUBLIC] = PublicDeps(rate_card=deps.rate_card, i18n=deps.i18n,
                             bot_username=deps.bot_username)
    aiohttp_jinja2.setup(
        app, app_key=TEMPLATES, loader=jinja2.PackageLoader("webapp", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, default_helpers=False,
    )
    app.router.add_get("/", landing)
    app.router.add_get("/calculator", calculator)
    app.router.add_get(STYLESHEET_PATH, stylesheet)


def accepted_languages(header: str) -> list[str]:
    """The language tags of an Accept-Language header, most preferred first."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and tag.strip() != "*" and 0 < quality <= 1:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def reader_locale(request: web.Request, i18n: Catalog) -> tuple[str, bool]:
    """(locale, chosen): ``?lang=`` when it names one of ours, else Accept-Language."""
    chosen = request.query.get("lang", "")
    if chosen in i18n.locales:
        return chosen, True
    return i18n.resolve_locale(
        *accepted_languages(request.headers.get("Accept-Language", ""))), False


def parse_number(text: str, locale: str) -> Decimal:
    """A number as a person types it in ``locale`` (``1 000 000,5`` in Russian, ``1,000,000.5``
    in English) or plainly (``1000000.5``)."""
    cleaned = re.sub(r"[\s_']", "", text)
    if not cleaned:
        raise InputError("public.calc.error.empty")
    if len(cleaned) > MAX_INPUT_CHARS:
        raise InputError("public.calc.error.not_a_number")
    try:
        value = parse_decimal(cleaned, locale=locale, strict=True)
    except NumberFormatError:
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise InputError("public.calc.error.not_a_number") from None
    if not value.is_finite():
        raise InputError("public.calc.error.not_a_number")
    return value


def parse_volume(text: str, locale: str) -> Decimal:
    volume = parse_number(text, locale)
    if volume <= 0:
        raise InputError("public.calc.error.volume_positive")
    if volume > MAX_VOLUME:
        raise InputError("public.calc.error.volume_too_big", maximum=money(MAX_VOLUME, locale))
    return volume


def parse_fee(choice: str, custom: str, locale: str) -> Decimal:
    """The taker fee in percent: one of the presets, or the custom rate typed."""
    if choice in FEE_PRESETS:
        return Decimal(choice)
    if choice != "custom":
        raise InputError("public.calc.error.fee_choice")
    fee = parse_number(custom, locale)
    if not 0 < fee <= MAX_FEE_PERCENT:
        raise InputError("public.calc.error.fee_range", maximum=percent(MAX_FEE_PERCENT, locale))
    return fee


def _page(request: web.Request, template: str, context: dict[str, Any],
          status: int = 200) -> web.Response:
    deps = request.app[PUBLIC]
    locale, chosen = reader_locale(request, deps.i18n)
    t: Translator = deps.i18n.translator(locale)

    def share(value: Decimal) -> str:
        return t("public.percent_value", value=percent(value * 100, locale))

    def day(value: date) -> str:
        return format_date(value, "long", locale=locale)

    languages = [(code, t(f"public.language.{code}"),
                  str(request.rel_url.update_query(lang=code))) for code in deps.i18n.locales]
    response = aiohttp_jinja2.render_template(template, request, {
        "t": t, "locale": locale, "lang_chosen": chosen, "languages": languages,
        "money": lambda value: money(value, locale), "share": share, "day": day,
        "percent": lambda value: percent(value, locale),
        "bot_username": deps.bot_username, "stylesheet": STYLESHEET_PATH,
        "ALL": ALL, "FEE": EstimateBasis.FEE,
        "home_url": "/" + (f"?lang={locale}" if chosen else ""),
        "calculator_url": "/calculator" + (f"?lang={locale}" if chosen else ""),
        **context,
    }, app_key=TEMPLATES, status=status)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Language"] = locale
    response.headers["Vary"] = "Accept-Language"
    return response


async def landing(request: web.Request) -> web.Response:
    card = await request.app[PUBLIC].rate_card.rate_card()
    return _page(request, "public/landing.html", {"page": "home", "card": card})


async def calculator(request: web.Request) -> web.Response:
    deps = request.app[PUBLIC]
    locale, _ = reader_locale(request, deps.i18n)
    query = request.query
    form = {"volume": query.get("volume", ""), "fee": query.get("fee", DEFAULT_FEE),
            "custom_fee": query.get("custom_fee", "")}
    context: dict[str, Any] = {
        "page": "calculator", "form": form, "errors": [], "result": None,
        "presets": [(preset, Decimal(preset)) for preset in FEE_PRESETS],
        "volume_example": Decimal(100000), "fee_example": Decimal("0.075"),
    }
    if "volume" not in query:  # the empty form
        return _page(request, "public/calculator.html", context)
    errors: list[InputError] = []
    volume = fee = None
    try:
        volume = parse_volume(form["volume"], locale)
    except InputError as exc:
        errors.append(exc)
    try:
        fee = parse_fee(form["fee"], form["custom_fee"], locale)
    except InputError as exc:
        errors.append(exc)
    if errors or volume is None or fee is None:
        t = deps.i18n.translator(locale)
        context["errors"] = [t(error.key, **error.params) for error in errors]
        return _page(request, "public/calculator.html", context, status=400)
    estimates = await deps.rate_card.estimate(volume, fee / 100)
    context["result"] = {
        "volume": volume, "fee": fee, "fees": (volume * fee / 100).quantize(CENT),
        "rows": [row for row in estimates if row.results],
        "missing": [row.exchange for row in estimates if not row.results],
    }
    return _page(request, "public/calculator.html", context)


async def stylesheet(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "public.css", headers={
        **SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"})
