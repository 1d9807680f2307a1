"""Tracked-link codes from the URL are untrusted: every malformed one is "not found" (None in the
service, 404 over HTTP), never an exception (a 500)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services
from services.referrals import MAX_CODE_LENGTH, ReferralService
from tests.support.mocked_bot import MockedBot
from webapp.app import WebDeps, create_web_app

BIGGEST_USER_ID = 2**63 - 1  # users.id is a PostgreSQL bigint

MALFORMED = [
    "okx-abc-ÿÿÿ",  # a non-ASCII signature: hmac.compare_digest raised TypeError on str
    "okx-abc-ÿÿÿÿÿÿÿÿÿÿÿÿ",  # … of the right length
    "okx-2n9c-00000000000ÿ",
    "окх-2n9c-000000000000",  # non-ASCII exchange id
    "okx-２n9c-000000000000",  # a full-width digit: int(…, 36) would accept it
    "okx-2n9c-000000000000" + "0" * 10_000,  # 10 kB
    "o" * 10_000,
    "",
    "--",
    "-2n9c-000000000000",  # empty parts
    "okx--000000000000",
    "okx-2n9c-",
    "okx-2n9c-000000000000-",
    "okx-2N9C-000000000000",  # not what code() produces: upper case
    "okx-02n9c-000000000000",  # a leading zero (one id, one code)
    "okx- 2n9c-000000000000",  # int(" 2n9c", 36) would accept the blank
    "okx-2_n9c-000000000000",  # … and the underscore
    "okx-+2n9c-000000000000",
    "okx-zzzzzzzzzzzzzz-000000000000",  # 14 base36 digits: more than any bigint
    "okx-2n9c-00000000000",  # signature too short / too long / not hex
    "okx-2n9c-0000000000000",
    "okx-2n9c-00000000000g",
    "okx-2n9c-00000000000A",
    "averyveryverylongexchange-2n9c-000000000000",
    "okx-2n9c-000000000000\n",
    "okx-2n9c-000000000000\x00",
]


@pytest.mark.parametrize("code", MALFORMED)
async def test_a_malformed_code_is_none(services: Services, code: str) -> None:
    assert await services.referrals.open(code) is None


def test_the_longest_code_is_within_the_limit(services: Services) -> None:
    code = services.referrals.code("x" * 16, BIGGEST_USER_ID)
    assert len(code) == MAX_CODE_LENGTH


async def test_a_forged_code_of_the_right_shape_is_none(services: Services) -> None:
    real = services.referrals.code("okx", 123456)
    forged = real[:-1] + ("0" if real[-1] != "0" else "1")
    assert await services.referrals.open(forged) is None
    other_key = ReferralService(b"another-secret", "http://x", services.exchanges, services.events)
    assert await services.referrals.open(other_key.code("okx", 123456)) is None


async def test_a_valid_code_of_the_biggest_user_id_opens(db: str, services: Services) -> None:
    redirect = await services.referrals.open(services.referrals.code("okx", BIGGEST_USER_ID))
    assert redirect is not None
    assert redirect.user_id == BIGGEST_USER_ID and redirect.exchange_id == "okx"
    await services.events.flush()


@pytest.fixture
async def client(db, redis, redis_prefix, services: Services, dispatcher, bot: MockedBot):  # type: ignore[no-untyped-def]
    app = create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                 redis_prefix=redis_prefix, bot=bot, dispatcher=dispatcher,
                                 webhook_secret="webhook-secret-123"))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.mark.parametrize("code", [
    "okx-abc-ÿÿÿ",
    "okx-2n9c-ÿÿÿÿÿÿÿÿÿÿÿÿ",
    "okx-2n9c-000000000000" + "0" * 8_000,  # long, yet within aiohttp's request line
    "x" * 8_000,
    "okx-%FF%FE-000000000000",  # percent-encoded bytes that are not UTF-8 (quoted once more)
])
async def test_a_malformed_link_is_404_not_500(
    client: TestClient, services: Services, code: str
) -> None:
    path = "/r/" + quote(code, safe="")
    response = await client.get(path, allow_redirects=False)
    assert response.status == 404, await response.text()
    assert await services.events.count("link_opened") == 0


async def test_a_10_kb_link_is_a_4xx(client: TestClient, services: Services) -> None:
    # Over aiohttp's 8190-byte request line: its parser answers 400 before any route runs.
    response = await client.get("/r/okx-2n9c-" + "0" * 10_000, allow_redirects=False)
    assert 400 <= response.status < 500
    assert await services.events.count("link_opened") == 0


async def test_undecodable_percent_escapes_are_404_not_500(client: TestClient) -> None:
    # %FF is not UTF-8: aiohttp decodes it to U+FFFD, which no code contains.
    response = await client.get("/r/okx-2n9c-%FF%FF%FF%FF%FF%FF", allow_redirects=False)
    assert response.status == 404
