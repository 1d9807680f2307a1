"""The notification outbox: services write rows here; a worker job delivers them to Telegram at
its rate limits. Nothing calls Telegram from a service."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanently: the chat blocked the bot, or it does not exist


class Notification(Model):
    id = fields.BigIntField(primary_key=True)
    # Makes writing a notification idempotent: "uid_verified:{account_id}", "digest:{user}:{day}".
    dedupe_key = fields.CharField(max_length=128, unique=True)
    chat_id = fields.BigIntField()
    user_id = fields.BigIntField(null=True)
    kind = fields.CharField(max_length=32)
    # Rendered at delivery time in the user's language then: a catalog key and its parameters.
    text_key = fields.CharField(max_length=64)
    params: dict[str, object] = fields.JSONField(default=dict)
    silent = fields.BooleanField(default=False)
    status = fields.CharEnumField(NotificationStatus, max_length=8,
                                  default=NotificationStatus.PENDING)
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField(null=True)
    # A delivery loop's claim: until this time no other loop takes the row. A crashed loop's
    # claim simply runs out, and the row is delivered by the next one.
    claimed_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notifications"
        indexes = (("status", "not_before"),)


class AlertState(Model):
    """An operators' alert that is firing, or fired and cleared: told once when it starts, and
    once more ("resolved") when its condition clears (services/alerts.py)."""

    key = fields.CharField(max_length=96, primary_key=True)  # family, or family:subject
    family = fields.CharField(max_length=48)
    firing = fields.BooleanField()
    since = fields.DatetimeField()  # when it last started firing
    params: dict[str, object] = fields.JSONField(default=dict)  # the words of its message
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "alert_states"


class Broadcast(Model):
    """A message from the operators to many traders: its words per language, who gets it, and
    the admin-chat message that shows its progress (services/broadcasts.py). Each recipient's
    copy is a row of the outbox (dedupe key ``broadcast:<id>:<user>``)."""

    id = fields.BigIntField(primary_key=True)
    created_by = fields.BigIntField()
    texts: dict[str, str] = fields.JSONField()  # locale → text, English always there
    audience: dict[str, str] = fields.JSONField()  # {"kind": all|language|exchange|active, …}
    recipients = fields.IntField()
    progress_chat_id = fields.BigIntField(null=True)
    progress_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "broadcasts"
