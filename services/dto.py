"""Plain data handed from services to handlers, web routes and jobs (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.models import AccountStatus, DataSource, DigestMode, Role, SignupSource


@dataclass(frozen=True)
class UserDTO:
    id: int
    username: str | None
    first_name: str
    telegram_language: str | None
    locale: str | None
    role: Role
    signup_source: SignupSource
    signup_code: str | None
    is_banned: bool
    created_at: datetime
    # The daily accrual digest: on, silent or off. No default on purpose: a reader that
    # forgets the column must fail, not show every trader "on".
    digest_mode: DigestMode


@dataclass(frozen=True)
class ExchangeDTO:
    id: str
    name: str
    enabled: bool
    link_template: str
    trader_share: Decimal
    commission_rate: Decimal | None
    min_withdrawal: Decimal
    sync_interval_minutes: int
    data_source: DataSource
    api_verified: bool

    @property
    def trader_share_percent(self) -> str:
        """60 for 0.6, 62.5 for 0.625: the way a person writes a share."""
        percent = (self.trader_share * 100).normalize()
        return f"{percent:f}"


@dataclass(frozen=True)
class AccountDTO:
    id: int
    exchange_id: str
    exchange_name: str
    uid: str
    status: AccountStatus
    reject_reason: str | None
    created_at: datetime
    verified_at: datetime | None
