"""The web process's HTTP side: /healthz, the tracked redirect, /metrics, the webhook (secret
checked, updates de-duplicated by update_id)."""

from __future__ import annotations

import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from services.health import STALE_AFTER_SECONDS, heartbeat_key, write_heartbeat
from services.models import Event
from tests.support.mocked_bot import MockedBot
from tests.support.updates import message_update, tg_user
from webapp.app import WEBHOOK_PATH, WebDeps, create_web_app

SECRET = "webhook-secret-123"


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services, dispatcher, bot: MockedBot):  # type: ignore[no-untyped-def]
    app = create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                 redis_prefix=redis_prefix, bot=bot, dispatcher=dispatcher,
                                 webhook_secret=SECRET))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_healthz_reports_postgres_redis_and_the_worker(
    client: TestClient, redis, redis_prefix: str  # type: ignore[no-untyped-def]
) -> None:
    response = await client.get("/healthz")  # no worker has beaten yet: degraded, still 200
    assert response.status == 200
    assert await response.json() == {
        "status": "degraded", "postgres": "ok", "redis": "ok",
        "worker": {"status": "stale", "heartbeat_age_seconds": None},
    }
    await write_heartbeat(redis, redis_prefix)
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["worker"]["status"] == "ok"
    assert 0 <= body["worker"]["heartbeat_age_seconds"] < 5
    await redis.set(heartbeat_key(redis_prefix), f"{time.time() - STALE_AFTER_SECONDS - 5}")
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "degraded" and body["worker"]["status"] == "stale"
    assert body["worker"]["heartbeat_age_seconds"] > STALE_AFTER_SECONDS
    metrics = await (await client.get("/metrics")).text()
    age = float(next(line.split()[1] for line in metrics.splitlines()
                     if line.startswith("worker_heartbeat_age_seconds ")))
    assert age > STALE_AFTER_SECONDS


async def test_tracked_redirect_records_the_click(client: TestClient, services: Services) -> None:
    url = services.referrals.tracked_url("okx", 123456)
    path = url[url.index("/r/"):]
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "https://www.okx.com/join/CRYPTOREBATE"
    await services.events.flush()
    event = await Event.get(name="link_opened")
    assert event.user_id == 123456 and event.properties["exchange"] == "okx"


@pytest.mark.parametrize("path", ["/r/okx-2n9c-000000000000", "/r/nonsense", "/r/a-b-c-d"])
async def test_forged_or_broken_codes_are_404(
    client: TestClient, services: Services, path: str
) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 404
    assert await services.events.count("link_opened") == 0


async def test_metrics_are_exposed(client: TestClient) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert "bot_handler_duration_seconds" in text
    response = await client.get("/metrics")
    assert 'route="/metrics"' in await response.text()


def _latency_count(metrics: str, route: str, status: str) -> float:
    series = (f'http_request_duration_seconds_count{{method="GET",route="{route}",'
              f'status="{status}"}}')
    return sum(float(line.split()[1]) for line in metrics.splitlines()
               if line.startswith(series + " "))


async def test_every_answer_is_counted_in_its_routes_series(client: TestClient) -> None:
    before = await (await client.get("/metrics")).text()
    for _ in range(3):
        assert (await client.get("/r/not-a-code")).status == 404
    after = await (await client.get("/metrics")).text()
    assert _latency_count(after, "/r/{code}", "404") == _latency_count(
        before, "/r/{code}", "404") + 3
    assert _latency_count(after, "/metrics", "200") >= 1


async def test_webhook_requires_the_secret(client: TestClient, bot: MockedBot) -> None:
    update = message_update(tg_user(70001), "/start")
    body = update.model_dump(mode="json", exclude_none=True)
    response = await client.post(WEBHOOK_PATH, json=body)
    assert response.status == 403
    response = await client.post(WEBHOOK_PATH, json=body,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
    assert response.status == 403
    assert bot.session.calls == []


async def test_webhook_handles_each_update_once(
    client: TestClient, bot: MockedBot, services: Services
) -> None:
    update = message_update(tg_user(70002), "/start src-ad_spring")
    body = update.model_dump(mode="json", exclude_none=True)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for _ in range(3):  # Telegram re-sends when it did not see a 200 in time
        response = await client.post(WEBHOOK_PATH, json=body, headers=headers)
        assert response.status == 200
    sent = [call for call in bot.session.calls if type(call).__name__ == "SendMessage"]
    assert len(sent) == 1 and "Welcome" in sent[0].text
    assert await services.events.count("command_start", user_id=70002) == 1


async def test_webhook_rejects_malformed_updates(client: TestClient) -> None:
    response = await client.post(WEBHOOK_PATH, data=b"{not json",
                                 headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                          "Content-Type": "application/json"})
    assert response.status == 400
