from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message

from services.permissions import Permission, allowed
from services.users import UserService


class InAdminChat(Filter):
    """The update comes from the configured admin chat."""

    async def __call__(self, event: Message | CallbackQuery, admin_chat_id: int | None) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        chat = getattr(message, "chat", None)
        return chat is not None and admin_chat_id is not None and chat.id == admin_chat_id


class Allowed(Filter):
    """The sender's role allows ``permission`` (services/permissions.py). The role is read
    from the database on every admin update (never from a cache): being in the admin chat is
    not enough, and a demotion counts at once."""

    def __init__(self, permission: Permission):
        self.permission = permission

    async def __call__(self, event: Message | CallbackQuery, users: UserService) -> bool:
        sender = event.from_user
        if sender is None:
            return False
        user = await users.get(sender.id, fresh=True)
        return user is not None and not user.is_banned and allowed(user.role, self.permission)
