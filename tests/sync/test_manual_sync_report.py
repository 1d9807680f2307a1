"""An operator's /sync gets its result posted back in the admin chat when the job ends (through
the outbox, in the admin chat's language); a scheduled sync posts nothing."""

from __future__ import annotations

import dataclasses

from bot.app import Services
from bot.settings import Settings
from bot.worker import sync_exchange
from services.i18n import Catalog
from services.models import Notification
from services.sync import SyncService


async def test_a_manual_sync_posts_its_result(
    sync: SyncService, services: Services, settings: Settings, i18n: Catalog,
) -> None:
    ctx = {"services": dataclasses.replace(services, sync=sync), "settings": settings}
    await sync_exchange(ctx, "okx", "cron")
    assert await Notification.filter(kind="sync_result").count() == 0
    result = await sync_exchange(ctx, "okx", "manual")
    assert result.startswith("okx: ok")
    posted = await Notification.get(kind="sync_result")
    assert posted.chat_id == settings.admin_chat_id and posted.text_key == "admin.sync.done"
    text = i18n.translator("en")(posted.text_key, **posted.params)
    assert text.startswith("✅ Sync of OKX done:") and "ledger entries" in text


async def test_a_failed_manual_sync_posts_the_reason(
    sync: SyncService, services: Services, settings: Settings, sim, i18n: Catalog,  # type: ignore[no-untyped-def]
) -> None:
    sim.faults.set("okx", auth_fail=True)
    ctx = {"services": dataclasses.replace(services, sync=sync), "settings": settings}
    await sync_exchange(ctx, "okx", "manual")
    posted = await Notification.get(kind="sync_result")
    assert posted.text_key == "admin.sync.failed"
    text = i18n.translator("en")(posted.text_key, **posted.params)
    assert text.startswith("❌ Sync of OKX failed:") and len(text) > 30
