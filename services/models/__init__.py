"""Tortoise models, one file per domain. Only services/ imports these."""

from services.models.accounts import AccountStatus, ExchangeAccount
from services.models.adjustments import (
    AdjustmentDirection,
    AdjustmentStatus,
    LedgerAdjustment,
)
from services.models.events import Event, Platform
from services.models.exchanges import DataSource, Exchange, ExchangeCredential
from services.models.ledger import (
    AccountKind,
    HoldState,
    LedgerAccount,
    LedgerCheck,
    LedgerEntry,
    LedgerHold,
    LedgerPosting,
)
from services.models.notifications import (
    AlertState,
    Broadcast,
    Notification,
    NotificationStatus,
)
from services.models.payouts import (
    FINAL_STATUSES,
    AuditEntry,
    AutoWithdrawal,
    PayoutAddress,
    PayoutMethod,
    PayoutNetwork,
    PayoutSettings,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalStatus,
)
from services.models.rates import (
    EstimateBasis,
    EstimateRate,
    ExchangeShareHistory,
    RateGroup,
    RateGroupMember,
    RateGroupShare,
    RebateAccrual,
    TraderShare,
)
from services.models.sync import (
    CommissionRecord,
    CommissionRevision,
    RecordOrigin,
    SyncRun,
    SyncRunStatus,
    SyncState,
)
from services.models.users import DigestMode, Role, SignupSource, User

__all__ = [
    "AccountStatus",
    "AdjustmentDirection",
    "AdjustmentStatus",
    "LedgerAdjustment",
    "AlertState",
    "Broadcast",
    "CommissionRecord",
    "CommissionRevision",
    "DataSource",
    "DigestMode",
    "Event",
    "Exchange",
    "ExchangeCredential",
    "ExchangeAccount",
    "Notification",
    "NotificationStatus",
    "Platform",
    "RecordOrigin",
    "Role",
    "SignupSource",
    "SyncRun",
    "SyncRunStatus",
    "SyncState",
    "User",
    "AccountKind",
    "HoldState",
    "LedgerAccount",
    "LedgerCheck",
    "LedgerEntry",
    "LedgerHold",
    "LedgerPosting",
    "EstimateBasis",
    "EstimateRate",
    "ExchangeShareHistory",
    "RateGroup",
    "RateGroupMember",
    "RateGroupShare",
    "RebateAccrual",
    "TraderShare",
    "FINAL_STATUSES",
    "AuditEntry",
    "AutoWithdrawal",
    "PayoutAddress",
    "PayoutMethod",
    "PayoutNetwork",
    "PayoutSettings",
    "Withdrawal",
    "WithdrawalApproval",
    "WithdrawalStatus",
]
