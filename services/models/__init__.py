"""Tortoise models, one file per domain. Only services/ imports these."""

from services.models.accounts import AccountStatus, ExchangeAccount
from services.models.events import Event, Platform
from services.models.exchanges import DataSource, Exchange
from services.models.users import Role, SignupSource, User

__all__ = [
    "AccountStatus",
    "DataSource",
    "Event",
    "Exchange",
    "Platform",
    "ExchangeAccount",
    "Role",
    "SignupSource",
    "User",
]
