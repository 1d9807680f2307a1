"""The daily digest: what was credited that day, per exchange, as the trader wants it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from exchanges.base import make_row
from services.commission_store import store_rows
from services.digests import DigestService
from services.exchange_catalog import ExchangeCatalog
from services.models import (
    AccountStatus,
    DigestMode,
    ExchangeAccount,
    Notification,
    RecordOrigin,
    User,
)
from services.notifications import NotificationService
from services.rebates import RebateEngine

DAY = date(2026, 11, 3)


async def trader(user_id: int, mode: DigestMode, uid: str) -> None:
    await User.create(id=user_id, first_name="T", digest_mode=mode)
    await ExchangeAccount.create(user_id=user_id, exchange_id="okx", uid=uid,
                                 status=AccountStatus.VERIFIED)


async def test_digest_per_mode_once(db: str) -> None:
    await trader(880_001, DigestMode.ON, "66600001")
    await trader(880_002, DigestMode.SILENT, "66600002")
    await trader(880_003, DigestMode.OFF, "66600003")
    rows = [make_row("okx", uid, DAY, "spot", volume=Decimal(5000), fee=Decimal(4),
                     commission=Decimal("1.6"))
            for uid in ("66600001", "66600002", "66600003")]
    await store_rows(rows, RecordOrigin.API)
    await RebateEngine().accrue_all()

    digests = DigestService(NotificationService(), ExchangeCatalog())
    today = datetime.now(UTC).date()
    run = await digests.enqueue_for(today)
    assert (run.traders, run.enqueued) == (3, 2)
    on = await Notification.get(dedupe_key=f"digest:880001:{today.isoformat()}")
    assert on.silent is False and on.params["amount"] == "0.96000000"
    assert on.params["lines"] == [{"exchange": "OKX", "amount": "0.96000000"}]
    silent = await Notification.get(dedupe_key=f"digest:880002:{today.isoformat()}")
    assert silent.silent is True
    assert not await Notification.filter(user_id=880_003).exists()

    again = await digests.enqueue_for(today)
    assert again.enqueued == 0  # one digest per trader and day
    assert (await digests.enqueue_for(today - timedelta(days=1))).traders == 0
