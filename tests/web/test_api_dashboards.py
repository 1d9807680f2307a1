"""The dashboards in the admin API (issue 14, seed 000): worded in the reader's language, every
answer inside its OpenAPI schema, the payout one for finance and admins only (the role matrix
in test_api_admin.py covers every role)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from services.i18n import Catalog
from services.models import Role, User, Withdrawal
from services.rebates import RebateEngine
from tests.clock import today
from tests.ledger.helpers import make_trader, next_id, put_record
from tests.support.api_app import auth, build_app, call

D = Decimal
ADMIN = 950


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services,  # type: ignore[no-untyped-def]
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    await User.create(id=ADMIN, first_name="Boss", role=Role.ADMIN, locale="ru")
    app = build_app(services, i18n, redis, redis_prefix)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_the_executive_dashboard_in_russian(client: TestClient) -> None:
    _, uid = await make_trader("okx")
    await put_record("okx", uid, today() - timedelta(days=2), commission=D("12.5"),
                     volume=D(12000), fee=D(25))
    await RebateEngine().accrue_all()
    status, board = await call(client, "GET", "/api/admin/dashboards/executive?period=7d",
                               "/api/admin/dashboards/executive", headers=auth(ADMIN))
    assert status == 200, board
    assert board["volume"]["value"] == {"amount": "12000", "text": "12\u00a0000,00"}
    assert board["revenue"]["value"]["amount"] == "5"  # our 40 % of 12.5
    assert board["traders"] == {"count": 1, "text": "1"}
    assert [line["id"] for line in board["by_exchange"]] == ["okx"]
    assert board["by_exchange"][0]["share"] == {"percent": "100", "text": "100%"}
    assert len(board["days"]) == 7


async def test_the_payout_dashboard_in_russian(client: TestClient) -> None:
    for status, amount in (("awaiting_approval", "1500.25"), ("completed", "20")):
        made = await Withdrawal.create(
            user_id=1, method="onchain", status=status, amount=D(amount), fee=D(1),
            net_amount=D(amount) - 1, network_id="USDT-TRC20", exchange_id="okx",
            client_id=f"cr{next_id()}",
            completed_at=datetime.now(UTC) if status == "completed" else None)
        assert made.id
    status, board = await call(client, "GET", "/api/admin/dashboards/payouts",
                               "/api/admin/dashboards/payouts", headers=auth(ADMIN))
    assert status == 200, board
    assert board["period"] == "7d"
    assert board["pending_amount"] == {"amount": "1500.25", "text": "1\u00a0500,25"}
    assert board["now"]["completed"]["count"] == 1
    assert board["now"]["success"] == {"percent": "100", "text": "100%"}
    assert [(way["way"], way["label"]) for way in board["ways"]] == [
        ("USDT-TRC20", "USDT-TRC20")]
    assert board["oldest_awaiting"]["text"].endswith("UTC")


async def test_the_product_dashboard_words_its_steps(client: TestClient) -> None:
    await make_trader("okx")
    status, board = await call(client, "GET", "/api/admin/dashboards/product?period=90d",
                               "/api/admin/dashboards/product", headers=auth(ADMIN))
    assert status == 200, board
    assert [step["label"] for step in board["funnel"]] == [
        "Зарегистрировались", "Открыли ссылку биржи", "Привязали UID", "Торговали"]
    assert board["funnel"][0]["count"]["count"] == 1
    # make_trader links a UID without a tracked link: the steps are shares of the signups.
    assert board["funnel"][1]["conversion"]["percent"] == "0"
    assert board["funnel"][2]["conversion"]["percent"] == "100"
    assert len(board["cohorts"]) == 4 and len(board["first_trade"]) == 5


@pytest.mark.parametrize("tab", ["executive", "product", "payouts"])
async def test_a_bad_period_is_a_400_naming_it(client: TestClient, tab: str) -> None:
    status, answer = await call(client, "GET", f"/api/admin/dashboards/{tab}?period=all",
                                f"/api/admin/dashboards/{tab}", headers=auth(ADMIN))
    assert status == 400
    assert (answer["error"]["code"], answer["error"]["field"]) == ("bad_period", "period")
    assert "7d, 30d, 90d" in answer["error"]["message"]


async def test_the_exchange_dashboard_in_russian(client: TestClient) -> None:
    _, uid = await make_trader("okx")
    await put_record("okx", uid, today() - timedelta(days=1), commission=D("2500"),
                     volume=D(1_000_000), fee=D(5000))
    await RebateEngine().accrue_all()
    status, board = await call(client, "GET", "/api/admin/dashboards/exchanges",
                               "/api/admin/dashboards/exchanges", headers=auth(ADMIN))
    assert status == 200, board
    okx = next(line for line in board["exchanges"] if line["id"] == "okx")
    assert okx["volume"] == {"amount": "1000000", "text": "1\u00a0000\u00a0000,00"}
    assert okx["revenue"]["value"]["text"] == "1\u00a0000,00"  # our 40 % of 2 500
    assert okx["traders"]["count"] == 1
    assert okx["status_text"] and okx["sync_text"]
    assert board["revenue"]["amount"] == "1000"
