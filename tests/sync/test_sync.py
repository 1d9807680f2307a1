"""The exchange sync on real PostgreSQL against the exchange simulator through real ccxt:
idempotency, overlapping windows, revisions, faults, UID verification, CSV imports, status."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from exchanges.base import AffiliateSource
from exchanges.registry import build_source
from sandbox.exchanges import Dataset, Faults, create_app
from sandbox.exchanges.csv_export import to_generic_csv
from services.events import EventService
from services.models import (
    AccountStatus,
    CommissionRecord,
    CommissionRevision,
    ExchangeAccount,
    Notification,
    SyncRun,
    SyncState,
    User,
)
from services.notifications import NotificationService
from services.sync import ExchangeStatus, SyncService, exchange_status

END_DAY = datetime.now(UTC).date() - timedelta(days=1)
_user_ids = itertools.count(300_000)


@dataclass
class Sim:
    dataset: Dataset
    faults: Faults
    url: str
    built: list[AffiliateSource] = field(default_factory=list)


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    dataset = Dataset.build(["okx", "bybit"], traders=6, days=6, seed=11, end_day=END_DAY)
    faults = Faults()
    server = TestServer(create_app(dataset, faults), host="127.0.0.1", port=0)
    await server.start_server()
    yield Sim(dataset, faults, str(server.make_url("")).rstrip("/"))
    await server.close()


async def _no_sleep(seconds: float) -> None:
    return None


def sources_for(sim: Sim, **overrides: Any) -> Callable[[str], AffiliateSource | None]:
    def build(exchange_id: str) -> AffiliateSource | None:
        options: dict[str, Any] = {
            "api_url": f"{sim.url}/{exchange_id}", "api_key": sim.dataset.api_key,
            "api_secret": "sim-secret", "api_password": "sim-pass", "timeout": 2.0,
            "rate_limit": False, "retry_attempts": 3, "sleep": _no_sleep,
        }
        options.update(overrides)
        source = build_source(exchange_id, **options)
        sim.built.append(source)
        return source

    return build


@pytest.fixture
def sync(db: str, sim: Sim) -> SyncService:
    return SyncService(sources_for(sim), NotificationService(), EventService())


async def totals(exchange_id: str) -> tuple[int, Decimal, Decimal]:
    records = await CommissionRecord.filter(exchange_id=exchange_id)
    return (len(records), sum((r.volume or Decimal(0) for r in records), Decimal(0)),
            sum((r.commission or Decimal(0) for r in records), Decimal(0)))


async def new_trader() -> int:
    user = await User.create(id=next(_user_ids), first_name="T")
    return user.id


async def test_sync_stores_what_the_exchange_reports(sync: SyncService, sim: Sim) -> None:
    outcome = await sync.run("okx")
    assert outcome.status == "ok", outcome.error
    expected = sim.dataset.grand_totals("okx")
    count, volume, commission = await totals("okx")
    assert count == outcome.records_new == len(sim.dataset.totals("okx"))
    assert volume == expected.volume and commission == expected.commission
    run = await SyncRun.get(id=outcome.run_id)
    assert run.status == "ok" and run.records_new == count and run.finished_at is not None
    state = await SyncState.get(exchange_id="okx")
    assert state.watermark is not None and state.next_due_at > state.watermark


async def test_resync_and_overlapping_windows_change_nothing(sync: SyncService) -> None:
    await sync.run("okx")
    before = await totals("okx")
    again = await sync.run("okx")
    assert (again.records_new, again.records_changed) == (0, 0)
    # Move the watermark back: the next run overlaps everything read before.
    await SyncState.filter(exchange_id="okx").update(
        watermark=datetime.now(UTC) - timedelta(days=4))
    overlap = await sync.run("okx")
    assert overlap.status == "ok" and (overlap.records_new, overlap.records_changed) == (0, 0)
    assert await totals("okx") == before
    assert await CommissionRevision.all().count() == 0


async def test_a_revised_day_is_stored_as_a_revision(sync: SyncService, sim: Sim) -> None:
    await sync.run("okx")
    # The exchange revises a day it reported already: more activity for one trader.
    trader = sim.dataset.traders["okx"][0]
    sim.dataset.add_activity("okx", trader.uid, END_DAY, "spot", Decimal("1000"))
    outcome = await sync.run("okx")
    assert outcome.records_changed + outcome.records_new >= 1
    revised = await CommissionRecord.filter(exchange_id="okx", uid=trader.uid, day=END_DAY,
                                            product="spot").first()
    assert revised is not None
    if outcome.records_changed:
        assert revised.revision == 2
        history = await CommissionRevision.get(record_id=revised.id)
        assert history.revision == 1 and history.volume != revised.volume
    expected = sim.dataset.grand_totals("okx")
    assert (await totals("okx"))[1] == expected.volume


async def test_rate_limited_then_success(sync: SyncService, sim: Sim) -> None:
    sim.faults.set("okx", rate_limit=2, retry_after=0)
    outcome = await sync.run("okx")
    assert outcome.status == "ok"
    assert (await totals("okx"))[0] == len(sim.dataset.totals("okx"))


async def test_server_errors_fail_the_run_and_keep_the_error(sync: SyncService, sim: Sim) -> None:
    sim.faults.set("okx", server_error=100)
    outcome = await sync.run("okx")
    assert outcome.status == "failed" and outcome.error_class == "temporary"
    run = await SyncRun.get(id=outcome.run_id)
    assert run.status == "failed" and run.error
    assert await CommissionRecord.all().count() == 0
    state = await SyncState.get(exchange_id="okx")
    assert state.watermark is None  # nothing was read: the next run starts from the same place
    statuses = {s.exchange_id: s for s in await sync.statuses()}
    assert statuses["okx"].status is ExchangeStatus.ERROR


async def test_timeouts_fail_the_run(db: str, sim: Sim) -> None:
    sync = SyncService(sources_for(sim, timeout=0.3, retry_attempts=2), NotificationService(),
                       EventService())
    sim.faults.set("okx", slow=100, slow_seconds=1.0)
    outcome = await sync.run("okx")
    assert outcome.status == "failed" and outcome.error_class == "temporary"
    assert await CommissionRecord.all().count() == 0


async def test_auth_failure_sets_error_status(sync: SyncService, sim: Sim) -> None:
    sim.faults.set("okx", auth_fail=True)
    outcome = await sync.run("okx")
    assert outcome.error_class == "auth"
    statuses = {s.exchange_id: s for s in await sync.statuses()}
    assert statuses["okx"].status is ExchangeStatus.ERROR
    assert statuses["okx"].last_error


async def test_malformed_body_writes_nothing(sync: SyncService, sim: Sim) -> None:
    sim.faults.set("okx", malformed=100)
    outcome = await sync.run("okx")
    assert outcome.status == "failed"
    assert await CommissionRecord.all().count() == 0


async def test_uid_verification_and_first_trade(sync: SyncService, sim: Sim) -> None:
    ours = sim.dataset.traders["okx"][0].uid
    alice, bob, carol = await new_trader(), await new_trader(), await new_trader()
    verified = await ExchangeAccount.create(user_id=alice, exchange_id="okx", uid=ours)
    stale = await ExchangeAccount.create(user_id=bob, exchange_id="okx", uid="99999999901")
    await ExchangeAccount.filter(id=stale.id).update(
        created_at=datetime.now(UTC) - timedelta(days=4))
    fresh = await ExchangeAccount.create(user_id=carol, exchange_id="okx", uid="99999999902")

    outcome = await sync.run("okx")
    assert (outcome.verified, outcome.rejected) == (1, 1)
    assert outcome.verified_uids == (ours,)
    assert (await ExchangeAccount.get(id=verified.id)).status == AccountStatus.VERIFIED
    rejected = await ExchangeAccount.get(id=stale.id)
    assert rejected.status == AccountStatus.REJECTED and rejected.reject_reason == "not_found"
    assert (await ExchangeAccount.get(id=fresh.id)).status == AccountStatus.PENDING

    kinds = sorted(n.kind for n in await Notification.all())
    has_activity = bool([a for a in sim.dataset.activity["okx"] if a.uid == ours])
    assert kinds == sorted(["uid_verified", "uid_rejected"]
                           + (["first_trade"] if has_activity else []))
    # A second run notifies nobody again.
    await sync.run("okx")
    assert await Notification.all().count() == len(kinds)


async def test_status_rules() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    hour = timedelta(hours=1)

    def status(**kw: Any) -> ExchangeStatus:
        defaults: dict[str, Any] = {"enabled": True, "interval": 4 * hour,
                                    "last_run_failed": False, "now": now}
        return exchange_status(**{**defaults, **kw})

    assert status(last_success_at=now - 7 * hour) is ExchangeStatus.OK
    assert status(last_success_at=now - 9 * hour) is ExchangeStatus.LAG
    assert status(last_success_at=now - 13 * hour) is ExchangeStatus.ERROR
    assert status(last_success_at=now - hour, last_run_failed=True) is ExchangeStatus.ERROR
    assert status(last_success_at=None) is ExchangeStatus.ERROR
    assert status(enabled=False, last_success_at=None) is ExchangeStatus.DISABLED


async def test_csv_import_good_file_and_overlap_with_api(sync: SyncService, sim: Sim) -> None:
    await sync.run("okx")
    before = await totals("okx")
    # The same data through the CSV path: no double counting.
    text = to_generic_csv(sim.dataset, ["okx"])
    dry = await sync.import_csv("okx", text, dry_run=True)
    assert dry.errors == [] and (dry.new, dry.changed) == (0, 0) and dry.rows == before[0]
    real = await sync.import_csv("okx", text, dry_run=False)
    assert (real.new, real.changed) == (0, 0)
    assert await totals("okx") == before


async def test_csv_totals_equal_api_totals(db: str, sim: Sim) -> None:
    sync = SyncService(sources_for(sim), NotificationService(), EventService())
    text = to_generic_csv(sim.dataset, ["okx"])
    dry = await sync.import_csv("okx", text, dry_run=True)
    assert dry.new == len(sim.dataset.totals("okx"))
    assert await CommissionRecord.all().count() == 0  # a dry run writes nothing
    await sync.import_csv("okx", text, dry_run=False)
    csv_totals = await totals("okx")
    await CommissionRecord.all().delete()
    await sync.run("okx")
    assert await totals("okx") == csv_totals


async def test_csv_with_a_bad_row_imports_nothing(sync: SyncService, sim: Sim) -> None:
    lines = to_generic_csv(sim.dataset, ["okx"]).splitlines()
    lines.insert(3, "okx,12ab,2026-13-01,spot,1,1,1,USDT,1")
    outcome = await sync.import_csv("okx", "\n".join(lines) + "\n", dry_run=False)
    assert outcome.errors and outcome.errors[0].line == 4
    assert await CommissionRecord.all().count() == 0


async def test_manual_trigger_and_due(sync: SyncService) -> None:
    due = await sync.due()
    assert "okx" in due and "binance" not in due  # Binance arrives as CSV only
    outcome = await sync.run("okx", trigger="manual")
    assert (await SyncRun.get(id=outcome.run_id)).trigger == "manual"
    assert "okx" not in await sync.due()


async def test_day_is_utc(sync: SyncService) -> None:
    await sync.run("okx")
    days = {r.day for r in await CommissionRecord.filter(exchange_id="okx")}
    assert max(days) == END_DAY and all(isinstance(d, date) for d in days)
