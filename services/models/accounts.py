from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class AccountStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class ExchangeAccount(Model):
    """A trader's UID on an exchange. A UID belongs to one trader only (unique per exchange)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[Model] = fields.ForeignKeyField(
        "models.User", related_name="accounts", on_delete=fields.RESTRICT
    )
    exchange: fields.ForeignKeyRelation[Model] = fields.ForeignKeyField(
        "models.Exchange", related_name="accounts", on_delete=fields.RESTRICT
    )
    uid = fields.CharField(max_length=64)
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.PENDING)
    reject_reason = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    verified_at = fields.DatetimeField(null=True)
    first_trade_at = fields.DatetimeField(null=True)

    class Meta:
        table = "exchange_accounts"
        unique_together = (("exchange", "uid"),)
        indexes = (("user_id", "exchange_id"),)
