"""The web process: aiohttp (health, redirect, metrics, webhook) plus the bot, in webhook mode
when PUBLIC_URL is set and in long polling otherwise. Startable in-process (demo, tests)."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiohttp import web
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from bot.app import (
    Infrastructure,
    Services,
    build_services,
    create_bot,
    create_dispatcher,
    resolve_secret_key,
)
from bot.commands_menu import publish_commands, publish_menu_button
from bot.db import READS_CONNECTION
from bot.settings import Settings, SettingsError
from bot.watchdog import WorkerWatchdog
from handlers.finance import refresh_card
from handlers.outage import OutageResponder
from services.adjustments import AdjustmentService
from services.dashboard import DashboardService
from services.directory import UserDirectory
from services.exchange_admin import ExchangeAdmin
from services.i18n import Catalog
from services.jobs import enqueue_payout, enqueue_uid_check
from services.rate_card import RateCardService
from services.sync.csv_imports import shutdown_parser
from webapp.api.deps import ApiDeps
from webapp.app import WEBHOOK_PATH, WebDeps, create_web_app

log = logging.getLogger(__name__)


def listen_error(settings: Settings, exc: OSError) -> SettingsError:
    """One line for a WEB_HOST:WEB_PORT the process cannot listen on, naming the setting."""
    where = f"{settings.web_host}:{settings.web_port}"
    if exc.errno == errno.EADDRINUSE:
        return SettingsError(f"WEB_PORT: {where} is already in use by another process; "
                             f"set WEB_PORT (or WEB_HOST) to a free one")
    if exc.errno == errno.EADDRNOTAVAIL:
        return SettingsError(f"WEB_HOST: {settings.web_host} is not an address of this "
                             f"machine; set WEB_HOST (0.0.0.0 listens on every interface)")
    if exc.errno == errno.EACCES:
        return SettingsError(f"WEB_PORT: listening on {where} is not permitted (ports below "
                             f"1024 need privileges); set WEB_PORT to 1024 or above")
    return SettingsError(f"WEB_HOST/WEB_PORT: cannot listen on {where}: "
                         f"{exc.strerror or exc}")


def check_listen_address(settings: Settings) -> None:
    """Fail before anything starts when WEB_HOST:WEB_PORT cannot be listened on: bind (and
    release) each address aiohttp will listen on, with the socket options asyncio uses. The
    real bind in ``WebProcess.start`` reports the same way, should the port be taken since."""
    try:
        infos = socket.getaddrinfo(settings.web_host, settings.web_port,
                                   type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SettingsError(
            f"WEB_HOST: {settings.web_host} is not a known host or address ({exc.strerror})"
        ) from None
    for family, kind, proto, _, address in dict.fromkeys(infos):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise listen_error(settings, exc) from None


async def bot_username(bot: Bot) -> str | None:
    """The bot's @username for the public pages' t.me link; None (the pages then name the bot
    in words) when Telegram cannot be asked right now."""
    try:
        me = await asyncio.wait_for(bot.me(), 3)  # at start: never hold the process long
    except (TelegramAPIError, TimeoutError) as exc:
        log.warning("could not ask Telegram for the bot's username: %s", exc)
        return None
    return me.username


class WebProcess:
    def __init__(self, settings: Settings, infra: Infrastructure):
        self.settings = settings
        self.infra = infra
        self.redis_prefix = settings.redis_prefix
        self.bot: Bot | None = None
        self.services: Services | None = None
        self.arq: ArqRedis | None = None
        self.dispatcher: Dispatcher | None = None
        self._runner: web.AppRunner | None = None
        self._polling: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def _card_refresher(self, i18n: Catalog) -> Callable[[int], Awaitable[None]]:
        """After a decision in the payout screen, the finance card is edited as after a click
        in the chat (in the worker's language of cards: the default locale)."""
        bot, t = self.bot, i18n.translator(self.settings.default_locale)

        async def refresh(withdrawal_id: int) -> None:
            if bot is not None and self.settings.finance_chat_id is not None:
                await refresh_card(bot, t, withdrawal_id)

        return refresh

    async def start(self) -> None:
        settings = self.settings
        if settings.webhook_mode and settings.webhook_secret is None:
            raise SettingsError("WEBHOOK_SECRET: required when PUBLIC_URL is set (webhook mode)")
        if settings.links_reach_only_this_host:
            log.warning(
                "LINK_BASE_URL and PUBLIC_URL are not set: traders' tracked links will be "
                "%s/r/…, which opens only where this process runs; set LINK_BASE_URL to the "
                "public address of this web process", settings.tracked_link_base_url)
        secret_key = resolve_secret_key(settings)
        services = build_services(settings, secret_key)
        self.services = services
        await services.events.start()
        await services.users.promote_bootstrap_admins()
        i18n = Catalog.load(default_locale=settings.default_locale)
        self.bot = create_bot(settings)
        # The arq pool: handlers enqueue jobs ("sync now") for the worker.
        self.arq = await create_pool(RedisSettings.from_dsn(self.infra.redis_url))
        self.dispatcher = create_dispatcher(redis=self.infra.redis, settings=settings,
                                            services=services, i18n=i18n, arq=self.arq,
                                            redis_prefix=self.redis_prefix)
        # The Balance and History screens' "open in the app" buttons (None: no buttons).
        self.dispatcher.workflow_data["miniapp_url"] = settings.miniapp_base_url
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        arq = self.arq
        api = ApiDeps(
            users=services.users, balances=services.balances,
            exchanges=services.exchanges, accounts=services.accounts,
            referrals=services.referrals, sync=services.sync,
            dashboard=DashboardService(services.balances, services.sync, READS_CONNECTION),
            staff=services.staff, directory=UserDirectory(), alerts=services.alerts,
            withdrawals=services.withdrawals, auto_withdrawals=services.auto_withdrawals,
            events=services.events, i18n=i18n, redis=self.infra.redis,
            redis_prefix=self.redis_prefix, session_secret=secret_key,
            clock=lambda: datetime.now(UTC),
            secure_cookies=(settings.public_url or "").startswith("https://"),
            enqueue_uid_check=lambda account_id: enqueue_uid_check(
                arq, self.redis_prefix, account_id),
            enqueue_payout=lambda withdrawal_id: enqueue_payout(
                arq, self.redis_prefix, withdrawal_id),
            exchange_admin=ExchangeAdmin(services.exchanges, services.sync, services.rates,
                                         services.credentials),
            adjustments=AdjustmentService(settings.adjust_second_admin_above),
            approvals=services.approvals, refresh_finance_card=self._card_refresher(i18n))
        app = create_web_app(WebDeps(
            redis=self.infra.redis, referrals=services.referrals, redis_prefix=self.redis_prefix,
            bot=self.bot, dispatcher=self.dispatcher,
            webhook_secret=secret if settings.webhook_mode else None,
            rate_card=RateCardService(services.exchanges), i18n=i18n,
            bot_username=await bot_username(self.bot),
            api=api, bot_token=self.bot.token,
            auth_max_age=timedelta(seconds=settings.miniapp_auth_max_age_seconds),
        ))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, settings.web_host, settings.web_port).start()
        except OSError as exc:
            raise listen_error(settings, exc) from None
        log.info("web process listening on %s:%s", settings.web_host, settings.web_port)
        if settings.admin_chat_id is not None:
            watchdog = WorkerWatchdog(self.bot, self.infra.redis, self.redis_prefix,
                                      settings.admin_chat_id,
                                      i18n.translator(settings.default_locale))
            self._watchdog = asyncio.create_task(watchdog.run())
        await publish_commands(self.bot, i18n, settings.admin_chat_id)
        await publish_menu_button(self.bot, i18n, settings.miniapp_base_url)
        if settings.webhook_mode:
            await self.bot.set_webhook(f"{settings.public_url}{WEBHOOK_PATH}", secret_token=secret,
                                       drop_pending_updates=False)
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)
            self._polling = asyncio.create_task(self.dispatcher.start_polling(
                self.bot, handle_signals=False, close_bot_session=False
            ))

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
            self._watchdog = None
        if self._polling is not None and self.dispatcher is not None:
            if not self._polling.done():
                await self.dispatcher.stop_polling()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
        if self.dispatcher is not None:
            outage: OutageResponder = self.dispatcher.workflow_data["outage_responder"]
            await outage.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.bot is not None:
            await self.bot.session.close()
            self.bot = None
        if self.services is not None:
            await asyncio.to_thread(shutdown_parser)  # the CSV parser's worker process, if any
            await self.services.events.close()
            self.services = None
        if self.arq is not None:
            await self.arq.aclose()
            self.arq = None
