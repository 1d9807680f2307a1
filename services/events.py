"""Analytics events: one append-only row per meaningful action (PRODUCT.md, "Analytics")."""

from __future__ import annotations

from services.models import Event, Platform


class EventService:
    async def record(
        self, name: str, user_id: int | None, platform: Platform, **properties: object
    ) -> None:
        await Event.create(name=name, user_id=user_id, platform=platform, properties=properties)

    async def count(self, name: str, user_id: int | None = None) -> int:
        query = Event.filter(name=name)
        if user_id is not None:
            query = query.filter(user_id=user_id)
        return await query.count()
