"""The payout screens' API on real PostgreSQL and Redis: the queue shows each request as its
finance card does; decisions follow the finance chat's rules (a stale revision refused, a double
click and two people at once give one decision, never one's own request, two approvers above the
second threshold); after a decision in the screen the finance card is edited and an approved
request is paid by the engine through the job queue. (Who may call which route: the matrix in
test_api_admin.py.) Every answer is checked against the OpenAPI file."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from aiogram.methods import EditMessageText, SendMessage
from aiohttp.test_utils import TestClient, TestServer
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker, func

from bot.app import Services
from bot.payout_jobs import pay_withdrawal, post_cards
from bot.settings import Settings
from handlers.finance import refresh_card
from handlers.finance.cards import card_text
from services.i18n import Catalog
from services.jobs import enqueue_payout, queue_name
from services.models import (
    AuditEntry,
    PayoutMethod,
    Role,
    User,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalStatus,
)
from services.payouts.cards import card_view
from services.payouts.requests import Destination
from services.payouts.settings_admin import PayoutSettingsAdmin
from tests.conftest import TEST_REDIS_URL
from tests.payouts.helpers import TRON, funded_trader, ready_address, staff, withdrawals
from tests.payouts.test_engine import FakeExchange, engine_for
from tests.support.api_app import auth, build_app, call
from tests.support.mocked_bot import MockedBot
from webapp.api.common import plain
from webapp.api.deps import API

D = Decimal
INTERNAL = Destination(PayoutMethod.INTERNAL, exchange_id="okx")
DECIDE = "/api/admin/payouts/{id}/"


@pytest.fixture
def jobs() -> list[int]:
    return []


@pytest.fixture
async def client(db: str, redis: Any, redis_prefix: str, services: Services, i18n: Catalog,
                 bot: MockedBot, settings: Settings, jobs: list[int],
                 ) -> AsyncIterator[TestClient]:
    """The web app with the web process's wiring of the payout screens: the finance card
    edited through the (mocked) Bot API, payouts queued in the real Redis."""
    app = build_app(services, i18n, redis, redis_prefix)
    t = i18n.translator(settings.default_locale)
    arq = await create_pool(RedisSettings.from_dsn(TEST_REDIS_URL))

    async def queue_payout(withdrawal_id: int) -> None:
        jobs.append(withdrawal_id)
        await enqueue_payout(arq, redis_prefix, withdrawal_id)

    async def refresh(withdrawal_id: int) -> None:
        await refresh_card(bot, t, withdrawal_id)

    app[API] = dataclasses.replace(app[API], approvals=services.approvals,
                                   enqueue_payout=queue_payout, refresh_finance_card=refresh)
    try:
        async with TestClient(TestServer(app)) as test_client:
            yield test_client
    finally:
        await arq.delete(queue_name(redis_prefix))
        async for key in arq.scan_iter(match=f"arq:job:{redis_prefix}:*"):
            await arq.delete(key)
        await arq.aclose()


async def pending(amount: Decimal, *, onchain: bool = False) -> int:
    service = withdrawals()
    user_id, _ = await funded_trader(amount + 100)
    destination = INTERNAL
    if onchain:
        address = await ready_address(service, user_id, "USDT-TRC20", TRON)
        destination = Destination(PayoutMethod.ONCHAIN, "USDT-TRC20", address.id)
    made = await service.create(user_id, destination, amount)
    assert made.status is WithdrawalStatus.AWAITING_APPROVAL
    return made.id


async def decide(client: TestClient, who: int, withdrawal_id: int, action: str,
                 body: dict[str, Any], key: str) -> tuple[int, Any]:
    return await call(client, "POST", DECIDE.format(id=withdrawal_id) + action,
                      DECIDE + action, json=body,
                      headers={**auth(who), "Idempotency-Key": key})


async def test_the_queue_shows_what_the_finance_card_shows(
        client: TestClient, i18n: Catalog) -> None:
    onchain = await pending(D("800"), onchain=True)
    big = await pending(D("6000"))
    await Withdrawal.filter(id=big).update(status=WithdrawalStatus.ERROR,
                                           reason="Insufficient balance (58350)")
    paid = await pending(D("700"))
    await Withdrawal.filter(id=paid).update(status=WithdrawalStatus.COMPLETED)  # not queued
    finance = await staff()
    status, body = await call(client, "GET", "/api/admin/payouts/queue",
                              headers=auth(finance))
    assert status == 200, body
    assert [item["id"] for item in body["items"]] == [onchain, big] and body["total"] == 2
    t = i18n.translator("en")
    for item in body["items"]:
        view = await card_view(item["id"])
        assert view is not None
        card = plain(card_text(t, view)).splitlines()
        w = view.withdrawal
        assert (item["status"], item["revision"]) == (w.status.value, w.revision)
        assert card[0] == f"💸 Withdrawal #{w.id} · {item['status_text']}"
        assert f"Amount: {item['amount']['text']} USDT · fee {item['fee']['text']} · " \
               f"to send {item['net']['text']}" == card[1]
        assert item["destination_text"] == card[2]
        assert item["trader"]["history_text"] == card[4]
        assert item["trader"]["name"] == view.trader.person.name
        assert D(item["trader"]["earned"]["amount"]) == view.trader.earned
        assert [f["code"] for f in item["flags"]] == list(w.risk_flags)
        assert card[5] == "⚠️ Risk: " + ", ".join(f["text"] for f in item["flags"])
        assert item["approvals"]["text"] in card
        assert D(item["amount"]["amount"]) == w.amount and D(item["fee"]["amount"]) == w.fee
    first, second = body["items"]
    assert first["destination"] == TRON and first["destination_known"] is False
    assert "new address" in first["destination_text"]
    assert first["actions"] == {"approve": True, "reject": True, "retry": False, "paid": False}
    assert second["actions"] == {"approve": False, "reject": True, "retry": True, "paid": True}
    assert second["reason"] == "Insufficient balance (58350)"
    assert second["approvals"]["need"] == 2
    status, ru = await call(client, "GET", "/api/admin/payouts/queue",
                            headers=auth(finance, language="ru"))
    assert ru["items"][1]["amount"]["text"] == "6\u00a0000,00"  # the server's Russian
    assert ru["items"][1]["status_text"] == i18n.translator("ru")("finance.status.error")


async def test_a_stale_revision_is_refused_and_the_rest_happens_once(
        client: TestClient, redis: Any) -> None:
    withdrawal_id = await pending(D("800"))
    finance, other = await staff(), await staff()
    status, body = await decide(client, finance, withdrawal_id, "approve", {"revision": 2},
                                "stale-approve-1")
    assert (status, body["error"]["code"]) == (409, "stale"), body
    assert "changed since you opened it" in body["error"]["message"]
    assert (await Withdrawal.get(id=withdrawal_id)).status is WithdrawalStatus.AWAITING_APPROVAL
    # The same click twice (the answer lost): the first answer again, one decision.
    first = await decide(client, finance, withdrawal_id, "approve", {"revision": 1},
                         "approve-once-01")
    again = await decide(client, finance, withdrawal_id, "approve", {"revision": 1},
                         "approve-once-01")
    assert first == again and first[0] == 200 and first[1]["code"] == "approved", first
    assert first[1]["item"]["status"] == "approved"
    # A second click (a new key): refused, with who decided.
    status, body = await decide(client, other, withdrawal_id, "approve", {"revision": 1},
                                "approve-late-02")
    assert (status, body["error"]["code"]) == (409, "already_decided")
    assert body["error"]["message"] == (
        f"#{withdrawal_id} was decided already by finance: it is approved, being sent now.")
    assert await WithdrawalApproval.filter(withdrawal_id=withdrawal_id).count() == 1
    actions = await AuditEntry.filter(object_id=str(withdrawal_id)).order_by(
        "id").values_list("action", flat=True)
    assert actions == ["withdrawal.request", "withdrawal.approve_refused", "withdrawal.approve",
                       "withdrawal.approve_refused"]


async def test_two_finance_people_at_once_give_one_decision(client: TestClient) -> None:
    withdrawal_id = await pending(D("800"))
    people = [await staff() for _ in range(4)]
    answers = await asyncio.gather(*(
        decide(client, who, withdrawal_id, "approve", {"revision": 1}, f"race-{n}-approve")
        for n, who in enumerate(people)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409, 409, 409], answers
    assert await WithdrawalApproval.filter(withdrawal_id=withdrawal_id).count() == 1
    assert (await Withdrawal.get(id=withdrawal_id)).status is WithdrawalStatus.APPROVED


async def test_two_approvers_above_the_second_threshold_and_never_ones_own(
        client: TestClient, jobs: list[int]) -> None:
    withdrawal_id = await pending(D("6000"))
    requester = (await Withdrawal.get(id=withdrawal_id)).user_id
    await User.filter(id=requester).update(role=Role.FINANCE)  # finance asking for their own
    status, body = await decide(client, requester, withdrawal_id, "approve", {"revision": 1},
                                "own-approve-01")
    assert (status, body["error"]["code"]) == (409, "own_request"), body
    one, two = await staff(), await staff(Role.ADMIN)
    status, body = await decide(client, one, withdrawal_id, "approve", {"revision": 1},
                                "dual-first-01")
    assert (status, body["code"]) == (200, "approval_recorded")
    assert body["item"]["approvals"]["have"] == 1 and body["item"]["actions"]["approve"] is False
    assert jobs == []  # not paid on one approval
    status, body = await decide(client, one, withdrawal_id, "approve", {"revision": 1},
                                "dual-first-02")
    assert (status, body["error"]["code"]) == (409, "already_approved")
    status, body = await decide(client, two, withdrawal_id, "approve", {"revision": 1},
                                "dual-second-1")
    assert (status, body["code"]) == (200, "approved") and jobs == [withdrawal_id]


async def test_reject_needs_a_reason_and_paid_by_hand_a_real_hash(client: TestClient) -> None:
    withdrawal_id = await pending(D("800"))
    finance = await staff()
    status, body = await decide(client, finance, withdrawal_id, "reject",
                                {"revision": 1, "reason": "   "}, "reject-empty-1")
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "no_reason",
                                                                        "reason")
    status, body = await decide(client, finance, withdrawal_id, "reject",
                                {"revision": "1", "reason": "x"}, "reject-badrev-1")
    assert (status, body["error"]["field"]) == (422, "revision")
    status, body = await decide(client, finance, withdrawal_id, "reject",
                                {"revision": 1, "reason": "Address of a mixer"},
                                "reject-fine-01")
    assert (status, body["code"]) == (200, "rejected"), body
    row = await Withdrawal.get(id=withdrawal_id)
    assert (row.status, row.reason) == (WithdrawalStatus.REJECTED, "Address of a mixer")

    errored = await pending(D("800"))
    await Withdrawal.filter(id=errored).update(status=WithdrawalStatus.ERROR)
    status, body = await decide(client, finance, errored, "paid",
                                {"revision": 1, "tx_hash": "no!"}, "paid-bad-0001")
    assert (status, body["error"]["code"]) == (422, "no_tx_hash")
    status, body = await decide(client, finance, errored, "paid",
                                {"revision": 1, "tx_hash": "TRANSFER8800"}, "paid-good-001")
    assert (status, body["code"]) == (200, "paid_manually"), body
    assert (await Withdrawal.get(id=errored)).status is WithdrawalStatus.COMPLETED
    status, body = await decide(client, finance, 987654, "approve", {"revision": 1},
                                "missing-0001")
    assert status == 404


# arq 0.28's Worker.close calls redis-py's deprecated close().
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_a_decision_in_the_screen_edits_the_card_and_the_engine_pays_it(
        client: TestClient, bot: MockedBot, settings: Settings, services: Services,
        i18n: Catalog, redis_prefix: str, jobs: list[int]) -> None:
    withdrawal_id = await pending(D("800"), onchain=True)
    ctx: dict[str, Any] = {"settings": settings, "services": services, "i18n": i18n,
                           "bot": bot}
    assert await post_cards(ctx) == 1
    [card] = [c for c in bot.session.calls if isinstance(c, SendMessage)]
    message_id = (await Withdrawal.get(id=withdrawal_id)).card_message_id
    finance = await staff()
    await User.filter(id=finance).update(username="fiona")
    bot.session.clear()
    status, body = await decide(client, finance, withdrawal_id, "approve", {"revision": 1},
                                "card-approve-1")
    assert status == 200, body
    [edited] = [c for c in bot.session.calls if isinstance(c, EditMessageText)]
    assert edited.message_id == message_id and edited.chat_id == settings.finance_chat_id
    assert "approved" in edited.text and "Decided by @fiona" in edited.text
    assert edited.reply_markup is None  # no buttons left to click in the chat
    assert card.reply_markup is not None
    assert await post_cards(ctx) == 0  # the card shows this state already

    # Queued for payment as the chat does; a burst worker runs the job: the engine pays it.
    assert jobs == [withdrawal_id]
    exchange = FakeExchange()
    worker = Worker(functions=[func(pay_withdrawal, name="pay_withdrawal")],
                    queue_name=queue_name(redis_prefix),
                    redis_settings=RedisSettings.from_dsn(TEST_REDIS_URL), burst=True,
                    handle_signals=False, keep_result=0, poll_delay=0.05,
                    ctx={**ctx, "services": SimpleNamespace(payouts=engine_for(exchange))})
    try:
        await worker.async_run()
    finally:
        await worker.close()
    assert worker.jobs_complete == 1 and exchange.calls == 1
    paid = await Withdrawal.get(id=withdrawal_id)
    assert paid.status is WithdrawalStatus.SUBMITTED and paid.client_id in exchange.sent


async def test_admins_decide_only_while_the_settings_allow_it(client: TestClient) -> None:
    withdrawal_id = await pending(D("800"))
    admin = await staff(Role.ADMIN)
    await allow_admins(False)
    status, body = await call(client, "GET", "/api/admin/payouts/queue", headers=auth(admin))
    assert status == 200 and body["items"][0]["actions"] == {
        "approve": False, "reject": False, "retry": False, "paid": False}
    status, body = await decide(client, admin, withdrawal_id, "approve", {"revision": 1},
                                "admin-off-0001")
    assert (status, body["error"]["code"]) == (403, "not_allowed"), body
    assert await AuditEntry.filter(actor_id=admin, action="withdrawal.approve_refused").exists()
    await allow_admins(True)
    status, body = await decide(client, admin, withdrawal_id, "approve", {"revision": 1},
                                "admin-on-00001")
    assert (status, body["code"]) == (200, "approved")


async def allow_admins(allowed: bool) -> None:
    changer = await staff(Role.ADMIN)
    await PayoutSettingsAdmin().change_settings(changer, {"admins_can_approve": allowed})
