"""A UID just linked is asked of its exchange at once (the `check_new_uid` job): verified and
told; not (yet) listed, or the exchange unreachable, it stays pending and the trader is told
when the next check is and when it would be rejected; an exchange without credentials says so.
Against the simulator through real ccxt (OKX invitee/detail, Bybit aff-customer-info)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.outbox import render
from bot.worker import check_new_uid
from services.events import EventService
from services.i18n import Catalog
from services.models import AccountStatus, ExchangeAccount, Notification
from services.notifications import NotificationService
from services.sync import SyncService
from services.sync.outcomes import UidLookup
from tests.sync.test_sync import Sim, new_trader, sources_for


async def pending(exchange: str, uid: str) -> ExchangeAccount:
    return await ExchangeAccount.create(user_id=await new_trader(), exchange_id=exchange,
                                        uid=uid, status=AccountStatus.PENDING)


@pytest.mark.parametrize("exchange", ["okx", "bybit"])
async def test_our_invitee_is_verified_at_once(sync: SyncService, sim: Sim,
                                               exchange: str) -> None:
    account = await pending(exchange, sim.dataset.traders[exchange][0].uid)
    lookup, _ = await sync.check_new_uid(account.id)
    assert lookup == UidLookup.VERIFIED
    await account.refresh_from_db()
    assert account.status is AccountStatus.VERIFIED
    kinds = [n.kind for n in await Notification.filter(user_id=account.user_id)]  # type: ignore[attr-defined]
    assert kinds == ["uid_verified"]
    # A second run (a retried job) changes and tells nothing more.
    assert (await sync.check_new_uid(account.id))[0] == UidLookup.NOT_PENDING
    assert await Notification.filter(user_id=account.user_id).count() == 1  # type: ignore[attr-defined]


async def test_not_listed_stays_pending_and_is_told_when(
    sync: SyncService, sim: Sim, i18n: Catalog
) -> None:
    account = await pending("okx", "77777777")
    lookup, plan = await sync.check_new_uid(account.id)
    assert lookup == UidLookup.NOT_FOUND and plan is not None
    await account.refresh_from_db()
    assert account.status is AccountStatus.PENDING
    assert plan.reject_at == account.created_at + sync.uid_reject_after
    assert plan.next_check_at is not None and plan.next_check_at > account.created_at
    [note] = await NotificationService().claim_due(10)
    assert note.text_key == "notify.uid_pending.not_found"
    text = render(i18n, note)
    reject_at: datetime = plan.reject_at
    assert f"{reject_at:%H:%M} UTC" in text and reject_at.strftime("%B") in text
    assert "77777777" in text


async def test_exchange_down_stays_pending_and_is_told(sync: SyncService, sim: Sim) -> None:
    account = await pending("bybit", sim.dataset.traders["bybit"][1].uid)
    sim.faults.set("bybit", server_error=20)
    lookup, _ = await sync.check_new_uid(account.id)
    assert lookup == UidLookup.FAILED
    await account.refresh_from_db()
    assert account.status is AccountStatus.PENDING  # never rejected on an error
    [note] = await Notification.filter(user_id=account.user_id)  # type: ignore[attr-defined]
    assert note.text_key == "notify.uid_pending.failed"


async def test_unconfigured_exchange_says_so(db: str, sim: Sim) -> None:
    sync = SyncService(lambda exchange_id: None, NotificationService(), EventService())
    account = await pending("okx", "12121212")
    lookup, plan = await sync.check_new_uid(account.id)
    assert lookup == UidLookup.NO_LOOKUP and plan is not None and plan.reject_at is None
    [note] = await Notification.filter(user_id=account.user_id)  # type: ignore[attr-defined]
    assert note.text_key == "notify.uid_pending.unconfigured"


async def test_worker_job(db: str, sim: Sim) -> None:
    class Services:
        sync = SyncService(sources_for(sim), NotificationService(), EventService())

    account = await pending("okx", sim.dataset.traders["okx"][2].uid)
    assert "verified" in await check_new_uid({"services": Services()}, account.id)
