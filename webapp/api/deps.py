"""The services the API routes call, handed in by the web process (bot/web_process.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from redis.asyncio import Redis

from services.accounts import AccountService
from services.alerts import AlertService
from services.balances import BalanceService
from services.dashboard import DashboardService
from services.directory import UserDirectory
from services.events import EventService
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Catalog
from services.payouts.auto import AutoWithdrawals
from services.payouts.requests import WithdrawalService
from services.referrals import ReferralService
from services.staff import StaffService
from services.sync import SyncService
from services.users import UserService


@dataclass(frozen=True)
class ApiDeps:
    users: UserService
    balances: BalanceService
    exchanges: ExchangeCatalog
    accounts: AccountService
    referrals: ReferralService
    sync: SyncService
    dashboard: DashboardService
    staff: StaffService
    directory: UserDirectory
    alerts: AlertService
    withdrawals: WithdrawalService
    auto_withdrawals: AutoWithdrawals
    events: EventService
    i18n: Catalog
    redis: Redis
    redis_prefix: str
    session_secret: bytes  # signs the browser session cookie and its CSRF tokens
    clock: Callable[[], datetime]
    secure_cookies: bool = False  # HTTPS-only session cookie (production: PUBLIC_URL is https)
    # The worker's jobs, when a queue is there: check a new UID now, pay an approved request.
    enqueue_uid_check: Callable[[int], Awaitable[None]] | None = None
    enqueue_payout: Callable[[int], Awaitable[None]] | None = None


API = web.AppKey("api", ApiDeps)
