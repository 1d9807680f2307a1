"""The payout engine and API keys set in the admin screens (issue 14): the engine keeps one
adapter per exchange, and rebuilds it with the stored key once that key is set, replaced or
removed, before its next call, without a restart; a stored key wins over the environment's."""

from __future__ import annotations

from bot.app import api_credentials, build_credentials
from bot.settings import load_settings
from exchanges.payout_registry import payout_source
from exchanges.payouts import PayoutSource
from services.credentials import ApiSecret
from services.ledger import Ledger
from services.ledger.entries import ledger_transaction
from services.payouts.config import PayoutConfig
from services.payouts.engine import PayoutEngine


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
