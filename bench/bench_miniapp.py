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
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg

from bench.common import ADMIN_DATABASE_URL, REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
RATIO_GOAL = 0.5
P99_GOAL = 2.0
BOT_TOKEN = "424242:BENCH-miniapp-token-not-a-real-bot"
USER_BASE = 30_000_000
UID_BASE = 70_000_000
DAYS = 90  # the records are spread over this many days before today
ESTIMATED_DAYS = 2  # the newest days: commission not reported yet, estimated at 30% of the fee
ESTIMATE_RATE = "0.3"
DASHBOARD_PATH = "/api/dashboard?period=30d"
BARE_PATH = "/bare"
# What the dashboard reads (services/dashboard.py, services/balances.py, services/sync, the
# users service): warmed, with their indexes, before each side's timed run.
READ_TABLES = ("rebate_accruals", "users", "exchange_accounts", "ledger_accounts",
               "ledger_holds", "exchanges", "sync_state", "sync_runs")


# --- the database -------------------------------------------------------------------------


def _credentials(url: str) -> dict[str, Any]:
    from bot.db import parse_database_url

    creds = parse_database_url(url)
    return {"host": creds["host"], "port": creds["port"], "user": creds["user"],
            "password": creds["password"] or None, "database": creds["database"]}


def _database_url(name: str) -> str:
    return f"{ADMIN_DATABASE_URL.partition('?')[0].rsplit('/', 1)[0]}/{name}"


async def _exists(name: str) -> bool:
    admin = await asyncpg.connect(**_credentials(ADMIN_DATABASE_URL))
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(**_credentials(ADMIN_DATABASE_URL))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _layout(records: int, traders: int) -> tuple[int, int, int]:
    """(accounts per trader, days per account, day stride): every record its own
    (account, day), the days of an account spread over the DAYS before today."""
    per_trader = -(-records // traders)
    accounts = min(11, max(1, -(-per_trader // 25)))
    days = -(-per_trader // accounts)
    if days > DAYS:
        raise SystemExit(f"{records:,} records for {traders:,} traders: more than "
                         f"{11 * DAYS} per trader")
    return accounts, days, max(1, DAYS // days)


async def _migrate(url: str) -> None:
    from tortoise import Tortoise

    from bot import db as bot_db
    from services.exchange_catalog import ExchangeCatalog
    from services.seed import seed_reference_data

    await bot_db.ensure_database(url)
    await bot_db.migrate(url)
    await Tortoise.close_connections()
    await bot_db.open_database(url, pool_max=2)
    try:
        await seed_reference_data(ExchangeCatalog())
    finally:
        await bot_db.close_database()


async def load(conn: asyncpg.Connection, records: int, traders: int, today: date) -> None:
    """The traders, their accounts, commission records, accruals and ledger, in SQL."""
    accounts, days, stride = _layout(records, traders)
    await conn.execute("SET synchronous_commit = off; SET work_mem = '256MB'; "
                       "SET maintenance_work_mem = '1GB'; SELECT setseed(0.42)")
    exchanges = await conn.fetchval("SELECT count(*) FROM exchanges")
    assert exchanges >= accounts, f"{exchanges} exchanges seeded, {accounts} accounts a trader"

    async def step(label: str, sql: str, *args: object) -> None:
        started = time.perf_counter()
        status = await conn.execute(sql, *args)
        print(f"  {label:20s} {status.rsplit(' ', 1)[-1]:>10} rows  "
              f"{time.perf_counter() - started:6.1f} s", flush=True)

    # The two big tables are filled without their indexes, which are built afterwards (one
    # sort each instead of 5M index insertions): the same indexes and constraints in the end.
    indexes = await conn.fetch("""
        SELECT i.indexrelid::regclass::text AS name, i.indrelid::regclass::text AS tab,
               pg_get_indexdef(i.indexrelid) AS definition, c.conname,
               pg_get_constraintdef(c.oid) AS constraint_def
        FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
             AND c.conrelid = i.indrelid
        WHERE i.indrelid = ANY('{commission_records,rebate_accruals}'::regclass[])""")
    referenced = await conn.fetchval(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = "
        "ANY('{commission_records,rebate_accruals}'::regclass[])")
    assert not referenced, "a foreign key names commission_records or rebate_accruals"
    for index in indexes:
        if index["conname"]:
            await conn.execute(f'ALTER TABLE {index["tab"]} DROP CONSTRAINT "{index["conname"]}"')
        else:
            await conn.execute(f"DROP INDEX {index['name']}")

    await step("users", """
        INSERT INTO users (id, first_name, locale, telegram_language, role, signup_source,
                           is_banned, created_at)
        SELECT $1::bigint + n, 'Trader ' || n, 'en', 'en', 'trader', 'organic', false,
               now() - interval '120 days'
        FROM generate_series(0, $2::int - 1) n""", USER_BASE, traders)
    # Account a of trader n is on exchange (n + 5a) mod 11 (distinct for a < 11).
    await step("exchange accounts", """
        WITH ex AS (SELECT array_agg(id ORDER BY position, id) AS ids FROM exchanges)
        INSERT INTO exchange_accounts (user_id, exchange_id, uid, status, created_at,
                                       verified_at)
        SELECT $1::bigint + n, ex.ids[1 + (n + 5 * a) % cardinality(ex.ids)],
               ($2::bigint + n::bigint * $4 + a)::text, 'verified',
               now() - interval '119 days', now() - interval '119 days'
        FROM ex, generate_series(0, $3::int - 1) n, generate_series(0, $4::int - 1) a
        ORDER BY n, a""", USER_BASE, UID_BASE, traders, accounts)
    # Record i: trader i mod N, account k mod A and day slot k div A (k = i div N), in the order
    # a daily sync stores them (day by day, exchange by exchange).
    await step("commission records", """
        INSERT INTO commission_records (source_key, exchange_id, uid, day, product, volume,
            fee, commission, currency, rate_to_usdt, volume_usdt, fee_usdt, commission_usdt,
            origin, revision, first_seen_at, updated_at)
        SELECT a.exchange_id || ':' || a.uid || ':' || r.day || ':spot', a.exchange_id, a.uid,
               r.day, 'spot', r.volume, r.fee, r.commission, 'USDT', 1, r.volume, r.fee,
               r.commission, 'api', 1, r.day + time '06:00', r.day + time '06:00'
        FROM (
            SELECT k.n, k.slot, d.day, k.volume, round(k.volume * 0.0004, 8) AS fee,
                   CASE WHEN d.day >= $6::date - $7::int THEN NULL
                        ELSE round(k.volume * 0.0004 * 0.3, 8) END AS commission
            FROM (
                SELECT i % $2 AS n, (i / $2) % $3 AS slot, i / $2 / $3 AS j,
                       round((100 + random() * 199900)::numeric, 2) AS volume
                FROM generate_series(0::bigint, $1::bigint - 1) i
            ) k,
            LATERAL (SELECT $6::date - 1
                            - ((k.n * 7 + k.slot * 41 + k.j * $4) % $5)::int AS day) d
        ) r
        JOIN exchange_accounts a
          ON a.uid = ($8::bigint + r.n * $3 + r.slot)::text AND a.user_id = $9::bigint + r.n
        ORDER BY r.day, a.exchange_id, a.uid""",
        records, traders, accounts, stride, DAYS, today, ESTIMATED_DAYS, UID_BASE, USER_BASE)
    await step("rebate accruals", f"""
        INSERT INTO rebate_accruals (record_id, user_id, exchange_id, day, product, revision,
            volume_usdt, fee_usdt, gross, trader_amount, service_amount, share, share_source,
            estimated, updated_at)
        SELECT c.id, a.user_id, c.exchange_id, c.day, c.product, c.revision, c.volume_usdt,
               c.fee_usdt, g.gross, round(g.gross * e.trader_share, 8),
               g.gross - round(g.gross * e.trader_share, 8), e.trader_share, 'exchange',
               c.commission_usdt IS NULL, c.updated_at
        FROM commission_records c
        JOIN exchange_accounts a ON a.exchange_id = c.exchange_id AND a.uid = c.uid
        JOIN exchanges e ON e.id = c.exchange_id,
        LATERAL (SELECT coalesce(c.commission_usdt,
                                 round(c.fee_usdt * {ESTIMATE_RATE}, 8)) AS gross) g
        ORDER BY c.id""")
    started = time.perf_counter()
    for index in indexes:
        if index["conname"]:
            await conn.execute(f'ALTER TABLE {index["tab"]} ADD CONSTRAINT "{index["conname"]}" '
                               f'{index["constraint_def"]}')
        else:
            await conn.execute(index["definition"])
    print(f"  {len(indexes)} indexes of the two   {time.perf_counter() - started:17.1f} s",
          flush=True)
    async with conn.transaction():
        await step("ledger accounts", """
            INSERT INTO ledger_accounts (kind, owner, asset)
            SELECT 'service_revenue', '', 'USDT'
            UNION ALL SELECT 'exchange_receivable', id, 'USDT' FROM exchanges
            UNION ALL SELECT 'trader_available', (u.id)::text, 'USDT'
                      FROM users u WHERE u.id >= $1
            ON CONFLICT DO NOTHING""", USER_BASE)
        await step("ledger entries", """
            INSERT INTO ledger_entries (idempotency_key, kind, content_hash, memo)
            SELECT 'bench:opening:' || id, 'bench_opening', md5(id::text) || md5(id::text),
                   'bench_miniapp: what the trader''s accruals booked'
            FROM users WHERE id >= $1 ORDER BY id""", USER_BASE)
        # Per trader: + their rebate, + the service's part, - the gross per exchange.
        await step("ledger postings", """
            WITH sums AS (
                SELECT user_id, exchange_id, sum(trader_amount) AS trader,
                       sum(service_amount) AS service, sum(gross) AS gross
                FROM rebate_accruals GROUP BY user_id, exchange_id
            ), legs AS (
                SELECT user_id, 'trader_available' AS kind, user_id::text AS owner,
                       sum(trader) AS amount FROM sums GROUP BY user_id
                UNION ALL
                SELECT user_id, 'service_revenue', '', sum(service) FROM sums GROUP BY user_id
                UNION ALL
                SELECT user_id, 'exchange_receivable', exchange_id, -gross FROM sums
            ), entries AS (
                SELECT id, substr(idempotency_key, 15)::bigint AS user_id FROM ledger_entries
                WHERE idempotency_key LIKE 'bench:opening:%'
            )
            INSERT INTO ledger_postings (entry_id, account_id, amount)
            SELECT en.id, acc.id, legs.amount
            FROM legs JOIN entries en ON en.user_id = legs.user_id
            JOIN ledger_accounts acc
              ON acc.kind = legs.kind AND acc.owner = legs.owner AND acc.asset = 'USDT'
            WHERE legs.amount <> 0
            ORDER BY en.id""")
    now = datetime.now(UTC)
    # Every 4 hours a sync of each exchange over the 90 days, the last one an hour ago.
    await step("sync runs", """
        INSERT INTO sync_runs (exchange_id, trigger, status, window_start, window_end,
            records_seen, records_new, records_changed, started_at, finished_at)
        SELECT e.id, 'cron', 'ok', t - interval '2 days', t, 1000, 500, 10, t,
               t + interval '40 seconds'
        FROM exchanges e,
             generate_series($1::timestamptz - interval '90 days', $1::timestamptz,
                             interval '4 hours') t
        ORDER BY t, e.id""", now - timedelta(hours=1))
    await step("sync state", """
        INSERT INTO sync_state (exchange_id, watermark, last_success_at, last_attempt_at,
                                next_due_at)
        SELECT id, $1::timestamptz, $1::timestamptz, $1::timestamptz,
               $1::timestamptz + interval '4 hours' FROM exchanges
        ON CONFLICT (exchange_id) DO NOTHING""", now - timedelta(hours=1))
    started = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE)")
    await conn.execute("CHECKPOINT")
    print(f"  vacuum, analyze, checkpoint        {time.perf_counter() - started:6.1f} s",
          flush=True)


async def check_books(conn: asyncpg.Connection) -> None:
    """The loaded ledger adds up: every account's balance is its postings' sum, and the
    traders' balances are their accruals' rebate."""
    mismatched = await conn.fetchval("""
        SELECT count(*) FROM ledger_accounts a
        LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_postings
                   GROUP BY account_id) p ON p.account_id = a.id
        WHERE a.balance <> coalesce(p.total, 0)""")
    total = await conn.fetchval("SELECT coalesce(sum(amount), 0) FROM ledger_postings")
    rebate = await conn.fetchval("SELECT sum(trader_amount) FROM rebate_accruals")
    available = await conn.fetchval(
        "SELECT sum(balance) FROM ledger_accounts WHERE kind = 'trader_available'")
    assert mismatched == 0 and total == 0 and rebate == available, \
        (mismatched, total, rebate, available)


async def warm(conn: asyncpg.Connection) -> None:
    """Read every table the dashboard reads and its indexes, right before a timed run (these
    machines drop file pages some 30 s after they were last read)."""
    relations = await conn.fetch("""
        SELECT c.oid::regclass::text AS name FROM pg_class c
        WHERE c.oid = ANY($1::text[]::regclass[])
        UNION ALL
        SELECT i.indexrelid::regclass::text FROM pg_index i
        WHERE i.indrelid = ANY($1::text[]::regclass[])
        """, list(READ_TABLES))
    prewarm = await conn.fetchval(
        "SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'")
    for row in relations:
        if prewarm:
            await conn.execute(f"SELECT pg_prewarm('{row['name']}', 'read')")
        elif row["name"] in READ_TABLES:
            await conn.execute(f'SELECT count(*) FROM "{row["name"]}"')


# --- initData, signed as Telegram does ------------------------------------------------------


def init_data(user_id: int, token: str, auth_date: datetime) -> str:
    """A Mini App's initData for ``user_id``, signed for the bot ``token``
    (core.telegram.org/bots/webapps: the data-check-string of all fields but hash, sorted,
    ``key=value`` lines; the key HMAC-SHA256("WebAppData", token))."""
    user = json.dumps({"id": user_id, "first_name": f"Trader {user_id}", "language_code": "en"},
                      separators=(",", ":"))
    fields = {"query_id": f"AAH{user_id:x}bench", "user": user,
              "auth_date": str(int(auth_date.timestamp())), "chat_type": "private",
              "chat_instance": str(-5_170_419_470_716_460_651 + user_id)}
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "\n".join(sorted(f"{key}={value}" for key, value in fields.items()))
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def write_tokens(path: Path, traders: int) -> None:
    """One line a trader: ``<user id>\\t<initData>`` (read by both load generators)."""
    signed_at = datetime.now(UTC) - timedelta(minutes=5)
    with path.open("w") as out:
        for n in range(traders):
            out.write(f"{USER_BASE + n}\t{init_data(USER_BASE + n, BOT_TOKEN, signed_at)}\n")


# --- the two servers (each run in its own process: --serve KIND) ----------------------------


def serve_dashboard(port: int, database_url: str, prefix: str) -> None:
    """The real web app with the Mini App API, as the web process builds it."""
    from redis.asyncio import Redis

    from bot import db as bot_db
    from bot.app import build_services
    from bot.settings import load_settings
    from services.dashboard import DashboardService
    from services.directory import UserDirectory
    from services.i18n import Catalog
    from webapp.api.deps import ApiDeps
    from webapp.app import WebDeps, create_web_app

    async def main() -> None:
        data_dir = tempfile.mkdtemp(prefix="cr-bench-miniapp-")
        settings = load_settings({"BOT_TOKEN": BOT_TOKEN, "SECRET_KEY": "bench-miniapp",
                                  "DATA_DIR": data_dir, "REDIS_PREFIX": prefix,
                                  "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL})
        await bot_db.open_database(database_url)  # the web process's pool (20)
        services = build_services(settings, b"bench-miniapp")
        await services.events.start()
        redis = Redis.from_url(REDIS_URL)
        i18n = Catalog.load(default_locale=settings.default_locale)
        api = ApiDeps(
            users=services.users, balances=services.balances, exchanges=services.exchanges,
            accounts=services.accounts, referrals=services.referrals, sync=services.sync,
            withdrawals=services.withdrawals, auto_withdrawals=services.auto_withdrawals,
            events=services.events, i18n=i18n, redis=redis, redis_prefix=prefix,
            session_secret=b"bench-miniapp-session-secret-32b", clock=lambda: datetime.now(UTC),
            dashboard=DashboardService(services.balances, services.sync),
            staff=services.staff, directory=UserDirectory(), alerts=services.alerts)
        app = create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                     redis_prefix=prefix, i18n=i18n, api=api,
                                     bot_token=BOT_TOKEN))
        await _serve(app, port)

    asyncio.run(main())


def serve_bare(port: int, database_url: str) -> None:
    """One handler, one indexed query for the trader asked about, JSON."""
    from aiohttp import web

    key = web.AppKey("pool", asyncpg.Pool)
    query = ("SELECT coalesce(sum(trader_amount), 0) AS rebate, count(*) AS days "
             "FROM rebate_accruals WHERE user_id = $1 AND day >= $2")

    async def handler(request: web.Request) -> web.Response:
        user_id = int(request.query["user"])
        since = datetime.now(UTC).date() - timedelta(days=29)
        async with request.app[key].acquire() as conn:
            row = await conn.fetchrow(query, user_id, since)
        return web.json_response({"user_id": user_id, "rebate": str(row["rebate"]),
                                  "days": row["days"]})

    async def main() -> None:
        app = web.Application()
        # The web process's pool size (bot/db.py: Tortoise's default connection, 1..20).
        pool = await asyncpg.create_pool(**_credentials(database_url), min_size=1, max_size=20)
        assert pool is not None
        app[key] = pool
        app.router.add_get(BARE_PATH, handler)
        await _serve(app, port)

    asyncio.run(main())


async def _serve(app: Any, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


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


# --- the load -------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and answers other than 200
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


WRK_SCRIPT = r"""
local ids, datas = {}, {}
local kind = os.getenv("BENCH_KIND")
local path = os.getenv("BENCH_PATH")
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", os.time() + threads * 7919)
end
init = function(args)
  math.randomseed(seed)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local id, data = line:match("^(%d+)\t(.*)$")
    ids[#ids + 1] = id
    datas[#datas + 1] = data
  end
end
request = function()
  local i = math.random(#ids)
  if kind == "bare" then
    return wrk.format("GET", path .. "?user=" .. ids[i])
  end
  return wrk.format("GET", path, {["Authorization"] = "tma " .. datas[i]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


async def run_wrk(url: str, path: str, kind: str, tokens: Path, connections: int,
                  threads: int, seconds: float) -> Load:
    wrk = shutil.which("wrk")
    assert wrk is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = {**os.environ, "BENCH_KIND": kind, "BENCH_PATH": path, "BENCH_TOKENS": str(tokens)}
    process = await asyncio.create_subprocess_exec(
        wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", script.name, url, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    os.unlink(script.name)
    text = out.decode()
    line = next((x for x in text.splitlines() if x.startswith("BENCH_RESULT")), None)
    assert line is not None, text
    requests, duration_us, errors, p50, p99, worst = (int(x) for x in line.split()[1:])
    return Load(requests, duration_us / 1e6, errors, p50 / 1000, p99 / 1000, worst / 1000)


def generate_load(url: str, path: str, kind: str, tokens: Path, connections: int,
                  seconds: float) -> None:
    """The aiohttp load generator's process: ``connections`` clients, each sending its next
    request when the last one is answered, for ``seconds``; prints one JSON line."""
    import aiohttp

    traders = [line.rstrip("\n").split("\t", 1) for line in tokens.open()]

    async def main() -> None:
        latencies: list[float] = []
        errors = 0
        connector = aiohttp.TCPConnector(limit=connections, force_close=False)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
            deadline = time.perf_counter() + seconds

            async def client() -> None:
                nonlocal errors
                rng = random.Random()
                while time.perf_counter() < deadline:
                    user_id, data = traders[rng.randrange(len(traders))]
                    if kind == "bare":
                        target, headers = f"{path}?user={user_id}", {}
                    else:
                        target, headers = path, {"Authorization": f"tma {data}"}
                    started = time.perf_counter()
                    try:
                        async with session.get(target, headers=headers) as answer:
                            await answer.read()
                            ok = answer.status == 200
                    except (aiohttp.ClientError, TimeoutError):
                        ok = False
                    latencies.append(time.perf_counter() - started)
                    errors += not ok

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(connections)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        print(json.dumps({"requests": len(latencies), "seconds": elapsed, "errors": errors,
                          "p50_ms": _quantile(latencies, 0.50) * 1000,
                          "p99_ms": _quantile(latencies, 0.99) * 1000,
                          "max_ms": latencies[-1] * 1000 if latencies else float("nan")}))

    asyncio.run(main())


def _quantile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_aiohttp(url: str, path: str, kind: str, tokens: Path, connections: int,
                      seconds: float) -> Load:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_miniapp", "--generate", url, "--kind", kind,
        "--path", path, "--tokens", str(tokens), "--connections", str(connections),
        "--duration", str(seconds), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    return Load(**result)


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
    """The dashboard's queries alone, one connection, random traders: mean ms each; and the
    plan of each for one trader."""
    start = today - timedelta(days=29)
    previous = start - timedelta(days=30)
    from services import balances, dashboard

    # (label, sql, the arguments for a trader): what DashboardService.dashboard sends.
    queries: list[tuple[str, str, Callable[[int], tuple[Any, ...]]]] = [
        ("accrual lines (60 days)", dashboard._BOOKS, lambda user: (user, previous, today)),
        ("where they stand", balances._STANDING, lambda user: (user, str(user), "USDT")),
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
    url = _database_url(name)
    args.database = name
    today = datetime.now(UTC).date()
    prefix = f"bench-miniapp-{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="cr-bench-miniapp-"))
    tokens = work / "traders.tsv"
    servers: list[asyncio.subprocess.Process] = []
    try:
        reuse = keep and await _exists(name)
        conn: asyncpg.Connection | None = None
        if reuse:
            conn = await asyncpg.connect(**_credentials(url))
            loaded = await conn.fetchval(
                "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database "
                "WHERE datname = current_database()")
            if loaded != f"loaded {today}":
                await conn.close()
                conn, reuse = None, False
                await _drop(name)
        if not reuse:
            print(f"loading {args.records:,} commission records of {args.traders:,} traders "
                  f"into {name} ...", flush=True)
            started = time.perf_counter()
            await _migrate(url)
            conn = await asyncpg.connect(**_credentials(url))
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
            await _drop(name)
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
    print("the dashboard's queries alone (mean; plan of one trader):")
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
