"""Withdrawals: the payout networks and thresholds (configuration, seeded by ``migrate``), the
traders' saved addresses, withdrawal requests with their approvals, and the append-only audit
log of every human decision.

A withdrawal's money is a ledger hold (services/ledger): placed when the trader confirms,
posted when the payout completed, voided when it was rejected, cancelled or failed. Only
services/payouts/ writes these tables; state changes are conditional UPDATEs (``WHERE status =
…``), so two workers, or two finance people, cannot both move one request.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class PayoutMethod(StrEnum):
    INTERNAL = "internal"  # to the trader's own verified UID at an exchange: no network fee
    ONCHAIN = "onchain"  # withdraw from our exchange account to the trader's address


class WithdrawalStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # a finance card is out; the trader may cancel
    APPROVED = "approved"  # to be paid by the engine (auto-approved ones start here)
    SUBMITTING = "submitting"  # committed before the exchange is called (the client id too)
    SUBMITTED = "submitted"  # the exchange accepted it
    SENT = "sent"  # broadcast: a tx hash is known
    UNKNOWN = "unknown"  # the call's outcome is unknown: reconciled, never resent blindly
    ERROR = "error"  # the exchange refused it: finance retries or rejects (money still held)
    COMPLETED = "completed"  # final: the hold is posted
    REJECTED = "rejected"  # final: finance said no (reason shown to the trader); hold voided
    CANCELLED = "cancelled"  # final: the trader cancelled before approval; hold voided
    FAILED = "failed"  # final: the exchange failed it after accepting; hold voided


FINAL_STATUSES = frozenset({WithdrawalStatus.COMPLETED, WithdrawalStatus.REJECTED,
                            WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED})


class PayoutNetwork(Model):
    """One way to receive a payout on chain: an asset on a network, paid from one of our
    exchange accounts."""

    id = fields.CharField(max_length=24, primary_key=True)  # "USDT-TRC20"
    asset = fields.CharField(max_length=16)  # what the trader receives: USDT, BTC
    network = fields.CharField(max_length=16)  # TRC20 | ERC20 | BEP20 | BTC
    name = fields.CharField(max_length=64)  # "USDT · Tron (TRC20)"
    enabled = fields.BooleanField(default=True)
    position = fields.IntField(default=0)
    payout_exchange_id = fields.CharField(max_length=16)  # whose account withdraws it
    min_amount = fields.DecimalField(max_digits=30, decimal_places=8)  # USDT, gross
    max_amount = fields.DecimalField(max_digits=30, decimal_places=8)
    fee_percent = fields.DecimalField(max_digits=9, decimal_places=6)  # 0.01 = 1 %
    fee_min = fields.DecimalField(max_digits=30, decimal_places=8)
    fee_max = fields.DecimalField(max_digits=30, decimal_places=8)
    limit_24h = fields.DecimalField(max_digits=30, decimal_places=8)  # per trader, USDT
    limit_72h = fields.DecimalField(max_digits=30, decimal_places=8)
    explorer_tx_url = fields.CharField(max_length=255)  # with {tx}
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payout_networks"


class PayoutSettings(Model):
    """The one row of payout-wide settings (id 1)."""

    id = fields.IntField(primary_key=True)
    approval_threshold = fields.DecimalField(max_digits=30, decimal_places=8)  # above: finance
    dual_approval_threshold = fields.DecimalField(max_digits=30, decimal_places=8)  # above: two
    address_cooldown_hours = fields.IntField(default=24)
    admins_can_approve = fields.BooleanField(default=True)
    internal_limit_24h = fields.DecimalField(max_digits=30, decimal_places=8)
    internal_limit_72h = fields.DecimalField(max_digits=30, decimal_places=8)
    internal_min_amount = fields.DecimalField(max_digits=30, decimal_places=8)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payout_settings"


class PayoutAddress(Model):
    """A trader's saved address on a network; it can receive from ``usable_from`` on (a new
    address waits a cooldown, so a hijacked account cannot empty itself at once)."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(db_index=True)
    network_id = fields.CharField(max_length=24)
    address = fields.CharField(max_length=128)
    label = fields.CharField(max_length=32, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    usable_from = fields.DatetimeField()
    removed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payout_addresses"
        unique_together = (("user_id", "network_id", "address"),)


class Withdrawal(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(db_index=True)
    method = fields.CharEnumField(PayoutMethod, max_length=16)
    status = fields.CharEnumField(WithdrawalStatus, max_length=24)
    # Bumped by every change of what would be paid; an approval names the revision it saw.
    revision = fields.IntField(default=1)
    asset = fields.CharField(max_length=16, default="USDT")  # of the ledger hold
    amount = fields.DecimalField(max_digits=30, decimal_places=8)  # gross, held
    fee = fields.DecimalField(max_digits=30, decimal_places=8)
    net_amount = fields.DecimalField(max_digits=30, decimal_places=8)  # what the trader gets
    network_id = fields.CharField(max_length=24, null=True)  # on-chain
    address = fields.CharField(max_length=128, null=True)
    address_id = fields.BigIntField(null=True)
    exchange_id = fields.CharField(max_length=16)  # whose account pays (internal: the UID's)
    to_uid = fields.CharField(max_length=64, null=True)  # internal transfer
    hold_id = fields.BigIntField(null=True)
    approvals_needed = fields.IntField(default=0)
    risk_flags: list[str] = fields.JSONField(default=list)
    auto = fields.BooleanField(default=False)  # created by the trader's auto-withdrawal
    client_id = fields.CharField(max_length=32, unique=True)  # the exchange's client id
    exchange_withdrawal_id = fields.CharField(max_length=64, null=True)
    tx_hash = fields.CharField(max_length=128, null=True)
    paid_manually = fields.BooleanField(default=False)
    reason = fields.TextField(null=True)  # a rejection reason (for the trader) or an error
    attempts = fields.IntField(default=0)
    card_chat_id = fields.BigIntField(null=True)  # the finance card, edited as it moves
    card_message_id = fields.BigIntField(null=True)
    card_state = fields.CharField(max_length=64, null=True)  # what the card shows now
    # The Mini App's Idempotency-Key of the request that made it: a retried POST (the answer
    # lost on the way back) returns this request instead of holding the money twice.
    request_key = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    submitted_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "withdrawals"
        indexes = (("status", "updated_at"), ("user_id", "created_at"))
        unique_together = (("user_id", "request_key"),)


class WithdrawalApproval(Model):
    """One approver's yes to one revision. Unique per (withdrawal, approver): a second click
    of the same person is no second approval."""

    id = fields.BigIntField(primary_key=True)
    withdrawal_id = fields.BigIntField()
    approver_id = fields.BigIntField()
    revision = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "withdrawal_approvals"
        unique_together = (("withdrawal_id", "approver_id"),)


class AuditEntry(Model):
    """Append-only (a trigger refuses UPDATE and DELETE) and hash-chained (an edited or deleted
    row shows): who did what to which object, with the object before and after, and refused
    attempts too."""

    id = fields.BigIntField(primary_key=True)
    actor_id = fields.BigIntField(null=True)  # None: the system
    action = fields.CharField(max_length=48)  # withdrawal.approve, withdrawal.approve_refused …
    object_type = fields.CharField(max_length=32)
    object_id = fields.CharField(max_length=64)
    before: dict[str, object] | None = fields.JSONField(null=True)
    after: dict[str, object] | None = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The hash chain (services/audit_chain.py), set by the database's insert trigger: the
    # row's place, the hash of the row before it, and sha256 of (place, that hash, the row).
    seq = fields.BigIntField(null=True, unique=True)
    prev_hash = fields.CharField(max_length=64, null=True)
    row_hash = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "audit_log"
        indexes = (("object_type", "object_id"),)


class AutoWithdrawal(Model):
    """A trader's standing order: when the available balance reaches ``threshold``, a request
    for all of it is made to this destination, under the same rules as one made by hand."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    threshold = fields.DecimalField(max_digits=30, decimal_places=8)
    method = fields.CharEnumField(PayoutMethod, max_length=16)
    network_id = fields.CharField(max_length=24, null=True)
    address_id = fields.BigIntField(null=True)
    exchange_id = fields.CharField(max_length=16, null=True)  # internal: the verified UID's
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "auto_withdrawals"
