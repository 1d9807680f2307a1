"""The composition root: everything a process needs, built once from Settings and closed on
shutdown. Nothing here runs at import time."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from pydantic import SecretStr
from redis.asyncio import Redis

from bot import db
from bot.embedded import EmbeddedServices
from bot.settings import Settings, SettingsError
from bot.stores import wait_for_redis, wait_for_store
from exchanges.base import AffiliateSource
from exchanges.payout_registry import PAYOUT_ADAPTERS, payout_source
from exchanges.payouts import PayoutSource
from exchanges.registry import build_source
from services.accounts import AccountService
from services.alerts import AlertService
from services.balances import BalanceService
from services.broadcasts import BroadcastService
from services.credential_store import CredentialBook
from services.credentials import CredentialCipher, previous_keys
from services.digests import DigestService
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Catalog
from services.ledger import Ledger
from services.notifications import NotificationService
from services.payouts.approvals import ApprovalService
from services.payouts.auto import AutoWithdrawals
from services.payouts.config import PayoutConfig
from services.payouts.engine import PayoutEngine
from services.payouts.engine import SourceFactory as PayoutSourceFactory
from services.payouts.requests import WithdrawalService
from services.rebates import RateService, RebateEngine
from services.referrals import ReferralService
from services.staff import StaffService
from services.stats import StatsService
from services.sync import SourceFactory, SyncService
from services.uid_disputes import UidDisputeService
from services.users import UserService

if TYPE_CHECKING:
    # aiogram (about 3 s of pydantic schema building on import) and the routers are imported
    # by create_bot / create_dispatcher only: `migrate` and the health probes never need them.
    from aiogram import Bot, Dispatcher
    from arq.connections import ArqRedis

log = logging.getLogger(__name__)

FSM_STATE_TTL_SECONDS = 24 * 3600  # an abandoned flow is forgotten after a day


@dataclass(frozen=True)
class Services:
    """The domain services; the same instances back the bot, the web app and the jobs."""

    events: EventService
    users: UserService
    exchanges: ExchangeCatalog
    accounts: AccountService
    referrals: ReferralService
    notifications: NotificationService
    sync: SyncService
    balances: BalanceService
    rebates: RebateEngine
    ledger: Ledger
    digests: DigestService
    rates: RateService
    disputes: UidDisputeService
    withdrawals: WithdrawalService
    approvals: ApprovalService
    payouts: PayoutEngine
    auto_withdrawals: AutoWithdrawals
    staff: StaffService
    alerts: AlertService
    stats: StatsService
    broadcasts: BroadcastService
    credentials: CredentialBook  # exchange API keys set in the admin screens

    def as_workflow_data(self) -> dict[str, object]:
        return {
            "events": self.events,
            "users": self.users,
            "exchanges": self.exchanges,
            "accounts": self.accounts,
            "referrals": self.referrals,
            "notifications": self.notifications,
            "sync": self.sync,
            "balances": self.balances,
            "rates": self.rates,
            "disputes": self.disputes,
            "withdrawals": self.withdrawals,
            "approvals": self.approvals,
            "auto_withdrawals": self.auto_withdrawals,
            "staff": self.staff,
            "stats": self.stats,
            "broadcasts": self.broadcasts,
        }


class AdapterKeys(TypedDict):
    api_url: str | None
    api_key: str | None
    api_secret: str | None
    api_password: str | None


def api_credentials(settings: Settings, book: CredentialBook | None,
                    exchange_id: str) -> AdapterKeys | None:
    """The keyword arguments of an adapter: the credentials stored in the admin screens
    (services/credential_store.py, as of its last refresh) over EXCHANGE_<ID>_* settings; the
    API URL always from the settings. None where neither has a key, or the stored ones cannot
    be decrypted (never a silent fall-back to an older key from the environment)."""
    env = settings.exchanges.get(exchange_id)
    api_url = env.api_url if env is not None else None
    if book is not None and book.has_row(exchange_id):
        stored = book.lookup(exchange_id)
        if stored is None:
            return None
        return {"api_url": api_url, "api_key": stored.api_key,
                "api_secret": stored.api_secret, "api_password": stored.api_password}
    if env is None or env.api_key is None:
        return None

    def reveal(secret: SecretStr | None) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    return {"api_url": api_url, "api_key": reveal(env.api_key),
            "api_secret": reveal(env.api_secret), "api_password": reveal(env.api_password)}


def build_source_factory(settings: Settings,
                         credentials: CredentialBook | None = None) -> SourceFactory:
    """Affiliate adapters built from the stored or EXCHANGE_<ID>_* credentials; None where
    no key is set."""

    def build(exchange_id: str) -> AffiliateSource | None:
        found = api_credentials(settings, credentials, exchange_id)
        if found is None:
            return None
        try:
            return build_source(exchange_id, **found)
        except ValueError:  # a CSV-only exchange: its data arrives as imported files
            return None

    return build


def build_payout_factory(settings: Settings,
                         credentials: CredentialBook | None = None) -> PayoutSourceFactory:
    """Payout adapters from the same credentials (the key needs the exchange's withdraw
    permission for payouts); None where no key is set or no adapter exists."""

    def build(exchange_id: str) -> PayoutSource | None:
        found = api_credentials(settings, credentials, exchange_id)
        return None if found is None else payout_source(exchange_id, **found)

    return build


def build_credentials(settings: Settings, secret_key: bytes) -> CredentialBook:
    """The stored exchange credentials under SECRET_KEY (and SECRET_KEY_PREVIOUS while a
    rotation is under way: services/credentials.py)."""
    previous = (settings.secret_key_previous.get_secret_value()
                if settings.secret_key_previous is not None else None)
    return CredentialBook(
        CredentialCipher(secret_key, previous_keys(previous)),
        env_keys=frozenset(exchange_id for exchange_id, env in settings.exchanges.items()
                           if env.api_key is not None))


def internal_payout_exchanges(settings: Settings,
                              book: CredentialBook | None = None) -> frozenset[str]:
    """Where a trader can be paid to their own UID: an adapter that can, and our key there
    (stored in the admin screens, as of the book's last refresh, or in the environment)."""
    return frozenset(
        exchange_id for exchange_id, internal in PAYOUT_ADAPTERS.items()
        if internal and api_credentials(settings, book, exchange_id) is not None)


def current_internal_exchanges(settings: Settings, book: CredentialBook
                               ) -> Callable[[], Awaitable[frozenset[str]]]:
    """``internal_payout_exchanges`` now: the book refreshed first (a query at most every
    few seconds), so a key entered in the Exchanges screen offers internal transfers at once."""
    async def current() -> frozenset[str]:
        await book.refresh()
        return internal_payout_exchanges(settings, book)

    return current


def build_services(settings: Settings, secret_key: bytes) -> Services:
    events = EventService()
    exchanges = ExchangeCatalog()
    notifications = NotificationService()
    ledger = Ledger()
    payout_config = PayoutConfig()
    credentials = build_credentials(settings, secret_key)
    withdrawals = WithdrawalService(
        ledger, payout_config, internal_exchanges=internal_payout_exchanges(settings),
        current_internal=current_internal_exchanges(settings, credentials))
    users = UserService(events, admin_ids=frozenset(settings.admin_ids))
    return Services(
        events=events,
        users=users,
        exchanges=exchanges,
        accounts=AccountService(events, exchanges),
        referrals=ReferralService(secret_key, settings.tracked_link_base_url, exchanges, events),
        notifications=notifications,
        sync=SyncService(
            build_source_factory(settings, credentials), notifications, events,
            uid_reject_after=timedelta(hours=settings.uid_reject_after_hours),
            first_lookback=timedelta(days=settings.sync_first_lookback_days),
            reread_days=settings.reread_days,
            deep_reread=timedelta(days=settings.sync_deep_reread_days),
            deep_reread_every=timedelta(days=settings.sync_deep_reread_every_days),
            credentials=credentials,
        ),
        balances=BalanceService(),
        rebates=RebateEngine(),
        ledger=ledger,
        digests=DigestService(notifications, exchanges),
        rates=RateService(),
        disputes=UidDisputeService(notifications, events),
        withdrawals=withdrawals,
        approvals=ApprovalService(ledger, payout_config),
        payouts=PayoutEngine(ledger, payout_config,
                             build_payout_factory(settings, credentials),
                             credentials=credentials),
        auto_withdrawals=AutoWithdrawals(withdrawals),
        staff=StaffService(users),
        alerts=AlertService(),
        stats=StatsService(),
        broadcasts=BroadcastService(settings.default_locale),
        credentials=credentials,
    )


def create_bot(settings: Settings, *, retry_after_429: bool = True) -> Bot:
    """The Bot of a process. ``retry_after_429``: a call Telegram answers with 429 is sent again
    after its retry_after (bounded, bot/telegram_retry.py); the outbox passes False, it
    reschedules a 429'd notification itself rather than wait inside the send."""
    if settings.bot_token is None:
        raise SettingsError(
            "BOT_TOKEN: required to talk to Telegram (the demo needs none: python -m bot demo)"
        )
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode

    from bot.telegram_answers import LateCallbackAnswerMiddleware
    from bot.telegram_retry import RetryAfterMiddleware

    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    if retry_after_429:
        session.middleware(RetryAfterMiddleware())
    session.middleware(LateCallbackAnswerMiddleware())
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_dispatcher(
    *, redis: Redis, settings: Settings, services: Services, i18n: Catalog,
    arq: ArqRedis | None = None, redis_prefix: str | None = None,
) -> Dispatcher:
    from aiogram import Dispatcher
    from aiogram.fsm.storage.base import DefaultKeyBuilder
    from aiogram.fsm.storage.redis import RedisStorage

    from handlers import build_routers
    from handlers.middlewares import (
        FloodControlMiddleware,
        HandlerTimingMiddleware,
        UserContextMiddleware,
    )
    from handlers.outage import OutageResponder

    redis_prefix = redis_prefix or settings.redis_prefix
    storage = RedisStorage(
        redis,
        key_builder=DefaultKeyBuilder(prefix=f"{redis_prefix}:fsm"),
        state_ttl=FSM_STATE_TTL_SECONDS,
        data_ttl=FSM_STATE_TTL_SECONDS,
    )
    dispatcher = Dispatcher(storage=storage)
    # Handlers receive these by parameter name (``users: UserService``, ``i18n: Catalog`` …).
    dispatcher.workflow_data.update(i18n=i18n, redis=redis, arq=arq, redis_prefix=redis_prefix,
                                    admin_chat_id=settings.admin_chat_id,
                                    finance_chat_id=settings.finance_chat_id,
                                    support_contact=settings.support_contact,
                                    **services.as_workflow_data())
    # The user's context before flood control: operators are exempt by their role in the
    # database (ADMIN_IDS alone would miss the ops/finance/viewer roles granted there), and the
    # one flood answer speaks the user's chosen language. A dropped update now costs the user
    # read too, but UserService caches it for 2 s, so a burst costs about one read per process.
    dispatcher.update.outer_middleware(UserContextMiddleware(services.users, i18n))
    dispatcher.update.outer_middleware(FloodControlMiddleware(
        redis, settings.flood_limit, settings.flood_window_seconds, redis_prefix,
        catalog=i18n, admin_ids=frozenset(settings.admin_ids),
    ))
    dispatcher.message.middleware(HandlerTimingMiddleware())
    dispatcher.callback_query.middleware(HandlerTimingMiddleware())
    dispatcher.include_routers(*build_routers())
    # Tells the sender of an update that met a store outage to retry; the update is retried
    # (long polling) or asked of Telegram again (the webhook's 503).
    outage = OutageResponder(i18n)
    outage.register(dispatcher)
    dispatcher.workflow_data["outage_responder"] = outage
    return dispatcher


def resolve_secret_key(settings: Settings) -> bytes:
    """SECRET_KEY, or for a development setup a random key kept in DATA_DIR.

    Settings has checked it already in production (set, and long enough); an empty key is
    never one, whichever way a Settings was built."""
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    if key:
        return key.encode()
    if settings.webhook_mode:
        raise SettingsError("SECRET_KEY: required in production (when PUBLIC_URL is set)")
    key_file = Path(settings.data_dir) / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
        log.warning("SECRET_KEY is not set: using a generated development key in %s", key_file)
    return key_file.read_text().strip().encode()


@dataclass
class Infrastructure:
    """Database and Redis, external or embedded, opened for one process."""

    database_url: str
    redis_url: str
    redis: Redis
    embedded: EmbeddedServices | None = None

    async def close(self) -> None:
        await self.redis.aclose()
        await db.close_database()
        if self.embedded is not None:
            self.embedded.stop()


def _check_database_url(url: str) -> None:
    try:
        db.parse_database_url(url)
    except ValueError as exc:
        raise SettingsError(f"DATABASE_URL: {exc}") from None


async def open_infrastructure(
    settings: Settings, *, migrate: bool = False, pool_max: int = 20,
) -> Infrastructure:
    embedded: EmbeddedServices | None = None
    database_url, redis_url = settings.database_url, settings.redis_url
    # A malformed DATABASE_URL is reported before an embedded Redis is started for nothing.
    if database_url is not None:
        _check_database_url(database_url)
    if database_url is None or redis_url is None:
        embedded = EmbeddedServices(Path(settings.data_dir))
        if database_url is None:
            database_url = embedded.start_postgres()
        if redis_url is None:
            redis_url = embedded.start_redis()
    wait = settings.startup_wait_seconds
    await wait_for_store("PostgreSQL", lambda: db.ensure_database(database_url), within=wait)
    if migrate:
        await db.migrate(database_url)
    await db.open_database(database_url, pool_max=pool_max,
                           reads_max=settings.database_reads_pool)
    redis = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=30,
                           health_check_interval=30)
    try:
        await wait_for_redis(redis, within=wait)
    except BaseException:
        await redis.aclose()
        await db.close_database()
        raise
    return Infrastructure(database_url, redis_url, redis, embedded)
