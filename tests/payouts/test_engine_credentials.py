"""The payout engine and API keys set in the admin screens (issue 14): the engine keeps one
adapter per exchange, and rebuilds it with the stored key once that key is set, replaced or
removed, before its next call, without a restart; a stored key wins over the environment's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.app import api_credentials, build_credentials, current_internal_exchanges
from bot.settings import load_settings
from exchanges.payout_registry import payout_source
from exchanges.payouts import PayoutSource
from services.credentials import ApiSecret
from services.ledger import Ledger
from services.ledger.entries import ledger_transaction
from services.models import PayoutMethod
from services.payouts.config import PayoutConfig
from services.payouts.engine import PayoutEngine
from services.payouts.quotes import PayoutRefusal
from services.payouts.requests import Destination, WithdrawalService
from tests.payouts.helpers import funded_trader

D = Decimal


async def test_the_engine_rebuilds_its_adapter_when_the_stored_key_changes(db: str) -> None:
    settings = load_settings({"EXCHANGE_OKX_API_KEY": "env-key-00000000",
                              "EXCHANGE_OKX_API_SECRET": "env-secret"})
    book = build_credentials(settings, b"payout-test-master-key")
    built: list[str | None] = []

    def factory(exchange_id: str) -> PayoutSource | None:
        found = api_credentials(settings, book, exchange_id)
        built.append(found["api_key"] if found else None)
        return None if found is None else payout_source(exchange_id, **found)

    engine = PayoutEngine(Ledger(), PayoutConfig(), factory, credentials=book)
    try:
        await engine._fresh_sources()  # what pay() and reconcile() do before each call
        first = engine.sources("okx")
        await engine._fresh_sources()
        assert engine.sources("okx") is first  # nothing changed: the same adapter
        async with ledger_transaction() as conn:
            await book.replace(conn, "okx", ApiSecret("stored-key-WXYZ", "stored-secret"),
                               None, 900)
        await engine._fresh_sources()
        second = engine.sources("okx")
        assert second is not first
        async with ledger_transaction() as conn:
            await book.revoke(conn, "okx", 900)
        await engine._fresh_sources()
        assert engine.sources("okx") is not second
        assert built == ["env-key-00000000", "stored-key-WXYZ", "env-key-00000000"]
    finally:
        await engine.close()


async def test_a_key_stored_in_the_screen_offers_internal_transfers_at_once(db: str) -> None:
    settings = load_settings({})  # no exchange key in the environment
    book = build_credentials(settings, b"payout-test-master-key")
    service = WithdrawalService(Ledger(), PayoutConfig(), internal_exchanges=frozenset(),
                                current_internal=current_internal_exchanges(settings, book))
    trader, _ = await funded_trader(D(100), "okx")
    internal = Destination(PayoutMethod.INTERNAL, exchange_id="okx")
    assert await service.internal_accounts(trader) == []
    with pytest.raises(PayoutRefusal) as refused:
        await service.prepare(trader, internal, D(10))
    assert refused.value.code == "internal_unavailable"
    async with ledger_transaction() as conn:
        await book.replace(conn, "okx", ApiSecret("stored-key-WXYZ", "stored-secret",
                                                  "pass"), None, 900)
    book.forget()  # what the screen's write does in its own process; others within 5 s
    [(exchange_id, _)] = await service.internal_accounts(trader)
    assert exchange_id == "okx"
    assert (await service.prepare(trader, internal, D(10))).net_amount == D(10)  # no network fee
    async with ledger_transaction() as conn:
        await book.revoke(conn, "okx", 900)
    book.forget()
    assert await service.internal_accounts(trader) == []
