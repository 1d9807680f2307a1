"""Sample people and chats for ``python -m bot demo`` and ``python -m sandbox.telegram``."""

from __future__ import annotations

from .state import StubState

DEMO_TRADER_ID = 1001
DEMO_TRADER_RU_ID = 1002
DEMO_ADMIN_ID = 1003
DEMO_ADMIN_CHAT_ID = -1001000000001


def seed_demo_people(state: StubState, admin_chat_id: int = DEMO_ADMIN_CHAT_ID) -> None:
    """Declare a trader (en), a Russian-speaking trader, and an admin with an admin chat."""
    state.add_user(DEMO_TRADER_ID, "Demo trader", "demo_trader", "en")
    state.add_user(DEMO_TRADER_RU_ID, "Demo trader (Russian)", "demo_trader_ru", "ru")
    state.add_user(DEMO_ADMIN_ID, "Demo admin", "demo_admin", "en")
    state.add_group(admin_chat_id, "Admin chat", admins=[DEMO_ADMIN_ID])
