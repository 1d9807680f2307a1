"""bench_miniapp's two servers, each run in its own process (``--serve KIND``): the real web
app with the Mini App API, built as bot/web_process.py builds it, and a bare aiohttp handler
doing one indexed asyncpg query; and the initData each request is signed with, as Telegram
signs it. See bench/bench_miniapp.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg

from bench.common import REDIS_URL
from bench.miniapp_data import USER_BASE, credentials

BOT_TOKEN = "424242:BENCH-miniapp-token-not-a-real-bot"
BARE_PATH = "/bare"


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
        # The web process's pools (20, and DATABASE_READS_POOL for the dashboard's reads).
        await bot_db.open_database(database_url, reads_max=settings.database_reads_pool)
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
            dashboard=DashboardService(services.balances, services.sync,
                                       bot_db.READS_CONNECTION),
            staff=services.staff, directory=UserDirectory(), alerts=services.alerts)
        app = create_web_app(WebDeps(redis=redis, referrals=services.referrals,
                                     redis_prefix=prefix, i18n=i18n, api=api,
                                     bot_token=BOT_TOKEN))
        await serve(app, port)

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
        pool = await asyncpg.create_pool(**credentials(database_url), min_size=1, max_size=20)
        assert pool is not None
        app[key] = pool
        app.router.add_get(BARE_PATH, handler)
        await serve(app, port)

    asyncio.run(main())


async def serve(app: Any, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()
