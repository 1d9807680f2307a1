"""The payout networks and thresholds through the admin API, on real PostgreSQL and Redis: each
rule between the fields refuses a bad change (a 4xx in the reader's language naming the field,
nothing written, nothing audited), a good change is audited with the row before and after, and
it applies to the very next quote and request (PayoutConfig reads the rows every time: there
is no cache to go stale, in this process or another)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from services.i18n import Catalog
from services.models import AuditEntry, PayoutMethod, PayoutNetwork, Role, WithdrawalStatus
from services.payouts.config import PayoutConfig
from services.payouts.requests import Destination
from services.payouts.settings_admin import PayoutSettingsAdmin
from tests.payouts.helpers import TRON, funded_trader, ready_address, staff, withdrawals
from tests.support.api_app import auth, build_app, call

D = Decimal
NETWORK = "/api/admin/payouts/networks/{id}"
SETTINGS = "/api/admin/payouts/settings"
_keys = iter(range(10_000, 99_999))


@pytest.fixture
async def client(db: str, redis: Any, redis_prefix: str, services: Services,
                 i18n: Catalog) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_app(services, i18n, redis, redis_prefix))) as test:
        yield test


async def patch(client: TestClient, who: int, path: str, body: Any,
                lang: str = "en") -> tuple[int, Any]:
    route = NETWORK if "/networks/" in path else SETTINGS
    return await call(client, "PATCH", path, route, json=body, headers={
        **auth(who, language=lang), "Idempotency-Key": f"settings-{next(_keys)}"})


async def test_the_configuration_as_the_screen_reads_it(client: TestClient) -> None:
    admin, finance = await staff(Role.ADMIN), await staff()
    status, body = await call(client, "GET", SETTINGS, headers=auth(admin))
    assert status == 200, body
    assert body["can_edit"] is True
    networks = {n["id"]: n for n in body["networks"]}
    assert set(networks) == {"USDT-TRC20", "USDT-BEP20", "USDT-ERC20", "BTC"}  # off ones too
    erc = networks["USDT-ERC20"]
    assert (erc["min_amount"], erc["fee_percent"]) == (
        {"amount": "50", "text": "50.00"}, {"amount": "0.001", "text": "0.1%"})
    assert networks["BTC"]["enabled"] is False
    assert body["settings"]["dual_approval_threshold"]["text"] == "5,000.00"
    status, body = await call(client, "GET", SETTINGS, headers=auth(finance, language="ru"))
    assert body["can_edit"] is False  # finance reads, admins change
    assert body["settings"]["dual_approval_threshold"]["text"] == "5\u00a0000,00"


@pytest.mark.parametrize("change, code, field", [
    ({"min_amount": "20000"}, "min_above_max", "min_amount"),
    ({"min_amount": "0"}, "min_positive", "min_amount"),
    ({"fee_min": "25"}, "fee_floor_above_cap", "fee_min"),
    ({"fee_percent": "1"}, "percent_range", "fee_percent"),
    ({"fee_percent": "0.0000001"}, "too_many_decimals", "fee_percent"),
    ({"limit_24h": "1.000000001"}, "too_many_decimals", "limit_24h"),
    ({"limit_24h": "30000"}, "limit_24h_above_72h", "limit_24h"),
    ({"limit_72h": "-1"}, "negative", "limit_72h"),
    ({"max_amount": 10.5}, "bad_number", "max_amount"),  # a JSON float: not exact
    ({"max_amount": "1e3"}, "bad_number", "max_amount"),
    ({"max_amount": "ten"}, "bad_number", "max_amount"),
    ({"max_amount": "NaN"}, "bad_number", "max_amount"),
    ({"max_amount": "1" + "0" * 13}, "too_large", "max_amount"),
    ({"fee_min": "60", "fee_max": "60"}, "fee_eats_minimum", "fee_min"),
    ({"enabled": "yes"}, "bad_flag", "enabled"),
    ({"explorer_tx_url": "https://etherscan.io/tx/"}, "explorer_placeholder", "explorer_tx_url"),
    ({"explorer_tx_url": "https://x.io/{tx}/{tx}"}, "explorer_placeholder", "explorer_tx_url"),
    ({"explorer_tx_url": "https://x.io/{hash}{tx}"}, "explorer_placeholder", "explorer_tx_url"),
    ({"explorer_tx_url": "http://etherscan.io/tx/{tx}"}, "explorer_https", "explorer_tx_url"),
    ({"explorer_tx_url": "https:///tx/{tx}"}, "explorer_https", "explorer_tx_url"),
    ({"explorer_tx_url": "https://a.io/tx/ {tx}"}, "bad_explorer", "explorer_tx_url"),
    ({"payout_exchange_id": "binance"}, "unknown_field", "payout_exchange_id"),
    ({}, "nothing_to_change", None),
    ({"min_amount": "50"}, "unchanged", None),
])
async def test_a_bad_network_change_is_refused_and_changes_nothing(
        client: TestClient, i18n: Catalog, change: dict[str, Any], code: str,
        field: str | None) -> None:
    admin = await staff(Role.ADMIN)
    before = await PayoutConfig().network("USDT-ERC20")
    for lang in ("en", "ru"):
        status, body = await patch(client, admin, NETWORK.format(id="USDT-ERC20"), change, lang)
        assert 400 <= status < 500 and body["error"]["code"] == code, body
        assert body["error"]["field"] == field
        message = body["error"]["message"]
        assert message and "{" not in message.replace("{tx}", "")
        if field and code != "unknown_field":
            label = i18n.translator(lang)(f"app.admin.payout_settings.field.{field}")
            assert label in message or code in ("min_above_max", "min_positive",
                                                "fee_floor_above_cap", "fee_eats_minimum",
                                                "limit_24h_above_72h"), message
    assert await PayoutConfig().network("USDT-ERC20") == before
    assert not await AuditEntry.filter(action="payout.network_change").exists()


async def test_an_unknown_network_and_a_finance_person_are_refused(
        client: TestClient) -> None:
    admin, finance = await staff(Role.ADMIN), await staff()
    status, body = await patch(client, admin, NETWORK.format(id="DOGE"), {"min_amount": "1"})
    assert (status, body["error"]["code"]) == (404, "unknown_network")
    status, body = await patch(client, admin, NETWORK.format(id="a%20b"), {"min_amount": "1"})
    assert status == 404
    status, body = await patch(client, finance, SETTINGS, {"approval_threshold": "100"})
    assert (status, body["error"]["code"]) == (403, "not_allowed")
    assert await AuditEntry.filter(actor_id=finance, action="admin.refused").count() == 1


async def test_a_network_change_is_audited_and_applies_to_the_next_quote(
        client: TestClient) -> None:
    admin = await staff(Role.ADMIN)
    trader, _ = await funded_trader(D(300))
    address = await ready_address(withdrawals(), trader, "USDT-TRC20", TRON)
    quote_body = {"method": "onchain", "network_id": "USDT-TRC20", "address_id": address.id,
                  "amount": "100"}
    status, quote = await call(client, "POST", "/api/withdraw/quote", json=quote_body,
                               headers=auth(trader))
    assert status == 200 and quote["fee"]["amount"] == "1", quote  # the seeded 1 USDT
    status, body = await patch(client, admin, NETWORK.format(id="USDT-TRC20"), {
        "fee_percent": "0.025", "fee_min": "2", "fee_max": "2.2", "min_amount": "15",
        "explorer_tx_url": "https://tronscan.io/#/transaction/{tx}"})
    assert status == 200, body
    assert body["message"] == "Saved: USDT · Tron (TRC20). New quotes and requests follow it."
    shown = next(n for n in body["networks"] if n["id"] == "USDT-TRC20")
    assert shown["fee_percent"] == {"amount": "0.025", "text": "2.5%"}
    status, quote = await call(client, "POST", "/api/withdraw/quote", json=quote_body,
                               headers=auth(trader))
    assert quote["fee"]["amount"] == "2.2" and quote["net"]["amount"] == "97.8", quote  # capped
    status, quote = await call(client, "POST", "/api/withdraw/quote",
                               json={**quote_body, "amount": "12"}, headers=auth(trader))
    assert status == 422, quote  # below the new minimum of 15
    [entry] = await AuditEntry.filter(action="payout.network_change")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        admin, "payout_network", "USDT-TRC20")
    assert entry.before is not None and entry.after is not None
    assert (entry.before["fee_percent"], entry.before["fee_max"], entry.before["min_amount"]) \
        == ("0.000000", "1.00000000", "10.00000000")
    assert (entry.after["fee_percent"], entry.after["fee_max"], entry.after["min_amount"],
            entry.after["explorer_tx_url"]) == (
        "0.025000", "2.20000000", "15.00000000", "https://tronscan.io/#/transaction/{tx}")
    row = await PayoutNetwork.get(id="USDT-TRC20")
    assert (row.fee_percent, row.fee_min, row.fee_max) == (D("0.025"), D(2), D("2.2"))

    # Off: no longer offered, and a request to it is refused.
    status, body = await patch(client, admin, NETWORK.format(id="USDT-TRC20"),
                               {"enabled": False})
    assert status == 200
    status, options = await call(client, "GET", "/api/withdraw/options", headers=auth(trader))
    assert "USDT-TRC20" not in [n["id"] for n in options["networks"]]


async def test_thresholds_are_checked_and_apply_to_the_next_request(
        client: TestClient) -> None:
    admin = await staff(Role.ADMIN)
    for change, code, field in (
            ({"dual_approval_threshold": "400"}, "dual_below_single", "dual_approval_threshold"),
            ({"address_cooldown_hours": 721}, "cooldown_range", "address_cooldown_hours"),
            ({"address_cooldown_hours": "24"}, "cooldown_range", "address_cooldown_hours"),
            ({"internal_limit_24h": "30000"}, "limit_24h_above_72h", "internal_limit_24h"),
            ({"admins_can_approve": 1}, "bad_flag", "admins_can_approve")):
        status, body = await patch(client, admin, SETTINGS, change)
        assert (status, body["error"]["code"], body["error"]["field"]) == (422, code, field)
    assert not await AuditEntry.filter(action="payout.settings_change").exists()

    trader, _ = await funded_trader(D(1000))
    service = withdrawals()
    internal = Destination(PayoutMethod.INTERNAL, exchange_id="okx")
    below = await service.create(trader, internal, D(300))  # under the seeded 500
    assert below.status is WithdrawalStatus.APPROVED and below.approvals_needed == 0
    status, body = await patch(client, admin, SETTINGS, {
        "approval_threshold": "200", "dual_approval_threshold": "250",
        "address_cooldown_hours": 48})
    assert status == 200, body
    assert body["settings"]["approval_threshold"] == {"amount": "200", "text": "200.00"}
    after = await service.create(trader, internal, D(300))
    assert after.status is WithdrawalStatus.AWAITING_APPROVAL and after.approvals_needed == 2
    [entry] = await AuditEntry.filter(action="payout.settings_change")
    assert entry.before and entry.after
    assert (entry.before["approval_threshold"], entry.after["approval_threshold"]) == (
        "500.00000000", "200.00000000")
    assert (entry.before["address_cooldown_hours"], entry.after["address_cooldown_hours"]) \
        == (24, 48)
    assert (await PayoutConfig().settings()).address_cooldown_hours == 48


async def test_two_admins_saving_at_once_are_two_changes_each_audited_truly(db: str) -> None:
    one, two = await staff(Role.ADMIN), await staff(Role.ADMIN)
    admin = PayoutSettingsAdmin()
    await asyncio.gather(admin.change_network(one, "USDT-BEP20", {"min_amount": "12"}),
                         admin.change_network(two, "USDT-BEP20", {"fee_max": "0.7"}))
    row = await PayoutNetwork.get(id="USDT-BEP20")
    assert (row.min_amount, row.fee_max) == (D(12), D("0.7"))  # neither change lost
    first, second = await AuditEntry.filter(action="payout.network_change").order_by("id")
    assert first.after is not None and second.before is not None
    assert second.before == first.after  # the later one saw the earlier one's row
