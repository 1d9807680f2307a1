from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    TRADER = "trader"
    VIEWER = "viewer"
    OPS = "ops"
    FINANCE = "finance"
    ADMIN = "admin"


class SignupSource(StrEnum):
    ORGANIC = "organic"
    INFLUENCER = "influencer"
    CHANNEL = "channel"
    PAID = "paid"
    REFERRAL = "referral"
    OTHER = "other"


class DigestMode(StrEnum):
    """The daily accrual digest: a normal message, a silent one, or none."""

    ON = "on"
    SILENT = "silent"
    OFF = "off"


class User(Model):
    """A person known to the bot; the primary key is their Telegram user id."""

    id = fields.BigIntField(primary_key=True, generated=False)
    username = fields.CharField(max_length=64, null=True)
    first_name = fields.CharField(max_length=128, default="")
    telegram_language = fields.CharField(max_length=16, null=True)
    # Chosen in Settings; None means "follow Telegram's language".
    locale = fields.CharField(max_length=8, null=True)
    role = fields.CharEnumField(Role, max_length=16, default=Role.TRADER)
    signup_source = fields.CharEnumField(SignupSource, max_length=16, default=SignupSource.ORGANIC)
    signup_code = fields.CharField(max_length=64, null=True)
    is_banned = fields.BooleanField(default=False)
    digest_mode = fields.CharEnumField(DigestMode, max_length=8, default=DigestMode.ON)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"
