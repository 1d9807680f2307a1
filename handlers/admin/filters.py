from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from bot.settings import Settings
from services.dto import UserDTO
from services.models import Role


class InAdminChat(Filter):
    """The update comes from the configured admin chat."""

    async def __call__(self, event: Message | CallbackQuery, settings: Settings) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        chat = getattr(message, "chat", None)
        return chat is not None and settings.admin_chat_id is not None and (
            chat.id == settings.admin_chat_id
        )


class HasRole(Filter):
    """The sender's role, read from the database on every update: being in the admin chat is
    not enough."""

    def __init__(self, *roles: Role):
        self.roles = frozenset(roles)

    async def __call__(self, event: Message | CallbackQuery, user: UserDTO | None = None) -> bool:
        return user is not None and not user.is_banned and user.role in self.roles
