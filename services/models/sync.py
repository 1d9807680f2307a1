"""What the exchange sync stores: commission records (with their revisions), runs and the
per-exchange watermark."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

MONEY = {"max_digits": 30, "decimal_places": 8}


class RecordOrigin(StrEnum):
    API = "api"
    CSV = "csv"


class CommissionRecord(Model):
    """The current version of one invitee's numbers for one UTC day and product.

    ``source_key`` is stable across re-reads, so an upsert by it is idempotent. When the exchange
    revises a day, the record gets the new numbers and ``revision`` + 1, and the previous
    version stays in CommissionRevision: history is never overwritten silently.
    """

    id = fields.BigIntField(primary_key=True)
    source_key = fields.CharField(max_length=200, unique=True)
    exchange_id = fields.CharField(max_length=16, db_index=True)
    uid = fields.CharField(max_length=64)
    day = fields.DateField()
    product = fields.CharField(max_length=16)
    volume = fields.DecimalField(**MONEY, null=True)
    fee = fields.DecimalField(**MONEY, null=True)
    commission = fields.DecimalField(**MONEY, null=True)
    currency = fields.CharField(max_length=16)
    rate_to_usdt = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    volume_usdt = fields.DecimalField(**MONEY, null=True)
    fee_usdt = fields.DecimalField(**MONEY, null=True)
    commission_usdt = fields.DecimalField(**MONEY, null=True)
    origin = fields.CharEnumField(RecordOrigin, max_length=8)
    revision = fields.IntField(default=1)
    first_seen_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "commission_records"
        indexes = (("exchange_id", "uid", "day"), ("exchange_id", "day"))


class CommissionRevision(Model):
    """Every version a record has had, insert-only (revision 1 is the first one seen)."""

    id = fields.BigIntField(primary_key=True)
    record_id = fields.BigIntField(db_index=True)
    revision = fields.IntField()
    volume = fields.DecimalField(**MONEY, null=True)
    fee = fields.DecimalField(**MONEY, null=True)
    commission = fields.DecimalField(**MONEY, null=True)
    commission_usdt = fields.DecimalField(**MONEY, null=True)
    origin = fields.CharEnumField(RecordOrigin, max_length=8)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "commission_revisions"
        unique_together = (("record_id", "revision"),)


class SyncRunStatus(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class SyncRun(Model):
    id = fields.BigIntField(primary_key=True)
    exchange_id = fields.CharField(max_length=16)
    trigger = fields.CharField(max_length=16)  # cron | manual | csv
    status = fields.CharEnumField(SyncRunStatus, max_length=8, default=SyncRunStatus.RUNNING)
    window_start = fields.DatetimeField(null=True)
    window_end = fields.DatetimeField(null=True)
    records_seen = fields.IntField(default=0)
    records_new = fields.IntField(default=0)
    records_changed = fields.IntField(default=0)
    error_class = fields.CharField(max_length=32, null=True)  # rate_limited|temporary|auth|…
    error = fields.TextField(null=True)
    started_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sync_runs"
        indexes = (("exchange_id", "started_at"),)


class SyncState(Model):
    """Per exchange: how far the sync has read (the watermark) and when it last succeeded."""

    exchange_id = fields.CharField(max_length=16, primary_key=True)
    watermark = fields.DatetimeField(null=True)
    last_success_at = fields.DatetimeField(null=True)
    last_attempt_at = fields.DatetimeField(null=True)
    next_due_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sync_state"
