"""The outbox table's protocol on real PostgreSQL: idempotent writes, claims that exclude each
other and expire, attempts, backoff and giving up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.models import Notification, NotificationStatus
from services.notifications import NotificationService


async def test_enqueue_is_idempotent(db: str) -> None:
    service = NotificationService()
    assert await service.enqueue("uid_verified:1", 5, "uid_verified", "notify.uid_verified",
                                 {"exchange": "Bybit", "uid": "123"}, user_id=5)
    assert not await service.enqueue("uid_verified:1", 5, "uid_verified", "notify.uid_verified",
                                     {"exchange": "OKX", "uid": "999"}, user_id=5)
    rows = await Notification.all()
    assert len(rows) == 1
    assert rows[0].params == {"exchange": "Bybit", "uid": "123"}  # the first write stands
    assert rows[0].status == NotificationStatus.PENDING and rows[0].attempts == 0


async def test_concurrent_enqueues_write_one_row(db: str) -> None:
    service = NotificationService()
    results = await asyncio.gather(*(
        service.enqueue("digest:5:2026-11-21", 5, "digest", "notify.digest") for _ in range(8)
    ))
    assert sorted(results) == [False] * 7 + [True]
    assert await Notification.all().count() == 1


async def test_claims_exclude_each_other_and_expire(db: str) -> None:
    service = NotificationService(lease=timedelta(seconds=30))
    for n in range(4):
        await service.enqueue(f"k{n}", 100 + n, "test", "notify.first_trade")
    now = datetime.now(UTC)
    first, second = await asyncio.gather(service.claim_due(3, now), service.claim_due(3, now))
    third = await service.claim_due(3, now)
    # Disjoint: a claimer skips what another has locked (it may find nothing this time).
    ids = [n.id for n in (*first, *second, *third)]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 4
    assert await service.claim_due(10, now + timedelta(seconds=29)) == []
    # The claimer crashed: after the lease the rows are due again.
    assert len(await service.claim_due(10, now + timedelta(seconds=31))) == 4


async def test_one_row_per_chat_per_claim_oldest_first(db: str) -> None:
    service = NotificationService()
    for n in range(3):
        await service.enqueue(f"a{n}", 1, "test", "notify.first_trade", {"n": n})
    await service.enqueue("b0", 2, "test", "notify.first_trade")
    batch = await service.claim_due(10)
    assert [(n.chat_id, n.params.get("n")) for n in batch] == [(1, 0), (2, None)]
    # While chat 1 has a claimed row, its next rows wait: a chat's messages go one at a time.
    assert await service.claim_due(10) == []
    await service.mark_sent(batch[0].id)
    assert [n.params.get("n") for n in await service.claim_due(10)] == [1]


async def test_not_before_is_respected(db: str) -> None:
    service = NotificationService()
    later = datetime.now(UTC) + timedelta(minutes=5)
    await service.enqueue("later", 1, "test", "notify.first_trade", not_before=later)
    assert await service.claim_due(10) == []
    assert len(await service.claim_due(10, later)) == 1


async def test_backoff_then_give_up(db: str) -> None:
    service = NotificationService(max_attempts=3)
    await service.enqueue("k", 1, "test", "notify.first_trade")
    now = datetime.now(UTC)
    (note,) = await service.claim_due(1, now)
    status = await service.reschedule(note.id, None, "network", now=now)
    assert status == NotificationStatus.PENDING
    row = await Notification.get(id=note.id)
    assert row.attempts == 1 and row.last_error == "network" and row.claimed_until is None
    assert row.not_before == now + timedelta(seconds=5)

    now += timedelta(seconds=6)
    (note,) = await service.claim_due(1, now)
    await service.reschedule(note.id, None, "network", now=now)
    row = await Notification.get(id=note.id)
    assert row.attempts == 2 and row.not_before == now + timedelta(seconds=10)

    # A 429 does not use up an attempt.
    now += timedelta(seconds=11)
    (note,) = await service.claim_due(1, now)
    await service.reschedule(note.id, now + timedelta(seconds=3), "429", count_attempt=False)
    assert (await Notification.get(id=note.id)).attempts == 2

    now += timedelta(seconds=4)
    (note,) = await service.claim_due(1, now)
    assert await service.reschedule(note.id, None, "network", now=now) == NotificationStatus.FAILED
    row = await Notification.get(id=note.id)
    assert row.status == NotificationStatus.FAILED and row.attempts == 3
    assert row.last_error is not None and row.last_error.startswith("gave up after 3 attempts")
    assert await service.claim_due(1, now + timedelta(days=1)) == []


async def test_outcomes_apply_only_to_pending_rows(db: str) -> None:
    service = NotificationService()
    await service.enqueue("k", 1, "test", "notify.first_trade")
    (note,) = await service.claim_due(1)
    assert await service.mark_sent(note.id)
    assert not await service.mark_sent(note.id)  # a late second loop changes nothing
    assert not await service.mark_failed(note.id, "blocked")
    assert await service.reschedule(note.id, None, "x") is None
    row = await Notification.get(id=note.id)
    assert row.status == NotificationStatus.SENT and row.attempts == 1 and row.sent_at


async def test_release_gives_a_claim_back_without_an_attempt(db: str) -> None:
    service = NotificationService()
    await service.enqueue("k", 1, "test", "notify.first_trade")
    (note,) = await service.claim_due(1)
    await service.release([note.id])
    (again,) = await service.claim_due(1)
    assert again.id == note.id and again.attempts == 0
