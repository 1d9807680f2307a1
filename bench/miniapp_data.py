"""bench_miniapp's database: created, migrated and filled in SQL with the issue's data (the
traders, two exchange accounts each, their commission records over the last 90 days and the
11 exchanges, one rebate accrual per record, and a balanced opening ledger entry per trader),
checked, and warmed before each timed run. See bench/bench_miniapp.py."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import ADMIN_DATABASE_URL

USER_BASE = 30_000_000
UID_BASE = 70_000_000
DAYS = 90  # the records are spread over this many days before today
ESTIMATED_DAYS = 2  # the newest days: commission not reported yet, estimated at 30% of the fee
ESTIMATE_RATE = "0.3"
# What the dashboard reads (services/dashboard.py, services/balances.py, services/sync, the
# users service): warmed, with their indexes, before each side's timed run.
READ_TABLES = ("rebate_accruals", "users", "exchange_accounts", "ledger_accounts",
               "ledger_holds", "exchanges", "sync_state", "sync_runs")


# --- the database -------------------------------------------------------------------------


def credentials(url: str) -> dict[str, Any]:
    from bot.db import parse_database_url

    creds = parse_database_url(url)
    return {"host": creds["host"], "port": creds["port"], "user": creds["user"],
            "password": creds["password"] or None, "database": creds["database"]}


def database_url(name: str) -> str:
    return f"{ADMIN_DATABASE_URL.partition('?')[0].rsplit('/', 1)[0]}/{name}"


async def database_exists(name: str) -> bool:
    admin = await asyncpg.connect(**credentials(ADMIN_DATABASE_URL))
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(**credentials(ADMIN_DATABASE_URL))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def layout(records: int, traders: int) -> tuple[int, int, int]:
    """(accounts per trader, days per account, day stride): every record its own
    (account, day), the days of an account spread over the DAYS before today."""
    per_trader = -(-records // traders)
    accounts = min(11, max(1, -(-per_trader // 25)))
    days = -(-per_trader // accounts)
    if days > DAYS:
        raise SystemExit(f"{records:,} records for {traders:,} traders: more than "
                         f"{11 * DAYS} per trader")
    return accounts, days, max(1, DAYS // days)


async def migrate(url: str) -> None:
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
    accounts, days, stride = layout(records, traders)
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
