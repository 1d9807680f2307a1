"""The public pages (issue 13): the landing with the exchanges and their shares, the calculator,
both languages, no script, the security headers, bad input as a 400."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from html import unescape
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from babel.dates import format_date

from bot.app import Services
from exchanges.registry import EXCHANGES, PRODUCT_EXCHANGES
from services.i18n import Catalog
from services.models import EstimateBasis
from services.rate_card import RateCardService
from services.rebates.shares import today_utc
from webapp.app import WebDeps, create_web_app
from webapp.public import PUBLIC, accepted_languages

D = Decimal
NBSP = "\u00a0"
TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates" / "public"


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    app = create_web_app(WebDeps(
        redis=redis, referrals=services.referrals, redis_prefix=redis_prefix,
        rate_card=RateCardService(services.exchanges), i18n=i18n, bot_username="CryptoRebateBot",
    ))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _row(html: str, exchange_id: str) -> str:
    match = re.search(rf'<tr id="exchange-{exchange_id}">(.*?)</tr>', html, re.S)
    assert match, exchange_id
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", match.group(1)))).strip()


def _amount(html: str, exchange_id: str) -> str:
    match = re.search(rf'data-exchange="{exchange_id}" data-product="\*">([^<]*)</td>', html)
    assert match, exchange_id
    return unescape(match.group(1)).replace(NBSP + "USDT", "")


async def test_landing_lists_the_product_exchanges_with_their_shares(
    client: TestClient
) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status == 200
    html = await response.text()
    assert len(PRODUCT_EXCHANGES) == 11
    for exchange_id in PRODUCT_EXCHANGES:
        row = _row(html, exchange_id)
        assert row.startswith(EXCHANGES[exchange_id].name)
        assert "60%" in row and "unchanged since the start" in row
    assert "We never ask for API keys or deposits" in html
    assert 'href="https://t.me/CryptoRebateBot"' in html
    assert '<html lang="en">' in html


async def test_a_changed_share_shows_with_its_date(
    client: TestClient, services: Services
) -> None:
    changed_on = today_utc() - timedelta(days=3)
    await services.rates.set_exchange_share("okx", D("0.625"), valid_from=changed_on)
    later = today_utc() + timedelta(days=10)
    await services.rates.set_exchange_share("bybit", D("0.7"), valid_from=later)
    client.app[PUBLIC].rate_card.forget_cache()  # the page's copy lives 10 seconds
    html = await (await client.get("/?lang=en")).text()
    okx = _row(html, "okx")
    assert "62.5%" in okx and f"since {format_date(changed_on, 'long', locale='en')}" in okx
    bybit = _row(html, "bybit")  # still 60% today; the scheduled change is announced
    assert "60%" in bybit and f"from {format_date(later, 'long', locale='en')}: 70%" in bybit
    ru = await (await client.get("/?lang=ru")).text()
    okx_ru = _row(ru, "okx")
    assert f"62,5{NBSP}%" in okx_ru
    assert f"с {format_date(changed_on, 'long', locale='ru')}" in okx_ru


@pytest.mark.parametrize(("header", "query", "expected"), [
    ("ru-RU,ru;q=0.9,en;q=0.8", "", "ru"),
    ("de-DE,en;q=0.5,ru;q=0.4", "", "en"),
    ("fr", "", "en"),
    ("ru", "?lang=en", "en"),
    ("en", "?lang=ru", "ru"),
    ("en", "?lang=xx", "en"),
])
async def test_the_language_comes_from_lang_or_accept_language(
    client: TestClient, header: str, query: str, expected: str
) -> None:
    response = await client.get(f"/{query}", headers={"Accept-Language": header})
    assert response.status == 200
    assert f'<html lang="{expected}">' in await response.text()
    assert response.headers["Content-Language"] == expected


def test_accept_language_order() -> None:
    assert accepted_languages("en;q=0.1, ru-RU, de;q=0.5, *;q=0.9, x;q=nan") == [
        "ru-RU", "de", "en"]


def _expected(volume: Decimal, fee_percent: Decimal, rate: Decimal, share: Decimal,
              basis: EstimateBasis) -> Decimal:
    """Computed independently of the service: gross, trader share, cut to the cent."""
    gross = volume * fee_percent / 100 * rate if basis is EstimateBasis.FEE else volume * rate
    return (gross * share).quantize(D("0.01"), rounding=ROUND_DOWN)


async def test_calculator_matches_an_independent_computation(
    client: TestClient, services: Services
) -> None:
    await services.rates.set_exchange_share("bybit", D("0.55"))
    await services.rates.set_estimate_rate("bybit", EstimateBasis.FEE, D("0.5"))
    await services.rates.set_estimate_rate("okx", EstimateBasis.VOLUME, D("0.0002"))
    await services.rates.set_estimate_rate("mexc", EstimateBasis.FEE, D("0.3333333333"))
    query = "volume=10000000&fee=0.1&lang=en"
    response = await client.get(f"/calculator?{query}")
    assert response.status == 200
    html = await response.text()
    assert _amount(html, "bybit") == "2,750.00"
    assert _expected(D(10_000_000), D("0.1"), D("0.5"), D("0.55"),
                     EstimateBasis.FEE) == D("2750.00")
    # The volume basis ignores the fee tier: 10,000,000 × 0.0002 × 60% = 1,200.
    assert _amount(html, "okx") == "1,200.00"
    custom = await (await client.get(
        "/calculator?volume=123456.78&fee=custom&custom_fee=0.075&lang=en")).text()
    expected = _expected(D("123456.78"), D("0.075"), D("0.3333333333"), D("0.6"),
                         EstimateBasis.FEE)
    assert _amount(custom, "mexc") == f"{expected:,.2f}"
    # Exchanges with no rate to estimate from are named, not given an invented number.
    missing = re.search(r'<div class="note" id="no-rate">(.*?)</div>', html, re.S)
    assert missing and "Binance" in missing.group(1) and "Bybit" not in missing.group(1)
    assert 'data-exchange="binance"' not in html
    ru = await (await client.get("/calculator?volume=10 000 000&fee=0.1&lang=ru")).text()
    assert _amount(ru, "bybit") == f"2{NBSP}750,00"
    ru_comma = await (await client.get(
        "/calculator?volume=10000000,0&fee=custom&custom_fee=0,1&lang=ru")).text()
    assert _amount(ru_comma, "bybit") == f"2{NBSP}750,00"


async def test_the_empty_calculator_is_a_form(client: TestClient) -> None:
    response = await client.get("/calculator")
    assert response.status == 200
    html = await response.text()
    assert '<form class="calc" method="get" action="/calculator">' in html
    assert 'name="volume"' in html and 'value="0.02"' in html and 'value="custom"' in html


@pytest.mark.parametrize(("query", "message"), [
    ("volume=-5&fee=0.1", "The volume must be more than 0 USDT."),
    ("volume=0&fee=0.1", "The volume must be more than 0 USDT."),
    ("volume=abc&fee=0.1", "That is not a number."),
    ("volume=NaN&fee=0.1", "That is not a number."),
    ("volume=Infinity&fee=0.1", "That is not a number."),
    ("volume=1e999999999&fee=0.1", "The volume can be at most 100,000,000,000.00 USDT a month."),
    ("volume=100000000001&fee=0.1", "The volume can be at most"),
    ("volume=" + "9" * 200 + "&fee=0.1", "That is not a number."),
    ("volume=&fee=0.1", "Enter a number."),
    ("volume=1000&fee=7", "Choose a fee rate."),
    ("volume=1000&fee=custom&custom_fee=", "Enter a number."),
    ("volume=1000&fee=custom&custom_fee=-0.1", "The fee rate must be more than 0%"),
    ("volume=1000&fee=custom&custom_fee=5", "and at most 1%."),
])
async def test_bad_input_is_the_form_again_with_a_message(
    client: TestClient, query: str, message: str
) -> None:
    response = await client.get(f"/calculator?{query}&lang=en")
    assert response.status == 400
    html = unescape(await response.text())
    assert message in html
    assert '<form class="calc"' in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_bad_input_is_echoed_escaped(client: TestClient) -> None:
    response = await client.get("/calculator", params={
        "volume": '"><b>x</b>', "fee": "0.1", "lang": "ru"})
    assert response.status == 400
    html = await response.text()
    assert "<b>x</b>" not in html and "&#34;&gt;&lt;b&gt;x&lt;/b&gt;" in html
    assert "Это не число." in html


@pytest.mark.parametrize("path", ["/", "/?lang=ru", "/calculator",
                                  "/calculator?volume=5000&fee=0.05", "/calculator?volume=x"])
async def test_no_script_and_the_security_headers(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status in (200, 400)
    html = (await response.text()).lower()
    assert "<script" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no inline event handlers either
    assert "style=" not in html  # nothing inline: the CSP would refuse it
    headers = response.headers
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Content-Type"].startswith("text/html")


async def test_the_stylesheet_is_served_with_dark_mode(client: TestClient) -> None:
    response = await client.get("/static/public.css")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "prefers-color-scheme: dark" in await response.text()


async def test_without_a_bot_username_the_way_in_is_text(
    db, redis, redis_prefix, services: Services, i18n: Catalog  # type: ignore[no-untyped-def]
) -> None:
    app = create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                 redis_prefix=redis_prefix,
                                 rate_card=RateCardService(services.exchanges), i18n=i18n))
    async with TestClient(TestServer(app)) as test_client:
        html = await (await test_client.get("/?lang=en")).text()
    assert "t.me/" not in html
    assert "Start in our Telegram bot: open it and send /start." in html


def test_template_keys_exist_in_every_locale(i18n: Catalog) -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.0-9]+)["']""", template.read_text()))
    assert used and all(key.startswith("public.") for key in used)
    for locale in ("en", "ru"):
        assert used <= i18n.keys(locale), (locale, used - i18n.keys(locale))


