from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Platform(StrEnum):
    BOT = "bot"
    WEBAPP = "webapp"
    WEB = "web"  # the tracked redirect, opened in a browser
    SYSTEM = "system"


class Event(Model):
    """An analytics event: append-only, one row per meaningful action."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=48)
    user_id = fields.BigIntField(null=True)
    platform = fields.CharEnumField(Platform, max_length=8)
    properties: dict[str, object] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "events"
        indexes = (("name", "created_at"), ("user_id", "created_at"))
