"""Mini App benchmark (issue 13): the dashboard API under load vs a bare aiohttp handler doing one
indexed asyncpg query, measured in the same run, with the issue's data in the database.

    .venv/bin/python -m bench.bench_miniapp            # 5M commission records, 100k traders, 15 s
    .venv/bin/python -m bench.bench_miniapp --records 50000 --traders 1000 --duration 3

Creates its own database (dropped at the end; BENCH_MINIAPP_KEEP_DB=1 keeps it, named after the
scale, and later runs of the same scale reuse it) and loads it in SQL: the traders, two exchange
accounts each, their commission records spread over the last 90 days and the 11 exchanges (the
last two days' commission not reported yet, so estimated), one rebate accrual per record at the
exchange's share, and the ledger: one opening entry per trader (trader available, service
revenue, the exchanges' receivables), so the balances the dashboard shows are the postings'.

Two servers, each in its own process, on 127.0.0.1:
- the real web app (webapp.app.create_web_app, built like tests/web/test_api.py's client and
  bot/web_process.py) answering ``GET /api/dashboard?period=30d`` signed in with
  ``Authorization: tma <initData>``, each request a random trader's own initData;
- a bare aiohttp app whose one handler runs one query on the (user_id, day) index of
  rebate_accruals for a random trader and answers JSON.

The load: ``wrk -t2 -c64`` (Debian's wrk, with a Lua script choosing the trader) where it is on
PATH, else an aiohttp client in its own process with 64 connections (``--generator``). Before
each timed run the tables the dashboard reads and their indexes are warmed, the same for both
sides (pg_prewarm, else a read of each: these machines drop file pages some 30 s after they
were last read), then a second of load warms the server, its pool and caches, then
``--duration`` seconds are timed. Sides alternate for ``--rounds`` rounds and each keeps its
best one (the machine is shared). Printed: requests/s and p50/p99 of each side, the ratio
(goal >= 0.5) and the p99 factor (goal <= 2), then where the dashboard's time goes: CPU per
request of the web process and of the PostgreSQL backends serving it, the dashboard's queries
alone (mean time each, and EXPLAIN ANALYZE for one trader), and with ``--py-spy`` py-spy's
samples of the web process during the last dashboard run.

Scale: --records/--traders/--duration or BENCH_MINIAPP_RECORDS/_TRADERS/_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from bench.miniapp_data import (
    USER_BASE,
    check_books,
    credentials,
    database_exists,
    database_url,
    drop_database,
    load,
    migrate,
    warm,
)
from bench.miniapp_load import (
    Load,
    generate_load,
    run_aiohttp,
    run_wrk,
)
from bench.miniapp_servers import (
    BARE_PATH,
    serve_bare,
    serve_dashboard,
    write_tokens,
)

ROOT = Path(__file__).resolve().parent.parent
RATIO_GOAL = 0.5
P99_GOAL = 2.0
DASHBOARD_PATH = "/api/dashboard?period=30d"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_miniapp", *args, cwd=ROOT)


async def _stop(process: asyncio.subprocess.Process | None) -> None:
    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


async def _ready(url: str, headers: dict[str, str], process: asyncio.subprocess.Process) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert process.returncode is None, f"the server behind {url} exited"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url, headers=headers) as answer:
                    body = await answer.text()
                    if answer.status == 200:
                        return
                    raise AssertionError(f"{url}: {answer.status} {body[:500]}")
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


# --- CPU time of the processes involved -----------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _postgres_cpu(database: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``database`` (their process title names
    it; the servers' pools keep theirs open through a timed run)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
                if title[:1] == [b"postgres:"] and database.encode() in title[1:5]:
                    total += _cpu_seconds(int(entry.name))
    return total


# --- the run --------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    url: str
    path: str
    pid: int
    best: Load | None = None
    server_cpu_ms: float = float("nan")  # per request, in the best round
    postgres_cpu_ms: float = float("nan")


async def time_side(side: Side, conn: asyncpg.Connection, args: argparse.Namespace,
                    tokens: Path, generator: str, spy: Path | None = None) -> Load:
    """Warm, then time one side; with ``spy``, py-spy samples the server meanwhile."""
    await warm(conn)

    async def load(seconds: float) -> Load:
        if generator == "wrk":
            return await run_wrk(side.url, side.path, side.name, tokens, args.connections,
                                 args.threads, seconds)
        return await run_aiohttp(side.url, side.path, side.name, tokens, args.connections,
                                 seconds)

    await load(1.0 if args.duration >= 5 else 0.5)  # warm the server, its pool and caches
    server_before, postgres_before = _cpu_seconds(side.pid), _postgres_cpu(args.database)
    sampler = None
    if spy is not None:
        sampler = await asyncio.create_subprocess_exec(
            args.py_spy, "record", "--pid", str(side.pid), "--duration",
            str(max(1, int(args.duration) - 1)), "--rate", "100", "--nonblocking",
            "--format", "raw", "--output", str(spy),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    result = await load(args.duration)
    if sampler is not None:
        await sampler.wait()
    server_cpu = _cpu_seconds(side.pid) - server_before
    postgres_cpu = _postgres_cpu(args.database) - postgres_before
    print(f"  {side.name:9s} {result.rate:9,.0f} req/s  p50 {result.p50_ms:7.1f} ms  "
          f"p99 {result.p99_ms:7.1f} ms  max {result.max_ms:7.1f} ms  "
          f"{result.errors} errors  (server CPU {server_cpu:5.1f} s, "
          f"PostgreSQL CPU {postgres_cpu:5.1f} s)", flush=True)
    if side.best is None or result.rate > side.best.rate:
        side.best = result
        side.server_cpu_ms = server_cpu * 1000 / max(1, result.requests)
        side.postgres_cpu_ms = postgres_cpu * 1000 / max(1, result.requests)
    return result


# py-spy names a frame "function (path:line)", the path relative to sys.path.
PROJECT_CODE = ("(webapp/", "(services/", "(bot/", "(babel/", "(tortoise/", "(asyncpg/")


def spy_report(raw: Path, top: int = 18) -> list[str]:
    """py-spy's samples of the web process: the project's functions (and the libraries they
    call most) by the share of samples they were on the stack, then the innermost frames.
    A process waiting for a core in a system call is sampled there too: on a busy machine the
    socket writes stand for that wait as much as for the writes."""
    if not raw.exists():
        return ["  (py-spy wrote nothing)"]
    inclusive: dict[str, int] = {}
    innermost: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        innermost[frames[-1]] = innermost.get(frames[-1], 0) + samples
        for frame in set(frames):
            if any(part in frame for part in PROJECT_CODE):
                inclusive[frame] = inclusive.get(frame, 0) + samples
    if not total:
        return ["  (no samples)"]
    lines = [f"  {total} samples; functions on the stack (project code, babel, tortoise, "
             f"asyncpg):"]
    for frame, samples in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {samples * 100 / total:5.1f}%  {frame[:110]}")
    lines.append("  innermost frames:")
    for frame, samples in sorted(innermost.items(), key=lambda kv: -kv[1])[:8]:
        lines.append(f"    {samples * 100 / total:5.1f}%  {frame[:110]}")
    return lines


async def check_answer(conn: asyncpg.Connection, url: str, trader: list[str]) -> None:
    """The dashboard of one trader shows the loaded figures: the ledger's available balance
    and the accruals' rebate of the period."""
    import aiohttp

    user_id = int(trader[0])
    async with aiohttp.ClientSession() as session, session.get(
            url, headers={"Authorization": f"tma {trader[1]}"}) as answer:
        assert answer.status == 200, await answer.text()
        body = await answer.json()
    available = await conn.fetchval(
        "SELECT balance FROM ledger_accounts WHERE kind = 'trader_available' AND owner = $1",
        str(user_id))
    rebate = await conn.fetchval(
        "SELECT coalesce(sum(trader_amount), 0) FROM rebate_accruals WHERE user_id = $1 "
        "AND day >= $2::date", user_id, date.fromisoformat(body["start"]))
    shown = (Decimal(body["balance"]["available"]["amount"]),
             Decimal(body["totals"]["rebate"]["amount"]))
    assert shown == (available, rebate), (shown, available, rebate)


async def query_profile(conn: asyncpg.Connection, traders: int, today: date,
                        samples: int) -> list[str]:
    """The dashboard's statement alone, one connection, random traders: mean ms; and its
    plan for one trader."""
    start = today - timedelta(days=29)
    previous = start - timedelta(days=30)
    from services import dashboard

    # (label, sql, the arguments for a trader): what DashboardService.read sends.
    queries: list[tuple[str, str, Callable[[int], tuple[Any, ...]]]] = [
        ("user, standing, 60 days", dashboard._READ,
         lambda user: (user, str(user), "USDT", previous, today, start)),
    ]
    rng = random.Random(5)
    lines = []
    total = 0.0
    for label, sql, arguments in queries:
        prepared = await conn.prepare(sql)
        started = time.perf_counter()
        for _ in range(samples):
            await prepared.fetch(*arguments(USER_BASE + rng.randrange(traders)))
        mean = (time.perf_counter() - started) * 1000 / samples
        total += mean
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) {sql}",
                                *arguments(USER_BASE + 1))
        head = plan[0][0].strip()
        execution = next((r[0].strip() for r in plan if r[0].startswith("Execution")), "")
        buffers = next((r[0].strip() for r in plan if "Buffers" in r[0]), "")
        lines.append(f"  {label:24s} {mean:6.2f} ms   {head[:60]}; {buffers}; {execution}")
    if len(queries) > 1:
        lines.append(f"  {'all of them':24s} {total:6.2f} ms   (one connection, {samples} random "
                     f"traders each, round trips included)")
    return lines


async def run(args: argparse.Namespace) -> dict[str, float]:
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "aiohttp"
    keep = os.environ.get("BENCH_MINIAPP_KEEP_DB", "") not in ("", "0")
    name = (f"cr_bench_miniapp_keep_{args.records}_{args.traders}" if keep
            else f"cr_bench_miniapp_{uuid.uuid4().hex[:6]}")
    url = database_url(name)
    args.database = name
    today = datetime.now(UTC).date()
    prefix = f"bench-miniapp-{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="cr-bench-miniapp-"))
    tokens = work / "traders.tsv"
    servers: list[asyncio.subprocess.Process] = []
    try:
        reuse = keep and await database_exists(name)
        conn: asyncpg.Connection | None = None
        if reuse:
            conn = await asyncpg.connect(**credentials(url))
            loaded = await conn.fetchval(
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
                "WHERE datname = current_database()")
            if loaded != f"loaded {today}":
                await conn.close()
                conn, reuse = None, False
                await drop_database(name)
        if not reuse:
            print(f"loading {args.records:,} commission records of {args.traders:,} traders "
                  f"into {name} ...", flush=True)
            started = time.perf_counter()
            await migrate(url)
            conn = await asyncpg.connect(**credentials(url))
            await load(conn, args.records, args.traders, today)
            await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS 'loaded {today}'")
            print(f"  loaded in {time.perf_counter() - started:.0f} s (migrations included)",
                  flush=True)
        else:
            print(f"reusing {name} (BENCH_MINIAPP_KEEP_DB)", flush=True)
        assert conn is not None
        await check_books(conn)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM commission_records) AS records, "
            "(SELECT count(*) FROM rebate_accruals) AS accruals, "
            "(SELECT count(*) FROM users) AS traders, "
            "(SELECT pg_size_pretty(pg_total_relation_size('rebate_accruals'))) AS size")
        print(f"  {counts['records']:,} commission records, {counts['accruals']:,} accruals "
              f"({counts['size']}), {counts['traders']:,} traders", flush=True)
        write_tokens(tokens, args.traders)

        dash_port, bare_port = free_port(), free_port()
        dashboard = await _spawn("--serve", "dashboard", str(dash_port), url, prefix)
        servers.append(dashboard)
        bare = await _spawn("--serve", "bare", str(bare_port), url, prefix)
        servers.append(bare)
        some_trader = tokens.open().readline().rstrip("\n").split("\t")
        await _ready(f"http://127.0.0.1:{dash_port}{args.path}",
                     {"Authorization": f"tma {some_trader[1]}"}, dashboard)
        await _ready(f"http://127.0.0.1:{bare_port}{BARE_PATH}?user={some_trader[0]}", {},
                     bare)
        sides = [Side("bare", f"http://127.0.0.1:{bare_port}", BARE_PATH, bare.pid),
                 Side("dashboard", f"http://127.0.0.1:{dash_port}", args.path, dashboard.pid)]
        print(f"timing: {generator}, {args.connections} connections, {args.duration:g} s a "
              f"side, {args.rounds} round(s), {args.path} vs {BARE_PATH} ...", flush=True)
        if args.path == DASHBOARD_PATH:
            await check_answer(conn, f"{sides[1].url}{args.path}", some_trader)
        spy = work / "dashboard.pyspy" if args.py_spy else None
        for number in range(1, args.rounds + 1):
            for side in sides:
                last = number == args.rounds and side is sides[1]
                await time_side(side, conn, args, tokens, generator, spy if last else None)
        spied = spy_report(spy) if spy is not None else []
        profile = await query_profile(conn, args.traders, today, args.profile_samples)
        await conn.close()
    finally:
        for server in servers:
            await _stop(server)
        shutil.rmtree(work, ignore_errors=True)
        if not keep:
            await drop_database(name)
    bare_side, dash_side = sides
    assert bare_side.best is not None and dash_side.best is not None
    b, d = bare_side.best, dash_side.best
    ratio = d.rate / b.rate
    factor = d.p99_ms / b.p99_ms
    print(f"results (best of {args.rounds}; {args.records:,} records, {args.traders:,} "
          f"traders; {generator} -c{args.connections}, {args.duration:g} s):")
    print(f"  bare handler      {b.rate:9,.0f} req/s   p50 {b.p50_ms:7.1f} ms   "
          f"p99 {b.p99_ms:7.1f} ms   ({b.errors} errors)")
    print(f"  dashboard         {d.rate:9,.0f} req/s   p50 {d.p50_ms:7.1f} ms   "
          f"p99 {d.p99_ms:7.1f} ms   ({d.errors} errors)")
    print(f"  dashboard / bare  {ratio:9.2f}   (goal >= {RATIO_GOAL}: "
          f"{'met' if ratio >= RATIO_GOAL and not d.errors else 'MISSED'})")
    print(f"  p99 dashboard / bare {factor:6.2f}   (goal <= {P99_GOAL:g}: "
          f"{'met' if factor <= P99_GOAL and not d.errors else 'MISSED'})")
    print(f"miniapp: dashboard {d.rate:,.0f} req/s p99 {d.p99_ms:.0f} ms; bare {b.rate:,.0f} "
          f"req/s p99 {b.p99_ms:.0f} ms; ratio {ratio:.2f} (goal >= {RATIO_GOAL}); "
          f"p99 x{factor:.1f} (goal <= {P99_GOAL:g})")
    print("where the time goes (CPU per request, best rounds):")
    for side in sides:
        print(f"  {side.name:9s} web process {side.server_cpu_ms:6.2f} ms   "
              f"PostgreSQL {side.postgres_cpu_ms:6.2f} ms")
    print("the dashboard's statement alone (mean over random traders, round trip included; "
          "plan of one trader):")
    for line in profile:
        print(line)
    if spied:
        print(f"py-spy on the web process (the last dashboard run, {args.duration:g} s):")
        for line in spied:
            print(line)
    return {"dashboard_per_s": d.rate, "bare_per_s": b.rate, "ratio": ratio,
            "dashboard_p99_ms": d.p99_ms, "bare_p99_ms": b.p99_ms, "p99_factor": factor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    env = os.environ.get
    parser.add_argument("--records", type=int,
                        default=int(env("BENCH_MINIAPP_RECORDS", "5000000")))
    parser.add_argument("--traders", type=int,
                        default=int(env("BENCH_MINIAPP_TRADERS", "100000")))
    parser.add_argument("--duration", type=float,
                        default=float(env("BENCH_MINIAPP_SECONDS", "15")),
                        help="seconds of load per side and round")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generator", choices=("auto", "wrk", "aiohttp"), default="auto",
                        help="auto: wrk where it is on PATH, else the aiohttp client")
    parser.add_argument("--path", default=DASHBOARD_PATH, help="the web app's route timed")
    parser.add_argument("--profile-samples", type=int, default=300,
                        help="random traders for the queries-alone profile")
    parser.add_argument("--py-spy", nargs="?", const="py-spy", default=None, metavar="BIN",
                        help="sample the web process with py-spy during the last dashboard "
                             "run (needs py-spy: pip install py-spy)")
    parser.add_argument("--serve", nargs=4, metavar=("KIND", "PORT", "URL", "PREFIX"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--generate", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, port, url, prefix = args.serve
        if kind == "dashboard":
            serve_dashboard(int(port), url, prefix)
        else:
            serve_bare(int(port), url)
        return
    if args.generate:
        generate_load(args.generate, args.path, args.kind, args.tokens, args.connections,
                      args.duration)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
