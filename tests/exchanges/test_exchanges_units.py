"""Unit tests: UID validation, source keys, error mapping, retries, registry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from exchanges.base import make_row, source_key, validate_uid
from exchanges.errors import (
    AuthError,
    PermanentError,
    RateLimited,
    TemporaryError,
    map_ccxt_error,
    parse_retry_after,
    with_retries,
)
from exchanges.registry import (
    EXCHANGES,
    PRODUCT_EXCHANGES,
    api_exchanges,
    build_source,
    capabilities,
)


@pytest.mark.parametrize(
    ("exchange", "text", "uid"),
    [
        ("bybit", " 123456789 ", "123456789"),
        ("okx", "UID: 123456789012345678", "123456789012345678"),
        ("mexc", "1234 5678", "12345678"),
        ("bitget", "uid#1234567890", "1234567890"),
    ],
)
def test_validate_uid_normalises(exchange: str, text: str, uid: str) -> None:
    assert validate_uid(exchange, text) == uid


@pytest.mark.parametrize(
    ("exchange", "text", "reason"),
    [
        ("bybit", "   ", "empty"),
        ("bybit", "12a45678", "not_digits"),
        ("bybit", "１２３４５６７８", "not_digits"),  # full-width digits
        ("bybit", "1234", "too_short"),
        ("bybit", "1234567890123", "too_long"),
        ("nope", "12345678", "unknown_exchange"),
    ],
)
def test_validate_uid_rejects(exchange: str, text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_uid(exchange, text)


def test_source_key_is_stable_and_currency_aware() -> None:
    day = date(2026, 11, 20)
    assert source_key("okx", "1", day, "spot") == "okx:1:2026-11-20:spot"
    assert source_key("okx", "1", day, "spot", "usdt") == "okx:1:2026-11-20:spot"
    assert source_key("okx", "1", day, "spot", "bnb") == "okx:1:2026-11-20:spot:BNB"


def test_make_row_never_invents_usdt_values() -> None:
    row = make_row("okx", "1", date(2026, 1, 1), "spot", volume=Decimal(5), fee=None,
                   commission=Decimal(1), currency="BNB")
    assert row.rate_to_usdt is None and row.commission_usdt is None and row.fee_usdt is None
    row = make_row("okx", "1", date(2026, 1, 1), "spot", volume=Decimal(5), fee=None,
                   commission=Decimal(1), currency="USDC")
    assert row.rate_to_usdt == 1 and row.commission_usdt == 1 and row.fee_usdt is None


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ccxt.RateLimitExceeded("x"), RateLimited),
        (ccxt.DDoSProtection("x"), RateLimited),
        (ccxt.ExchangeNotAvailable("okx GET u 429 Too Many Requests"), RateLimited),
        (ccxt.RequestTimeout("x"), TemporaryError),
        (ccxt.ExchangeNotAvailable("x"), TemporaryError),
        (ccxt.NetworkError("x"), TemporaryError),
        (ccxt.AuthenticationError("x"), AuthError),
        (ccxt.PermissionDenied("x"), AuthError),
        (ccxt.BadResponse("x"), PermanentError),
        (ccxt.BadRequest("x"), PermanentError),
        (ccxt.ExchangeError("x"), PermanentError),
    ],
)
def test_ccxt_errors_map_to_our_hierarchy(exc: Exception, expected: type[Exception]) -> None:
    mapped = map_ccxt_error(exc)
    assert type(mapped) is expected


def test_error_messages_hide_signatures() -> None:
    exc = ccxt.ExchangeError("mexc GET http://h/api?timestamp=1&signature=abc123&x=1 400")
    text = str(map_ccxt_error(exc))
    assert "abc123" not in text and "signature=***" in text


def test_parse_retry_after() -> None:
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert parse_retry_after(None) is None


async def test_retry_backoff_grows_and_gives_up() -> None:
    sleeps: list[float] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def failing() -> int:
        nonlocal calls
        calls += 1
        raise TemporaryError("down")

    with pytest.raises(TemporaryError):
        await with_retries(failing, attempts=4, base_delay=1, sleep=sleep, rand=lambda: 1.0)
    assert calls == 4 and sleeps == [1, 2, 4]


async def test_retry_honours_retry_after_and_skips_permanent() -> None:
    sleeps: list[float] = []
    results = iter([RateLimited("slow down", retry_after=7), 42])

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def flaky() -> int:
        item = next(results)
        if isinstance(item, Exception):
            raise item
        return item

    assert await with_retries(flaky, sleep=sleep, rand=lambda: 0.0) == 42
    assert sleeps == [7]

    async def broken() -> int:
        raise AuthError("bad key")

    with pytest.raises(AuthError):
        await with_retries(broken, sleep=sleep)
    assert sleeps == [7]


def test_registry_lists_the_product_exchanges() -> None:
    assert sorted(PRODUCT_EXCHANGES) == sorted(
        ["mexc", "bitget", "bingx", "weex", "bybit", "binance", "bitmart", "okx", "kucoin",
         "htx", "blofin"]
    )
    assert "gate" in EXCHANGES and not EXCHANGES["gate"].in_product
    assert EXCHANGES["binance"].data_source == "csv"
    for info in EXCHANGES.values():
        assert "{code}" in info.link_template
        assert info.uid_pattern.match("12345678")


def test_registry_verified_flags_match_adapters() -> None:
    for exchange in api_exchanges():
        caps = capabilities(exchange)
        assert caps is not None and caps.verified == EXCHANGES[exchange].api_verified
    assert capabilities("binance") is None


@pytest.mark.parametrize("exchange", ["binance", "bitmart", "nope"])
def test_build_source_refuses_csv_only_and_unknown(exchange: str) -> None:
    with pytest.raises(ValueError):
        build_source(exchange, api_url=None, api_key="k", api_secret="s", api_password="p")


@pytest.mark.parametrize("exchange", api_exchanges())
async def test_api_url_rewrites_every_url(exchange: str) -> None:
    source = build_source(exchange, api_url="http://127.0.0.1:9/x", api_key="k",
                          api_secret="s", api_password="p", rate_limit=False)
    try:
        urls: list[str] = []

        def walk(node: object) -> None:
            if isinstance(node, dict):
                for value in node.values():
                    walk(value)
            elif isinstance(node, str):
                urls.append(node)

        walk(source._ex.urls["api"])  # type: ignore[attr-defined]
        assert urls and all(u.startswith("http://127.0.0.1:9/x") for u in urls)
        assert source._ex.has["fetchCurrencies"] is False  # type: ignore[attr-defined]
    finally:
        await source.close()
