"""services/outages.py on real errors: what a store that is down raises counts as an outage;
a bug, a wrong password, a file, Telegram or an exchange failing does not (re-running a buggy
handler for minutes, or asking Telegram for it again and again, would be the price)."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import pytest
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import SendMessage
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from tortoise import Tortoise

from exchanges.errors import ExchangeError
from services.outages import is_store_outage
from tests.e2e.processes import free_port


async def raised(coroutine: object) -> BaseException:
    try:
        await coroutine  # type: ignore[misc]
    except BaseException as exc:  # noqa: BLE001 - the point is to look at it
        return exc
    raise AssertionError("did not raise")


async def test_a_redis_that_is_down_is_an_outage() -> None:
    client = Redis(port=free_port(), socket_connect_timeout=1)
    try:
        assert is_store_outage(await raised(client.ping()))
    finally:
        await client.aclose()


async def test_a_postgresql_that_is_down_is_an_outage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    refused = await raised(asyncpg.connect(host="127.0.0.1", port=free_port(), user="x"))
    assert isinstance(refused, OSError) and is_store_outage(refused)
    gone = await raised(asyncpg.connect(host=str(tmp_path), user="x"))  # its socket is gone
    assert is_store_outage(gone)


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
])
def test_a_restarting_store_is_an_outage(exc: BaseException) -> None:
    assert is_store_outage(exc)


def test_an_error_caused_by_an_outage_is_one() -> None:
    try:
        try:
            raise redis_errors.ConnectionError("Connection refused")
        except redis_errors.ConnectionError as inner:
            raise ValueError("could not load the state") from inner
    except ValueError as outer:
        assert is_store_outage(outer)


async def test_a_bad_query_is_not_an_outage(orm: str) -> None:
    connection = Tortoise.get_connection("default")
    assert not is_store_outage(await raised(
        connection.execute_query("SELECT $1::int", ["not a number"])))
    assert not is_store_outage(await raised(connection.execute_query("SELEC 1")))


async def test_what_is_not_a_store_is_not_an_outage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert not is_store_outage(redis_errors.AuthenticationError("invalid password"))
    missing = await raised(asyncio.to_thread((tmp_path / "nothing").read_text))
    assert isinstance(missing, FileNotFoundError) and not is_store_outage(missing)
    timed_out = await raised(asyncio.wait_for(asyncio.sleep(1), 0.01))
    assert isinstance(timed_out, TimeoutError) and not is_store_outage(timed_out)
    async with aiohttp.ClientSession() as session:
        refused = await raised(session.get(f"http://127.0.0.1:{free_port()}/"))
    assert not is_store_outage(refused)
    try:
        try:
            raise redis_errors.ConnectionError("refused")
        except redis_errors.ConnectionError:
            raise TelegramNetworkError(SendMessage(chat_id=1, text="x"), "timeout")  # noqa: B904
    except TelegramNetworkError as telegram:
        assert not is_store_outage(telegram, foreign=(TelegramNetworkError,))
    assert not is_store_outage(ExchangeError("okx: 503"))
