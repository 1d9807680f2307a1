"""Crash test (issue 9): the real worker process (``python -m bot worker``) is killed with
SIGKILL at random points of the sync and the booking, again and again, and restarted.

The simulator serves two exchanges (OKX, Bitget) with thousands of daily commission records over
hundreds of invitees; every invitee is linked by a user as a PENDING account, so verification
happens inside the sync runs that are being killed (the original bug: a crash between
verification and booking left those traders' history unbooked). After the last restart the
worker must finish on its own within RESUME_BOUND seconds (no waiting for arq's in-progress
timeout), and then: every record is stored once and booked exactly once at its revision, with one
``accrual:`` ledger entry per record version; no sync run is left "running"; each trader's
balance equals an independent sum over the simulator's rows; the receivables equal the
commission; the books check and the ledger invariants pass.

CRASH_TEST_SEED picks the data set and the kill schedule (default 9).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from arq.jobs import deserialize_result
from redis.asyncio import Redis
from tortoise import Tortoise

from bot.worker import cron_jobs
from exchanges.registry import EXCHANGES
from sandbox.exchanges import Dataset, Faults, create_app
from services.ledger import Ledger
from services.models import ExchangeAccount, SyncRun, User
from services.rebates.audit import check_books
from services.rebates.booking import ACCRUAL_LOCK_ID
from services.sync import INTERRUPTED
from tests.conftest import TEST_REDIS_URL
from tests.e2e.processes import spawn_bot, stop_process

SEED = int(os.environ.get("CRASH_TEST_SEED", "9"))
DAYS = 10
# OKX answers 100 invitees a page and ccxt keeps to its rate limit (about 0.37 s a list call,
# one call per day, category and page): 100 invitees are one page, an OKX sync of the ~11 days
# takes about 12 s. Bitget pages 1000 lines, so it gets most of the invitees.
TRADERS = {"okx": 100, "bitget": 250}
BITGET_DELAY = 0.3  # seconds per simulated Bitget request: a sync of a few seconds
# What each of the kills (12) waits for, then a random delay: any moment after the start, a
# sync of this life reading its exchange, a run of this life just stored (its UID verification,
# first trades and booking follow: the window of the original bug), a booking transaction with
# something to book.
TARGETS = ["random"] * 4 + ["sync"] * 3 + ["stored"] * 2 + ["booking"] * 3
PHASE_WAIT = 20.0  # the longest a kill waits for its target phase (then it kills anyway)
RESUME_BOUND = 60.0  # after the last restart, everything is booked within this many seconds
USER_BASE = 7_000_000
EIGHT_DP = Decimal("0.00000001")
EXCHANGE_IDS = sorted(TRADERS)


def build_dataset(seed: int) -> Dataset:
    """One data set, each exchange with its own number of invitees (each exchange draws from its
    own random stream, so this is what one build with that many invitees would give)."""
    end_day = datetime.now(UTC).date() - timedelta(days=1)
    data: Dataset | None = None
    for exchange_id, traders in TRADERS.items():
        part = Dataset.build([exchange_id], traders=traders, days=DAYS, seed=seed,
                             end_day=end_day)
        if data is None:
            data = part
        else:
            data.traders.update(part.traders)
            data.activity.update(part.activity)
    assert data is not None
    return data


@dataclass
class Expected:
    """What the books must say, computed from the simulator's rows alone."""

    records: dict[tuple[str, str, str, str], Decimal]  # (exchange, uid, day, product) → comm.
    user_of: dict[tuple[str, str], int]  # (exchange, uid) → user id
    balances: dict[int, Decimal]
    commission: dict[str, Decimal]  # per exchange

    @classmethod
    def of(cls, dataset: Dataset) -> Expected:
        records: dict[tuple[str, str, str, str], Decimal] = {}
        user_of: dict[tuple[str, str], int] = {}
        balances: dict[int, Decimal] = defaultdict(Decimal)
        commission: dict[str, Decimal] = defaultdict(Decimal)
        for exchange_id in EXCHANGE_IDS:
            share = EXCHANGES[exchange_id].trader_share
            for trader in dataset.traders[exchange_id]:
                user_of[(exchange_id, trader.uid)] = USER_BASE + len(user_of)
            for (uid, day, product), totals in dataset.totals(exchange_id).items():
                records[(exchange_id, uid, day.isoformat(), product)] = totals.commission
                user_id = user_of[(exchange_id, uid)]
                balances[user_id] += (totals.commission * share).quantize(EIGHT_DP, ROUND_DOWN)
                commission[exchange_id] += totals.commission
        for user_id in user_of.values():
            balances.setdefault(user_id, Decimal(0))
        return cls(records, user_of, dict(balances), dict(commission))


# --- observing the worker from the database -----------------------------------------------

# The statements of a booking transaction (services/rebates/booking.py, shares.py, ledger/):
# its batch selection, the rate tables, the ledger and accrual writes, the booking lock.
BOOKING_STATEMENTS = (r"b\.record_id > \$1|rate_(exchange_shares|group|trader_shares|estimates)"
                      r"|FROM exchanges|ledger_|rebate_accrual|plan_cache_mode|advisory_xact_lock")

# arq's log lines of a job starting ("→ ref(args)") and ending ("← ref ●", "! ref failed",
# "↻ ref retrying/cancelled", "⊘ ref aborted"); a sync job's ref ends in :sync:<id>:sync_exchange.
_JOB_LINE = re.compile(r" ([→←!↻⊘]) (\S+?)(?:\(| )")


def running_jobs(log_text: str) -> list[str]:
    """The jobs the current life of the worker started and has not ended, from its log."""
    life = log_text.rsplit("\n===== ", 1)[-1]
    running: dict[str, int] = defaultdict(int)
    for match in _JOB_LINE.finditer(life):
        mark, ref = match.groups()
        parts = ref.split(":")
        function = parts[-1].rsplit(".", 1)[-1]  # a cron job's name carries the prefix
        name = f"sync_exchange({parts[-2]})" if function == "sync_exchange" else function
        if mark == "→":
            running[name] += 1
        elif running[name]:
            running[name] -= 1
    return sorted(name for name, count in running.items() if count)


_PROBE = """
SELECT
  (SELECT count(*) FROM commission_records) AS records,
  (SELECT count(*) FROM rebate_accruals) AS accruals,
  (SELECT count(*) FROM ledger_entries) AS entries,
  (SELECT count(*) FROM exchange_accounts WHERE status = 'verified') AS verified,
  -- Pending accounts the stored records already show (those without records wait for their
  -- exchange's next sync, which is due only after its interval: not this test's bound).
  (SELECT count(*) FROM exchange_accounts a WHERE a.status = 'pending' AND EXISTS (
     SELECT 1 FROM commission_records r
     WHERE r.exchange_id = a.exchange_id AND r.uid = a.uid)) AS pending,
  (SELECT count(*) FROM commission_records r
     JOIN exchange_accounts a ON a.exchange_id = r.exchange_id AND a.uid = r.uid
     LEFT JOIN rebate_accruals b ON b.record_id = r.id
     WHERE a.status = 'verified' AND (b.id IS NULL OR b.revision < r.revision)) AS unbooked,
  (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM sync_runs
     WHERE status = 'running') AS running_ids,
  (SELECT coalesce(array_agg(DISTINCT exchange_id), '{}') FROM sync_runs
     WHERE status = 'running') AS running,
  (SELECT coalesce(array_agg(DISTINCT exchange_id), '{}') FROM sync_runs
     WHERE status = 'ok' AND id > $3) AS stored_now,
  (SELECT coalesce(array_agg(e ORDER BY e), '{}') FROM unnest($4::text[]) e
     WHERE EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                     AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                     AND l.objid::bigint = (hashtext('sync:' || e)::bigint & 4294967295)))
     AS sync_locked,
  (SELECT count(*) FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND l.classid::bigint = $1 AND l.objid::bigint = $2
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
     AS booking_lock,
  (SELECT count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
       AND (state LIKE 'idle in transaction%' OR xact_start < query_start)
       AND query ~* $5) AS booking_queries,
  (SELECT count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'
       AND query ILIKE '%commission_staging%') AS storing,
  (SELECT coalesce(max(id), 0) FROM sync_runs) AS max_run_id,
  (SELECT coalesce(array_agg(state || '/' || coalesce(wait_event, '-') || ' '
                             || round(extract(epoch FROM now() - query_start)::numeric, 1)
                             || 's ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 60)), '{}')
     FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle')
     AS activity
"""


@dataclass(frozen=True)
class Probe:
    records: int
    accruals: int
    entries: int
    verified: int
    pending: int
    unbooked: int
    running_ids: tuple[int, ...]
    running: tuple[str, ...]
    stored_now: tuple[str, ...]  # exchanges with a run stored since the life started
    sync_locked: tuple[str, ...]  # exchanges whose sync lock is held
    booking_lock: int
    booking_queries: int
    storing: int
    max_run_id: int
    activity: tuple[str, ...]

    @property
    def booking(self) -> bool:
        return bool(self.booking_lock or self.booking_queries)

    def phase(self, jobs: list[str]) -> str:
        """What the worker was doing, from the database and the jobs it was running."""
        parts = []
        reading = [e for e in self.running if e in self.sync_locked]
        if reading:
            parts.append(("storing " if self.storing else "sync ") + "+".join(reading))
        # A run of this life stored (status ok) and still holds its lock: verifying UIDs,
        # detecting first trades. Holding it without a run row: a run about to start.
        verifying = [e for e in self.sync_locked if e not in self.running and e in self.stored_now]
        if verifying:
            parts.append("verify " + "+".join(verifying))
        starting = [e for e in self.sync_locked
                    if e not in self.running and e not in self.stored_now]
        if starting:
            parts.append("sync starting " + "+".join(starting))
        # A sync job alive whose run is over (or skipped: not due) is booking; so is the
        # booking cron job.
        booking_jobs = [job for job in jobs if job in ("book_unbooked", "accrue_rebates")
                        or (job.startswith("sync_exchange(")
                            and job[len("sync_exchange("):-1] not in self.sync_locked)]
        if self.booking or booking_jobs:
            parts.append(("booking" if self.unbooked else "booking walk (nothing left)")
                         + (f" [{', '.join(booking_jobs)}]" if booking_jobs else ""))
        if not parts:
            parts.append("between jobs" if self.max_run_id else "startup")
        return ", ".join(parts)


async def probe(since_run_id: int = 0) -> Probe:
    connection = Tortoise.get_connection("default")
    rows = await connection.execute_query_dict(
        _PROBE, [ACCRUAL_LOCK_ID >> 32, ACCRUAL_LOCK_ID & 0xFFFF_FFFF, since_run_id,
                 EXCHANGE_IDS, BOOKING_STATEMENTS])
    row = rows[0]
    return Probe(
        records=row["records"], accruals=row["accruals"], entries=row["entries"],
        verified=row["verified"], pending=row["pending"], unbooked=row["unbooked"],
        running_ids=tuple(row["running_ids"]), running=tuple(row["running"]),
        stored_now=tuple(row["stored_now"]), sync_locked=tuple(row["sync_locked"]),
        booking_lock=row["booking_lock"], booking_queries=row["booking_queries"],
        storing=row["storing"], max_run_id=row["max_run_id"],
        activity=tuple(row["activity"]),
    )


@dataclass
class Kill:
    life: int
    target: str
    after: float  # seconds from the start of the process
    probe: Probe  # just before the kill
    jobs: list[str]  # the jobs running at the kill (from the worker's log)
    left_running: tuple[int, ...]  # sync runs "running" just after it
    seen: str  # the target phase as seen when it was reached (the kill follows a delay)

    def line(self) -> str:
        p = self.probe
        return (f"kill {self.life:2d} [{self.target:7s}] at {self.after:5.2f} s: "
                f"{p.phase(self.jobs):32s} records {p.records:5d}, accruals {p.accruals:5d}, "
                f"verified {p.verified:3d}, unbooked {p.unbooked:5d}, "
                f"running runs {list(p.running_ids)}; target seen: {self.seen}"
                f"\n      jobs: {', '.join(self.jobs) or '-'}"
                + "".join(f"\n      db: {line}" for line in p.activity[:4]))


@dataclass
class Crashes:
    rng: random.Random
    env: dict[str, str]
    log_file: Path
    records: int  # the data set's: once stored and booked, only random kills remain
    kills: list[Kill] = field(default_factory=list)
    seen: str = "-"

    async def life(self, number: int, target: str) -> None:
        """Start the worker, wait for the target phase, SIGKILL it."""
        before = await probe()
        with self.log_file.open("a") as log:  # noqa: ASYNC230 (a line between two lives)
            log.write(f"\n===== life {number}: kill at {target} =====\n")
        started = time.monotonic()
        self.seen = "-"
        process = await spawn_bot(["worker"], self.env, self.log_file)
        try:
            state = await self._wait_for(target, before.max_run_id, started, process)
            jobs = running_jobs(self.log_file.read_text())  # noqa: ASYNC240 (small, once)
        finally:
            process.kill()  # SIGKILL
            await process.wait()
        after = time.monotonic() - started
        # Runs still "running" now belong to a dead worker: the ones this kill interrupted
        # (and any earlier one not closed yet).
        left_running = (await probe()).running_ids
        self.kills.append(Kill(number, target, after, state, jobs, left_running, self.seen))
        print(self.kills[-1].line())

    async def _wait_for(self, target: str, run_id: int, started: float,
                        process: Any) -> Probe:
        """The state at the kill: the target phase reached (plus a random delay), or after
        PHASE_WAIT, or once there is nothing left to sync or book (then a random moment)."""
        delay = {"random": self.rng.uniform(0.3, 4.0), "sync": self.rng.uniform(0.2, 3.0),
                 "stored": self.rng.uniform(0.0, 0.5), "booking": self.rng.uniform(0.0, 0.05)}
        if target != "random":
            while time.monotonic() - started < PHASE_WAIT:
                if process.returncode is not None:
                    log = self.log_file.read_text()[-5000:]  # noqa: ASYNC240 (failing)
                    raise AssertionError(f"the worker exited ({process.returncode})\n{log}")
                state = await probe(run_id)
                if ((target == "sync" and any(i > run_id for i in state.running_ids))
                        or (target == "stored" and state.stored_now)
                        or (target == "booking" and state.booking and state.unbooked)):
                    self.seen = f"{state.phase([])} {delay[target]:.2f} s before"
                    await asyncio.sleep(delay[target])
                    return await probe(run_id)
                if (state.records == self.records and not state.pending
                        and not state.unbooked and not state.running):
                    break  # all done: this target will not come again
                await asyncio.sleep(0.01)
        await asyncio.sleep(max(0.0, delay["random"] - (time.monotonic() - started)))
        return await probe(run_id)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[Dataset, str]]:
    dataset = build_dataset(SEED)
    faults = Faults()
    faults.set("bitget", slow=10**9, slow_seconds=BITGET_DELAY)
    server = TestServer(create_app(dataset, faults), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield dataset, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def delete_arq_keys(redis: Redis, prefix: str) -> int:
    """Every key of this test's worker: its own prefix, arq's keys of the jobs it queued
    (sync jobs carry the prefix; arq names cron jobs without it, so those are found through
    this queue, and their results through the queue named in them)."""
    queue = f"{prefix}:queue"
    keys: set[bytes | str] = set()
    for pattern in (f"{prefix}:*", f"arq:*:{prefix}:*"):
        keys.update([key async for key in redis.scan_iter(match=pattern)])
    for job_id in await redis.zrange(queue, 0, -1):
        name = job_id.decode() if isinstance(job_id, bytes) else job_id
        keys.update(f"arq:{kind}:{name}" for kind in ("job", "in-progress", "retry", "result"))
    for cron_job in cron_jobs(prefix):
        async for key in redis.scan_iter(match=f"arq:result:{cron_job.name}:*"):
            raw = await redis.get(key)
            if raw is not None and deserialize_result(raw).queue_name == queue:
                keys.add(key)
    return int(await redis.delete(*keys)) if keys else 0


# --- the test -------------------------------------------------------------------------------


async def test_worker_killed_during_sync_and_booking_books_everything_once(
    db: str, simulator: tuple[Dataset, str], redis: Redis, redis_prefix: str, tmp_path: Path,
) -> None:
    test_started = time.monotonic()
    dataset, url = simulator
    expected = Expected.of(dataset)
    assert len(expected.records) >= 3000 and len(expected.user_of) >= 300
    assert all(commission > 0 for commission in expected.records.values())

    await User.bulk_create([User(id=user_id, first_name=f"T{user_id}")
                            for user_id in expected.user_of.values()])
    await ExchangeAccount.bulk_create([
        ExchangeAccount(user_id=user_id, exchange_id=exchange_id, uid=uid)  # PENDING
        for (exchange_id, uid), user_id in expected.user_of.items()
    ])

    env = {
        "DATABASE_URL": db, "REDIS_URL": TEST_REDIS_URL, "REDIS_PREFIX": redis_prefix,
        "SECRET_KEY": "crash-secret", "DATA_DIR": str(tmp_path / "data"),
        "SYNC_FIRST_LOOKBACK_DAYS": str(DAYS),
        # Should a deep re-read come up, it reads a day, not 35.
        "SYNC_DEEP_REREAD_DAYS": "1",
    }
    for exchange_id in EXCHANGE_IDS:
        name = exchange_id.upper()
        env |= {f"EXCHANGE_{name}_API_URL": f"{url}/{exchange_id}",
                f"EXCHANGE_{name}_API_KEY": dataset.api_key,
                f"EXCHANGE_{name}_API_SECRET": "s", f"EXCHANGE_{name}_API_PASSWORD": "p"}

    rng = random.Random(SEED)
    targets = TARGETS[:]
    rng.shuffle(targets)
    crashes = Crashes(rng, env, tmp_path / "worker.log", len(expected.records))
    sizes = ", ".join(f"{e} {sum(1 for k in expected.records if k[0] == e)}"
                      for e in EXCHANGE_IDS)
    print(f"\nseed {SEED}: {len(expected.records)} records ({sizes}) over "
          f"{len(expected.user_of)} traders; worker log {crashes.log_file}")
    try:
        for number, target in enumerate(targets, start=1):
            await crashes.life(number, target)
        assert len(crashes.kills) >= 10
        hit = {word: sum(1 for kill in crashes.kills if word in kill.probe.phase(kill.jobs))
               for word in ("sync", "storing", "verify", "booking")}
        print(f"{len(crashes.kills)} kills; phases hit (a kill can hit several): {hit}")

        # The last restart: the worker alone must bring everything to its end.
        with crashes.log_file.open("a") as log:  # noqa: ASYNC230
            log.write("\n===== last life: runs to the end =====\n")
        restarted = time.monotonic()
        process = await spawn_bot(["worker"], env, crashes.log_file)
        try:
            resume = await wait_until_booked(expected, restarted, process, crashes.log_file)
            print(f"resumed: all {len(expected.records)} records booked {resume:.1f} s after "
                  f"the last restart (bound {RESUME_BOUND:.0f} s)")
            await wait_until_quiet(redis, redis_prefix)
        finally:
            await stop_process(process)
    finally:
        deleted = await delete_arq_keys(redis, redis_prefix)
        print(f"{deleted} Redis keys of the test's worker deleted")

    await assert_books(expected, crashes.kills)
    print(f"runtime {time.monotonic() - test_started:.1f} s")


async def wait_until_booked(expected: Expected, restarted: float, process: Any,
                            log_file: Path) -> float:
    """Seconds from the restart until every account is verified and every record booked."""
    state = await probe()
    while time.monotonic() - restarted < RESUME_BOUND:
        if process.returncode is not None:
            raise AssertionError(f"the worker exited by itself ({process.returncode})")
        state = await probe()
        if (state.records == len(expected.records) and state.pending == 0
                and state.unbooked == 0):
            return time.monotonic() - restarted
        await asyncio.sleep(0.25)
    runs = await SyncRun.all().order_by("id").values_list(
        "id", "exchange_id", "trigger", "status", "error_class")
    pending = await ExchangeAccount.filter(status="pending").values_list("exchange_id", flat=True)
    per_exchange = {e: sum(1 for p in pending if p == e) for e in EXCHANGE_IDS}
    raise AssertionError(
        f"not everything booked {RESUME_BOUND:.0f} s after the last restart: {state}\n"
        f"pending accounts per exchange: {per_exchange}\nsync runs: {runs}\n"
        f"--- worker log (end) ---\n{log_file.read_text()[-6000:]}")  # noqa: ASYNC240


async def wait_until_quiet(redis: Redis, prefix: str, within: float = 30) -> None:
    """Until no sync is queued or running, so that stopping the worker interrupts nothing."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        queued = [job for job in await redis.zrange(f"{prefix}:queue", 0, -1)
                  if b":sync:" in job]
        if not queued and not await SyncRun.filter(status="running").exists():
            return
        await asyncio.sleep(0.25)
    raise AssertionError("the worker did not come to rest")


async def assert_books(expected: Expected, kills: list[Kill]) -> None:
    connection = Tortoise.get_connection("default")

    async def rows(sql: str, *params: Any) -> list[dict[str, Any]]:
        return await connection.execute_query_dict(sql, list(params))

    # Every record stored once, with the simulator's numbers.
    stored = {(r["exchange_id"], r["uid"], r["day"].isoformat(), r["product"]):
              r["commission_usdt"] for r in await rows(
                  "SELECT exchange_id, uid, day, product, commission_usdt "
                  "FROM commission_records")}
    assert len(stored) == (await rows("SELECT count(*) AS n FROM commission_records"))[0]["n"]
    assert stored == expected.records
    assert sum(stored.values()) == sum(expected.records.values())

    # Every record booked exactly once, at its revision; one accrual entry per record version.
    booked = (await rows("""
        SELECT count(*) AS records, count(b.id) AS booked,
               count(*) FILTER (WHERE b.revision = r.revision) AS at_revision,
               (SELECT count(DISTINCT record_id) FROM rebate_accruals) AS distinct_records,
               (SELECT count(*) FROM rebate_accruals) AS accruals
        FROM commission_records r LEFT JOIN rebate_accruals b ON b.record_id = r.id
    """))[0]
    n = len(expected.records)
    assert booked == {"records": n, "booked": n, "at_revision": n, "distinct_records": n,
                      "accruals": n}, booked
    kinds = {r["kind"]: r["n"] for r in await rows(
        "SELECT kind, count(*) AS n FROM ledger_entries GROUP BY kind")}
    assert kinds == {"accrual": n}, kinds
    keys = {r["idempotency_key"] for r in await rows(
        "SELECT idempotency_key FROM ledger_entries WHERE idempotency_key LIKE 'accrual:%'")}
    versions = {f"accrual:{r['source_key']}:r{r['revision']}" for r in await rows(
        "SELECT source_key, revision FROM commission_records")}
    assert keys == versions

    # No run left running; the interrupted ones are closed as such, and only ones we killed.
    runs = await SyncRun.all().order_by("id")
    assert not [run.id for run in runs if run.status == "running"]
    interrupted = {run.id for run in runs if run.error_class == INTERRUPTED}
    assert all(run.status == "failed" for run in runs if run.id in interrupted)
    killed_running = {run_id for kill in kills
                      for run_id in (*kill.probe.running_ids, *kill.left_running)}
    assert interrupted <= killed_running, (interrupted, killed_running)
    left_by_kills = {run_id for kill in kills for run_id in kill.left_running}
    assert left_by_kills, "no kill hit a sync run"
    assert left_by_kills <= interrupted, (left_by_kills, interrupted)
    others = [(run.id, run.exchange_id, run.status, run.error_class) for run in runs
              if run.exchange_id in EXCHANGE_IDS and run.status != "ok"
              and run.id not in interrupted]
    assert not others, others
    print(f"sync runs: {len(runs)}, {len(interrupted)} closed as interrupted "
          f"({sum(1 for run in runs if run.exchange_id in EXCHANGE_IDS and run.status == 'ok')}"
          f" ok runs of {'/'.join(EXCHANGE_IDS)})")

    # Only invitees without a single record may still be pending (see _PROBE's "pending").
    pending = set(await ExchangeAccount.filter(status="pending").values_list(
        "exchange_id", "uid"))
    with_records = {(exchange_id, uid) for exchange_id, uid, _, _ in expected.records}
    assert not pending & with_records, sorted(pending & with_records)
    print(f"accounts still pending: {len(pending)} (invitees without any record: "
          f"{len(set(expected.user_of) - with_records)})")

    # Balances against the independent sums.
    balances = {int(r["owner"]): r["balance"] for r in await rows(
        "SELECT owner, balance FROM ledger_accounts WHERE kind = 'trader_available'")}
    assert {user_id: balances.get(user_id, Decimal(0)) for user_id in expected.balances} \
        == expected.balances
    assert set(balances) <= set(expected.balances)
    receivables = {r["owner"]: -r["balance"] for r in await rows(
        "SELECT owner, balance FROM ledger_accounts WHERE kind = 'exchange_receivable'")}
    assert receivables == expected.commission

    books = await check_books(now=datetime.now(UTC), grace=timedelta(0))
    assert books.ok, books.describe()
    report = await Ledger().check_invariants()
    assert report.ok, report.violations
