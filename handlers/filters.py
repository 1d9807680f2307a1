from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from services.dto import UserDTO


class Registered(Filter):
    """The sender has pressed /start before and is not banned."""

    async def __call__(self, event: TelegramObject, user: UserDTO | None = None) -> bool:
        return user is not None and not user.is_banned
