"""The services the API routes call, handed in by the web process (bot/web_process.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from redis.asyncio import Redis

from services.accounts import AccountService
from services.adjustments import AdjustmentService
from services.alerts import AlertService
from services.balances import BalanceService
from services.dashboard import DashboardService
from services.directory import UserDirectory
from services.events import EventService
from services.exchange_admin import ExchangeAdmin
from services.exchange_catalog import ExchangeCatalog
from services.i18n import Catalog
from services.ledger import Ledger
from services.payout_stats import PayoutStats
from services.payouts.approvals import ApprovalService
from services.payouts.auto import AutoWithdrawals
from services.payouts.config import PayoutConfig
from services.payouts.queue import PayoutQueue
from services.payouts.requests import WithdrawalService
from services.payouts.settings_admin import PayoutSettingsAdmin
from services.product_stats import ProductStats
from services.rebates.membership import MembershipAdmin
from services.referrals import ReferralService
from services.staff import StaffService
from services.stats import StatsService
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
    # The payout screens (webapp/api/admin_payouts.py): finance's decisions under the finance
    # chat's rules, the queue as the finance cards show it, the payout configuration; and the
    # finance card's edit after a decision made in the screen (None: the worker's payout tick
    # brings the card up to date within seconds).
    approvals: ApprovalService = field(
        default_factory=lambda: ApprovalService(Ledger(), PayoutConfig()))
    payout_queue: PayoutQueue = field(default_factory=PayoutQueue)
    payout_settings: PayoutSettingsAdmin = field(default_factory=PayoutSettingsAdmin)
    refresh_finance_card: Callable[[int], Awaitable[None]] | None = None
    # The Exchanges screen (webapp/api/admin_exchanges.py); None: its routes answer 503.
    exchange_admin: ExchangeAdmin | None = None
    # Manual ledger adjustments (webapp/api/admin_adjustments.py); the web process passes one
    # with ADJUST_SECOND_ADMIN_ABOVE.
    adjustments: AdjustmentService = field(default_factory=AdjustmentService)
    # The dashboards (webapp/api/admin_dashboards.py): reads only, no state of their own.
    stats: StatsService = field(default_factory=StatsService)
    product_stats: ProductStats = field(default_factory=ProductStats)
    payout_stats: PayoutStats = field(default_factory=PayoutStats)
    # A trader's rate group on their page (webapp/api/admin_groups.py).
    memberships: MembershipAdmin = field(default_factory=MembershipAdmin)


API = web.AppKey("api", ApiDeps)
