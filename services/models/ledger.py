"""The double-entry ledger: accounts with cached balances, insert-only entries and postings,
two-phase holds and the history of invariant checks.

Only services/ledger/ writes these tables, with raw SQL. The rules that matter for money
(balanced entries, insert-only postings, no negative trader balance, holds resolve once) are
enforced by the database itself: see the triggers and CHECKs in the ``ledger`` migration.

Sign convention: a posting's ``amount`` is positive when it credits the account and negative
when it debits it; an account's balance is the sum of its postings. Trader, revenue and
in-transit balances are therefore positive, the exchange receivable (what an exchange owes us)
is negative, and all balances of one asset sum to zero.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AccountKind(StrEnum):
    TRADER_AVAILABLE = "trader_available"  # owner = user id; never negative (DB CHECK)
    TRADER_HELD = "trader_held"  # owner = user id; funds held for a withdrawal; never negative
    SERVICE_REVENUE = "service_revenue"  # owner = ""
    EXCHANGE_RECEIVABLE = "exchange_receivable"  # owner = exchange id
    PAYOUTS_IN_TRANSIT = "payouts_in_transit"  # owner = ""
    FEES = "fees"  # owner = ""; network fees of payouts
    SUSPENSE = "suspense"  # owner = ""; what could not be booked where it belongs
    # owner = ""; the counterpart of manual adjustments (services/adjustments/): what
    # operators credited to traders (negative) or took back (positive), on its own so the
    # total of manual corrections is one figure, apart from revenue and from suspense.
    ADJUSTMENTS = "adjustments"


class HoldState(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class LedgerAccount(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(AccountKind, max_length=24)
    owner = fields.CharField(max_length=64, default="")
    asset = fields.CharField(max_length=16, default="USDT")
    # Cached sum of the account's postings, maintained by a trigger on ledger_postings.
    balance = fields.DecimalField(max_digits=30, decimal_places=8, default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_accounts"
        unique_together = (("kind", "owner", "asset"),)


class LedgerEntry(Model):
    id = fields.BigIntField(primary_key=True)
    idempotency_key = fields.CharField(max_length=255, unique=True)
    kind = fields.CharField(max_length=32)  # accrual | reaccrual | hold | hold_post | ...
    # sha256 of the entry's kind and legs: a replay of the key must carry the same content.
    content_hash = fields.CharField(max_length=64)
    memo = fields.TextField(default="")
    actor = fields.CharField(max_length=64, default="system")
    # The creating transaction (txid_current(), set by a column default); the commit-time
    # balance check finds "this transaction's entries" by it.
    tx_id = fields.BigIntField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_entries"


class LedgerPosting(Model):
    # entry_id and account_id are plain columns on purpose: a foreign key costs a row lock on the
    # (hot) account row per posting; the statement-level trigger on this table checks both
    # references set-based instead.
    id = fields.BigIntField(primary_key=True)
    entry_id = fields.BigIntField(db_index=True)
    account_id = fields.BigIntField()
    amount = fields.DecimalField(max_digits=30, decimal_places=8)

    class Meta:
        table = "ledger_postings"
        indexes = (("account_id", "id"),)


class LedgerHold(Model):
    """A two-phase transfer: available → held, then posted (paid out) or voided, exactly once."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)  # the caller's idempotency key
    user_id = fields.BigIntField(db_index=True)
    asset = fields.CharField(max_length=16, default="USDT")
    amount = fields.DecimalField(max_digits=30, decimal_places=8)
    state = fields.CharEnumField(HoldState, max_length=8, default=HoldState.PENDING)
    # The network fee taken when the hold was posted.
    fee = fields.DecimalField(max_digits=30, decimal_places=8, null=True)
    hold_entry_id = fields.BigIntField()  # the resolving entry has the key "hold:{key}:post|void"
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ledger_holds"
        indexes = (("state", "created_at"),)


class LedgerCheck(Model):
    """One run of the invariant check (insert-only); the newest row decides whether payouts are
    frozen."""

    id = fields.BigIntField(primary_key=True)
    checked_at = fields.DatetimeField(auto_now_add=True)
    ok = fields.BooleanField()
    payouts_frozen = fields.BooleanField()
    violations: dict[str, int] = fields.JSONField(default=dict)
    duration_ms = fields.IntField(default=0)

    class Meta:
        table = "ledger_checks"
