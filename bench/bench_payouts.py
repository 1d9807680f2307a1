"""Payout benchmark (issue 12): auto-approved withdrawals paid through the exchange simulator by
the real worker (``python -m bot worker``), per second, vs arq's own rate for no-op jobs through
the same Redis with a worker of the same max_jobs, measured in the same run (warmed).

    .venv/bin/python -m bench.bench_payouts [--requests 10000]   # or BENCH_PAYOUTS_N=1000

N funded traders (commission booked by the real engine) each confirm one request under the
approval threshold (half internal transfers, half USDT-TRC20 on chain) through
WithdrawalService.create, followed, as the confirm handler does, by the pay_withdrawal job.
A request counts as sent when its status reaches ``sent`` or later (its audit row's time).
Printed: requests/s from the first confirm to the last sent, the ratio to the no-op job rate
(goal >= 0.2), p50/p95 from confirm to submitted and to sent, and where the worker's time went
(its payout_tick and pay_withdrawal runs, from its log). The simulator (its own process) answers
at once and moves a withdrawal on every ``--advance`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func
from tortoise import Tortoise

from bench.common import REDIS_URL, bench_database
from bot.worker import MAX_JOBS
from services.exchange_catalog import ExchangeCatalog
from services.jobs import enqueue_payout
from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import PayoutMethod, WithdrawalStatus
from services.payouts.addresses import check_address
from services.payouts.config import PayoutConfig
from services.payouts.requests import Destination, WithdrawalService
from services.rebates.booking import RebateEngine
from services.seed import seed_reference_data
from tests.e2e.processes import ROOT, free_port, spawn_bot, stop_process
from tests.e2e.test_crash_sync_booking import delete_arq_keys
from tests.payouts.helpers import TRON

GOAL = 0.2
AMOUNT = Decimal(100)  # under the $500 approval threshold: approved at create
WARM_REQUESTS = 20
USER_BASE = 8_000_000
COLUMNS = ["source_key", "exchange_id", "uid", "day", "product", "volume", "fee", "commission",
           "currency", "rate_to_usdt", "volume_usdt", "fee_usdt", "commission_usdt", "origin",
           "revision", "first_seen_at", "updated_at"]
DONE = ("withdrawal.sent", "withdrawal.completed")


def serve_simulator(port: int, advance: float) -> None:
    """The simulator's process: OKX and Bitget, no answer delay, auto-advance every ``advance``."""
    from aiohttp import web

    from sandbox.exchanges import Dataset, Faults, create_app
    from sandbox.exchanges.wallet import Wallets

    dataset = Dataset.build(["okx", "bitget"], traders=1, days=1, seed=1,
                            end_day=datetime.now(UTC).date() - timedelta(days=1))
    faults = Faults()
    web.run_app(create_app(dataset, faults, Wallets(faults, auto_advance_seconds=advance)),
                host="127.0.0.1", port=port, print=None)


async def noop(ctx: dict[str, Any], n: int) -> None:
    return None


async def arq_noop_rate(jobs: int) -> float:
    """No-op jobs per second through arq (pre-queued, a burst worker like the product's)."""
    redis = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    queue = f"bench-payouts-noop-{uuid.uuid4().hex[:6]}:queue"
    try:
        async def burst(count: int) -> float:
            for start in range(0, count, 200):
                await asyncio.gather(*(redis.enqueue_job("noop", n, _queue_name=queue)
                                       for n in range(start, min(count, start + 200))))
            worker = Worker(functions=[func(noop, name="noop", keep_result=0)],
                            queue_name=queue, redis_settings=RedisSettings.from_dsn(REDIS_URL),
                            burst=True, handle_signals=False, max_jobs=MAX_JOBS, keep_result=0,
                            max_tries=5)
            started = time.perf_counter()
            await worker.main()
            seconds = time.perf_counter() - started
            await worker.close()
            assert worker.jobs_complete == count, (worker.jobs_complete, count)
            return count / seconds

        await burst(min(jobs, 1000))  # warm
        return max([await burst(jobs) for _ in range(2)])
    finally:
        await redis.delete(queue)
        await redis.aclose()


async def fund_traders(count: int) -> list[tuple[int, str, str]]:
    """(user id, exchange, uid) of ``count`` traders, commission booked by the real engine."""
    now = datetime.now(UTC)
    day, joined = now.date() - timedelta(days=3), now - timedelta(days=30)
    traders = [(USER_BASE + n, "okx" if n % 4 < 2 else "bitget", str(60_000_000 + n))
               for n in range(count)]
    commission = Decimal(1000)
    address = check_address("TRC20", TRON).address
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        await conn.copy_records_to_table(
            "users", columns=["id", "first_name", "role", "signup_source", "is_banned",
                              "created_at"],
            records=[(u, "bench", "trader", "organic", False, joined) for u, _, _ in traders])
        await conn.copy_records_to_table(
            "exchange_accounts", columns=["user_id", "exchange_id", "uid", "status",
                                          "created_at", "verified_at"],
            records=[(u, ex, uid, "verified", joined, joined) for u, ex, uid in traders])
        await conn.copy_records_to_table("commission_records", columns=COLUMNS, records=[
            (f"{ex}:{uid}:{day}:spot", ex, uid, day, "spot", None, None, commission, "USDT",
             Decimal(1), None, None, commission, "api", 1, now, now) for _, ex, uid in traders])
        await conn.execute(
            "INSERT INTO payout_addresses (user_id, network_id, address, label, usable_from) "
            "SELECT u, 'USDT-TRC20', $1, '', now() - interval '1 minute' "
            "FROM unnest($2::bigint[]) u", address, [u for n, (u, _, _) in enumerate(traders)
                                                      if n % 2])
    await RebateEngine().accrue_all()
    available = await Ledger().balance(AccountRef.trader_available(traders[0][0]))
    assert available >= AMOUNT, f"a trader earned only {available}"
    return traders


async def place(service: WithdrawalService, arq: Any, prefix: str, n: int,
                trader: tuple[int, str, str], addresses: dict[int, int]) -> int:
    """One trader confirms a request, and the pay job is queued (as handlers/trader does)."""
    user_id, exchange_id, _ = trader
    if n % 2 == 0:
        where = Destination(PayoutMethod.INTERNAL, exchange_id=exchange_id)
    else:
        where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20",
                            address_id=addresses[user_id])
    made = await service.create(user_id, where, AMOUNT)
    assert made.status is WithdrawalStatus.APPROVED, made
    await enqueue_payout(arq, prefix, made.id)
    return made.id


async def scalar(sql: str, *args: object) -> Any:
    rows = await Tortoise.get_connection("default").execute_query(sql, list(args))
    return rows[1][0][0]


async def wait_sent(after_id: int, count: int, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        done = await scalar("SELECT count(*) FROM withdrawals WHERE id > $1 AND status IN "
                            "('sent', 'completed')", after_id)
        if done >= count or time.monotonic() > deadline:
            return int(done)
        await asyncio.sleep(0.5)


async def warm_tables() -> None:
    conn = Tortoise.get_connection("default")
    tables = await conn.execute_query_dict(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    for row in tables:
        await conn.execute_query(f'SELECT count(*) FROM "{row["tablename"]}"')


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def worker_breakdown(log: str) -> list[str]:
    """The worker's payout jobs after the timing mark: runs, time, what they did."""
    timed = log.split("===== timed =====", 1)[-1]
    lines = []
    for name in ("payout_tick", "pay_withdrawal"):
        took = [float(s) for s in re.findall(rf"([\d.]+)s ← \S*{name} ●", timed)]
        waited = [float(s) for s in re.findall(rf"([\d.]+)s → \S*{name}\(", timed)]
        failed = re.findall(rf"([\d.]+)s ! \S*{name} failed, (\w+)", timed)
        if took or failed:
            mean = statistics.mean(took) * 1000 if took else float("nan")
            lines.append(f"  {name:15s} {len(took):6d} runs ok, {sum(took):8.2f} s busy, mean "
                         f"{mean:8.1f} ms; {len(failed)} failed "
                         f"({', '.join(sorted({kind for _, kind in failed})) or '-'}); "
                         f"queued p95 {pct(waited, 95):6.2f} s")
    ticks = re.findall(r"payout_tick ● '[^']*?paid (\d+), followed (\d+)", timed)
    if ticks:
        lines.append(f"  ticks paid {sum(int(p) for p, _ in ticks)}, followed "
                     f"{sum(int(f) for _, f in ticks)}")
    lines.append(f"  pay_withdrawal answers: submitted {timed.count(': submitted')}, "
                 f"not claimed {timed.count(': not claimed')}")
    return lines


async def run(requests: int, advance: float, within: float) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="cr-bench-payouts-"))
    log_file = work / "worker.log"
    prefix = f"bench-payouts-{uuid.uuid4().hex[:6]}"
    port = free_port()
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_payouts", "--serve-simulator", str(port),
        "--advance", str(advance), cwd=ROOT)
    worker = None
    arq = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    try:
        async with bench_database("payouts") as database_url:
            await seed_reference_data(ExchangeCatalog())
            print(f"funding {requests + WARM_REQUESTS:,} traders ...", flush=True)
            traders = await fund_traders(requests + WARM_REQUESTS)
            addresses = {row["user_id"]: row["id"] for row in await Tortoise.get_connection(
                "default").execute_query_dict("SELECT id, user_id FROM payout_addresses")}
            await Tortoise.get_connection("default").execute_query("VACUUM ANALYZE")
            noop_rate = await arq_noop_rate(max(requests, 2000))
            print(f"arq no-op jobs (max_jobs {MAX_JOBS}): {noop_rate:,.0f} jobs/s", flush=True)

            url = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:
                for _ in range(200):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"{url}/_sim/withdrawals") as answer:
                            if answer.status == 200:
                                break
                    await asyncio.sleep(0.1)
            env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
                   "SECRET_KEY": "bench-payouts", "DATA_DIR": str(work / "data"),
                   "SYNC_FIRST_LOOKBACK_DAYS": "1", "WORKER_METRICS_PORT": "0"}
            for exchange_id in ("okx", "bitget"):
                name = exchange_id.upper()
                env |= {f"EXCHANGE_{name}_API_URL": f"{url}/{exchange_id}",
                        f"EXCHANGE_{name}_API_KEY": "sim-key",
                        f"EXCHANGE_{name}_API_SECRET": "s", f"EXCHANGE_{name}_API_PASSWORD": "p"}
            worker = await spawn_bot(["worker"], env, log_file)
            while not await arq.exists(f"{prefix}:worker:heartbeat"):
                assert worker.returncode is None, log_file.read_text()[-3000:]
                await asyncio.sleep(0.2)
            service = WithdrawalService(Ledger(), PayoutConfig(),
                                        internal_exchanges=frozenset({"okx", "bitget"}))

            # Warm: a few requests through the whole path, then every table read once.
            for n in range(WARM_REQUESTS):
                await place(service, arq, prefix, n, traders[n], addresses)
            assert await wait_sent(0, WARM_REQUESTS, 120) == WARM_REQUESTS, \
                log_file.read_text()[-3000:]
            last_warm = await scalar("SELECT max(id) FROM withdrawals")
            await warm_tables()
            with log_file.open("a") as log:
                log.write("\n===== timed =====\n")

            print(f"timing {requests:,} requests ...", flush=True)
            started = time.perf_counter()
            gate = asyncio.Semaphore(8)  # traders confirming at the same time

            async def one(n: int) -> None:
                async with gate:
                    await place(service, arq, prefix, n, traders[n], addresses)

            await asyncio.gather(*(one(n) for n in range(WARM_REQUESTS, len(traders))))
            created_s = time.perf_counter() - started
            reached = await wait_sent(last_warm, requests, within)
            rows = await Tortoise.get_connection("default").execute_query_dict(
                "SELECT extract(epoch FROM w.created_at)::float8 AS c, extract(epoch FROM "
                "min(a.created_at) FILTER (WHERE a.action = 'withdrawal.submitted'))::float8 "
                "AS s, extract(epoch FROM min(a.created_at) FILTER (WHERE a.action = ANY($2)))"
                "::float8 AS d FROM withdrawals w LEFT JOIN audit_log a ON a.object_type = "
                "'withdrawal' AND a.object_id = w.id::text WHERE w.id > $1 GROUP BY w.id",
                [last_warm, list(DONE)])
            statuses = await Tortoise.get_connection("default").execute_query_dict(
                "SELECT status, count(*) AS n FROM withdrawals WHERE id > $1 GROUP BY status",
                [last_warm])
            await stop_process(worker)  # before its database is dropped
    finally:
        if worker is not None:
            await stop_process(worker)
        await stop_process(sim)
        await delete_arq_keys(arq, prefix)
        await arq.aclose()

    first = min(r["c"] for r in rows)
    sent = [r["d"] - r["c"] for r in rows if r["d"] is not None]
    submitted = [r["s"] - r["c"] for r in rows if r["s"] is not None]
    span = max(r["d"] for r in rows if r["d"] is not None) - first
    rate = len(sent) / span
    ratio = rate / noop_rate
    print(f"results ({requests:,} requests, 8 confirming at a time, simulator advance "
          f"{advance:g} s):")
    print(f"  statuses              {dict((r['status'], r['n']) for r in statuses)}")
    if reached < requests:
        print(f"  INCOMPLETE: {reached:,} of {requests:,} sent within {within:.0f} s")
    print(f"  confirms              {requests / created_s:10,.1f} requests/s "
          f"({created_s:.2f} s, create + enqueue)")
    print(f"  confirm -> last sent  {span:10.2f} s")
    print(f"  payouts               {rate:10,.1f} requests/s sent")
    print(f"  arq no-op jobs        {noop_rate:10,.1f} jobs/s")
    print(f"  payouts / no-op jobs  {ratio:10.3f}   (goal >= {GOAL}: "
          f"{'met' if ratio >= GOAL and reached >= requests else 'MISSED'})")
    print(f"  confirm -> submitted  p50 {pct(submitted, 50):7.2f} s   p95 "
          f"{pct(submitted, 95):7.2f} s")
    print(f"  confirm -> sent       p50 {pct(sent, 50):7.2f} s   p95 {pct(sent, 95):7.2f} s")
    print("where the worker's time went (its log, timed part):")
    for line in worker_breakdown(log_file.read_text()):
        print(line)
    print(f"  worker log: {log_file}")
    return {"payouts_per_s": rate, "noop_jobs_per_s": noop_rate, "ratio": ratio,
            "p95_confirm_to_sent_s": pct(sent, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int,
                        default=int(os.environ.get("BENCH_PAYOUTS_N", "10000")))
    parser.add_argument("--advance", type=float, default=0.2,
                        help="the simulator moves a withdrawal on every this many seconds")
    parser.add_argument("--within", type=float, default=None,
                        help="give up waiting for sent after this many seconds")
    parser.add_argument("--serve-simulator", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_simulator:
        serve_simulator(args.serve_simulator, args.advance)
        return
    within = args.within if args.within is not None else 120 + args.requests * 1.0
    asyncio.run(run(args.requests, args.advance, within))


if __name__ == "__main__":
    main()
