"""Manual ledger adjustments (issue 14): an admin's credit or debit of a trader's available
balance, with a reason and an optional document reference. At or below the second-admin
threshold it is applied when requested; above it, it waits for a second, different admin.

Applying is one transaction: this row's conditional state change (``WHERE status =
'awaiting_second'``), the ledger entry (idempotency key ``adjustment:{id}``, so it can never be
booked twice) and the audit row. Only services/adjustments.py writes this table.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AdjustmentDirection(StrEnum):
    CREDIT = "credit"  # adds to the trader's available balance
    DEBIT = "debit"  # takes from it (never below zero)


class AdjustmentStatus(StrEnum):
    AWAITING_SECOND = "awaiting_second"  # above the threshold: a second admin decides
    APPLIED = "applied"  # final: the ledger entry is booked (entry_id)
    REJECTED = "rejected"  # final: the second admin said no
    CANCELLED = "cancelled"  # final: the requester withdrew it before a decision


class LedgerAdjustment(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(db_index=True)  # whose balance
    direction = fields.CharEnumField(AdjustmentDirection, max_length=8)
    asset = fields.CharField(max_length=16, default="USDT")
    amount = fields.DecimalField(max_digits=30, decimal_places=8)  # positive, 8 dp
    reason = fields.CharField(max_length=500)
    document_ref = fields.CharField(max_length=200, null=True)
    status = fields.CharEnumField(AdjustmentStatus, max_length=16)
    # Bumped by every change of state; the second admin's click names the revision they saw.
    revision = fields.IntField(default=1)
    requested_by = fields.BigIntField()
    # The second admin who approved (None when it was applied at once) or who rejected.
    decided_by = fields.BigIntField(null=True)
    entry_id = fields.BigIntField(null=True)  # the ledger entry, once applied
    # The requester's Idempotency-Key: a retried request returns this row, never a second one.
    request_key = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "ledger_adjustments"
        unique_together = (("requested_by", "request_key"),)
        indexes = (("status", "created_at"),)
