"""The webhook and the dispatcher when a store fails while an update is handled (a store error
injected into the first read of the user), and hostile webhook bodies.

The real outages (stores stopped under running processes) are tests/e2e/test_store_outages.py;
these pin the rules: the sender is told once, in their language; a webhook delivery that failed
gets a 503 and no de-duplication marker, so Telegram's re-delivery is handled, exactly once; a
polled update is retried in-process; a handler's bug is not re-delivered forever."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiogram import Dispatcher
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from handlers import outage
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user
from webapp.app import WEBHOOK_PATH, WebDeps, create_web_app

SECRET = "webhook-secret-outage"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
UNAVAILABLE_EN = "temporarily unavailable"
UNAVAILABLE_RU = "временно недоступна"


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services, dispatcher, bot: MockedBot):  # type: ignore[no-untyped-def]
    app = create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                 redis_prefix=redis_prefix, bot=bot, dispatcher=dispatcher,
                                 webhook_secret=SECRET))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def fail_first_reads(monkeypatch: pytest.MonkeyPatch, services: Services, times: int,
                     error: Exception | None = None) -> list[int]:
    """The next ``times`` user reads fail as if PostgreSQL had gone away."""
    real: Callable[[int], Awaitable[Any]] = services.users.get
    failed: list[int] = []

    async def flaky(user_id: int) -> Any:
        if len(failed) < times:
            failed.append(user_id)
            raise error or asyncpg.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation")
        return await real(user_id)

    monkeypatch.setattr(services.users, "get", flaky)
    return failed


def texts(bot: MockedBot) -> list[str]:
    return [call.text for call in bot.session.calls if type(call).__name__ == "SendMessage"]


async def test_a_failed_delivery_is_503_and_its_redelivery_is_handled_once(
    client: TestClient, bot: MockedBot, services: Services, monkeypatch: pytest.MonkeyPatch,
    redis, redis_prefix: str,  # type: ignore[no-untyped-def]
) -> None:
    update = message_update(tg_user(71001), "/start")
    body = update.model_dump(mode="json", exclude_none=True)
    fail_first_reads(monkeypatch, services, times=2)
    for _ in range(2):  # the outage lasts two deliveries: one notice, no marker
        response = await client.post(WEBHOOK_PATH, json=body, headers=HEADERS)
        assert response.status == 503
    assert await redis.get(f"{redis_prefix}:update:{update.update_id}") is None
    assert len(texts(bot)) == 1 and UNAVAILABLE_EN in texts(bot)[0]
    for _ in range(2):  # back: the re-delivery is handled, a duplicate after it is not
        response = await client.post(WEBHOOK_PATH, json=body, headers=HEADERS)
        assert response.status == 200
    welcomes = [text for text in texts(bot) if "Welcome" in text]
    assert len(welcomes) == 1
    assert await redis.get(f"{redis_prefix}:update:{update.update_id}") == b"done"


async def test_a_bug_is_not_redelivered_forever(
    client: TestClient, bot: MockedBot, services: Services, monkeypatch: pytest.MonkeyPatch,
) -> None:
    update = message_update(tg_user(71002), "/start")
    body = update.model_dump(mode="json", exclude_none=True)
    fail_first_reads(monkeypatch, services, times=1, error=KeyError("a bug"))
    response = await client.post(WEBHOOK_PATH, json=body, headers=HEADERS)
    assert response.status == 200  # logged; a re-delivery would only fail again
    assert not any(UNAVAILABLE_EN in text for text in texts(bot))
    response = await client.post(WEBHOOK_PATH, json=body, headers=HEADERS)
    assert response.status == 200 and texts(bot) == []


async def test_a_polled_update_is_retried_until_the_store_is_back(
    db: str, dispatcher: Dispatcher, bot: MockedBot, services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outage, "RETRY_FIRST_DELAY", 0.05)
    failed = fail_first_reads(monkeypatch, services, times=3)
    update = message_update(tg_user(71003, "ru", "Борис"), "/start")
    await dispatcher.feed_update(bot, update)  # what long polling does: the error is absorbed
    responder: outage.OutageResponder = dispatcher.workflow_data["outage_responder"]
    for _ in range(100):
        if responder.retrying == 0 and len(failed) == 3:
            break
        await asyncio.sleep(0.05)
    sent = texts(bot)
    assert len(failed) == 3 and responder.retrying == 0
    assert sum(UNAVAILABLE_RU in text for text in sent) == 1  # told once, in Russian
    assert len(sent) == 2 and "Добро пожаловать" in sent[1]


async def test_a_button_press_during_an_outage_gets_an_alert(
    db: str, dispatcher: Dispatcher, bot: MockedBot, services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outage, "RETRY_FOR", 0.0)  # not retried: only the notice is checked
    fail_first_reads(monkeypatch, services, times=1)
    await dispatcher.feed_update(bot, callback_update(tg_user(71004), "menu:main"))
    answers = [call for call in bot.session.calls
               if type(call).__name__ == "AnswerCallbackQuery"]
    assert len(answers) == 1 and answers[0].show_alert
    assert UNAVAILABLE_EN in (answers[0].text or "")


async def test_group_chatter_during_an_outage_gets_no_notice(
    db: str, dispatcher: Dispatcher, bot: MockedBot, services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiogram.types import Chat

    monkeypatch.setattr(outage, "RETRY_FOR", 0.0)
    fail_first_reads(monkeypatch, services, times=2)
    group = Chat(id=-100500, type="supergroup", title="Admins")
    await dispatcher.feed_update(bot, message_update(tg_user(900), "good morning", group))
    assert texts(bot) == []
    await dispatcher.feed_update(bot, message_update(tg_user(900), "/status", group))
    assert len(texts(bot)) == 1 and UNAVAILABLE_EN in texts(bot)[0]


def nested(depth: int) -> bytes:
    return b'{"update_id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(("body", "status"), [
    (nested(100_000), 400),  # json.loads would recurse out of its stack: a 500 before
    (nested(40), 400),  # parses, but no update nests like this
    (b"[1, 2, 3]", 400),
    (b'"text"', 400),
    (b'{"update_id": "not a number"}', 400),
    (b"\xff\xfe not utf-8", 400),
    (json.dumps({"update_id": 5, "pad": "x" * 2_000_000}).encode(), 413),
])
async def test_hostile_webhook_bodies_are_4xx(
    client: TestClient, bot: MockedBot, body: bytes, status: int,
) -> None:
    response = await client.post(WEBHOOK_PATH, data=io.BytesIO(body),
                                 headers={**HEADERS, "Content-Type": "application/json"})
    assert response.status == status
    assert bot.session.calls == []


async def test_a_real_update_is_far_below_the_depth_limit(client: TestClient) -> None:
    update = message_update(tg_user(71005), "/start")
    body = update.model_dump(mode="json", exclude_none=True)
    response = await client.post(WEBHOOK_PATH, json=body, headers=HEADERS)
    assert response.status == 200


async def test_a_tracked_link_during_an_outage_is_503_not_500(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def down(*args: Any, **kwargs: Any) -> Any:
        raise asyncpg.exceptions.AdminShutdownError("terminating connection")

    monkeypatch.setattr(services.referrals, "open", down)
    url = services.referrals.tracked_url("okx", 123456)
    response = await client.get(url[url.index("/r/"):], allow_redirects=False)
    assert response.status == 503 and response.headers["Retry-After"] == "30"
    assert "try again" in await response.text()
