"""The dashboard, its chart, the filtered history and its CSV through the API (issue 13): the
figures are those of an independent recomputation from the stored records, written as the
bot writes them in each language; the CSV holds exactly the lines of every page under the same
filters; bad filters are 400s naming the field; every JSON answer matches the OpenAPI file."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from services.formatting import money
from services.i18n import Catalog
from tests.ledger.helpers import make_trader
from tests.support.api_app import auth, build_app, call
from tests.web.test_dashboard_service import (
    NOW,
    TODAY,
    Row,
    _expected,
    book_two_traders,
)

D = Decimal


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    """The API on the day the records were booked up to."""
    app = build_app(services, i18n, redis, redis_prefix, clock=lambda: NOW)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def booked(db: str) -> dict[str, object]:
    return await book_two_traders()


def signed(user_id: int, language: str = "en") -> dict[str, str]:
    """initData dated at the API's clock (the day the records were booked up to)."""
    return auth(user_id, age=datetime.now(UTC) - NOW, language=language)


def _trader(booked: dict[str, object]) -> tuple[int, list[Row]]:
    a, rows = booked["a"], booked["rows"]
    assert isinstance(a, int) and isinstance(rows, list)
    return a, rows


@pytest.mark.parametrize("locale", ["en", "ru"])
@pytest.mark.parametrize("period, days", [("7d", 7), ("90d", 90)])
async def test_the_dashboard_is_the_records_in_the_readers_words(
    client: TestClient, booked: dict[str, object], locale: str, period: str, days: int
) -> None:
    a, rows = _trader(booked)
    status, body = await call(client, "GET", f"/api/dashboard?period={period}",
                              headers=signed(a, locale))
    assert status == 200, body
    start = TODAY - timedelta(days=days - 1)
    expected = _expected(rows, a, start, TODAY)
    previous = _expected(rows, a, start - timedelta(days=days), start - timedelta(days=1))
    for name in ("volume", "fee", "commission", "rebate", "estimated"):
        figure = body["totals"][name]
        assert abs(D(figure["amount"]) - getattr(expected, name)) <= D("1e-8"), name
        assert figure["text"] == money(getattr(expected, name), locale)
    for name in ("volume", "fee", "commission", "rebate"):  # against the period before
        now, before = getattr(expected, name), getattr(previous, name)
        shift = ((now - before) * 100 / before).quantize(D("0.1"))
        assert D(body["change"][name]["percent"]) == shift, name
        direction = "up" if shift > 0 else "down" if shift < 0 else "flat"
        assert body["change"][name]["direction"] == direction, name
    # The balance is the ledger's: all-time earnings equal the sum of every rebate.
    earned = sum((r.rebate for r in rows if r.user_id == a), D(0))
    assert body["balance"]["total_earned"]["text"] == money(earned, locale)
    assert {card["id"] for card in body["exchanges"]} == {"okx", "bybit", "mexc"}
    assert all(card["sync_text"] for card in body["exchanges"])


async def test_a_bad_period_or_theme_is_a_400_naming_it(
    client: TestClient, booked: dict[str, object]
) -> None:
    a, _ = _trader(booked)
    for path, field in (("/api/dashboard?period=1y", "period"),
                        ("/api/dashboard/chart?theme=pink", "theme")):
        status, body = await call(client, "GET", path, headers=signed(a))
        assert (status, body["error"]["field"]) == (400, field)
        assert "7d, 30d, 90d, all" in body["error"]["message"] or "light, dark" in (
            body["error"]["message"])


@pytest.mark.parametrize("locale, words", [("en", "Rebate, USDT"), ("ru", "Ребейт, USDT")])
async def test_the_chart_is_an_svg_of_the_period_in_the_readers_words(
    client: TestClient, booked: dict[str, object], locale: str, words: str
) -> None:
    a, _ = _trader(booked)
    response = await client.get("/api/dashboard/chart?period=30d&theme=dark",
                                headers=signed(a, locale))
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    svg = await response.read()
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    text = svg.decode()
    assert words in text
    # Nothing loaded from elsewhere (pygal's default would fetch its tooltip script).
    assert not re.search(r"<script[^>]*\bsrc=", text) and "kozea.github.io" not in text
    # A bar per day and series: 30 days, two series (rebate; volume on its right axis).
    bars = root.findall(".//{http://www.w3.org/2000/svg}rect[@class='rect reactive tooltip-"
                        "trigger']")
    assert len(bars) == 60


async def test_an_empty_period_charts_as_a_sentence(client: TestClient, booked: dict[str,
                                                     object]) -> None:
    newcomer, _ = await make_trader("okx")
    response = await client.get("/api/dashboard/chart", headers=signed(newcomer))
    assert response.status == 200
    assert "No rebates in this period yet" in (await response.read()).decode()


def _filtered(rows: list[Row], user_id: int, exchange: str | None, start: Any,
              end: Any) -> list[Row]:
    return [r for r in rows if r.user_id == user_id and exchange in (None, r.exchange_id)
            and start <= r.day <= end]


async def test_history_filters_pages_and_the_csv_of_what_is_shown(
    client: TestClient, booked: dict[str, object]
) -> None:
    a, rows = _trader(booked)
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=10)
    query = f"exchange=okx&from={start.isoformat()}&to={end.isoformat()}"
    shown: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        status, body = await call(client, "GET", f"/api/history?{query}&page={page}"
                                  "&page_size=7", route="/api/history", headers=signed(a))
        assert status == 200, body
        assert body["filters"] == {"exchange": "okx", "from": start.isoformat(),
                                   "to": end.isoformat()}
        shown += body["lines"]
        page, pages = page + 1, body["pages"]
    mine = _filtered(rows, a, "okx", start, end)
    # One line per day (spot and futures together), newest first, each day's rebate summed.
    days = sorted({r.day for r in mine}, reverse=True)
    assert [line["day"] for line in shown] == [d.isoformat() for d in days]
    for line, day in zip(shown, days, strict=True):
        assert D(line["rebate"]["amount"]) == sum((r.rebate for r in mine if r.day == day),
                                                  D(0))
    assert D(body["totals"]["rebate"]["amount"]) == sum((r.rebate for r in mine), D(0))

    response = await client.get(f"/api/history.csv?{query}", headers=signed(a, "ru"))
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert f'filename="rebates-okx-{start.isoformat()}-{end.isoformat()}.csv"' in (
        response.headers["Content-Disposition"])
    text = (await response.read()).decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0][0] == "День (UTC)" and table[0][6] == "Ребейт, USDT"
    assert [(r[0], r[6]) for r in table[1:]] == [
        (line["day"], line["rebate"]["amount"]) for line in shown]
    assert sum((D(r[6]) for r in table[1:]), D(0)) == D(body["totals"]["rebate"]["amount"])


async def test_bad_history_filters_are_400s_naming_the_field(
    client: TestClient, booked: dict[str, object]
) -> None:
    a, _ = _trader(booked)
    for query, code, field in (("from=2026-13-01", "bad_date", "from"),
                               ("to=yesterday", "bad_date", "to"),
                               ("from=2026-11-10&to=2026-11-01", "bad_range", "from"),
                               ("exchange=nasdaq", "unknown_exchange", "exchange"),
                               ("exchange=" + "x" * 300, "unknown_exchange", "exchange")):
        for path in ("/api/history", "/api/history.csv"):
            response = await client.get(f"{path}?{query}", headers=signed(a))
            body = await response.json()
            assert (response.status, body["error"]["code"], body["error"]["field"]) == (
                400, code, field), (path, query)
            assert body["error"]["message"]
