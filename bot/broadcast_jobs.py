"""Every 10 seconds: each broadcast still being delivered gets its progress message in the
admin chat edited (sent / blocked / failed of all), and a final count when nothing waits."""

from __future__ import annotations

import logging
from typing import Any

from aiogram.exceptions import TelegramAPIError

from bot.app import Services
from services.i18n import Catalog

log = logging.getLogger(__name__)


async def broadcast_progress(ctx: dict[str, Any]) -> int:
    services: Services = ctx["services"]
    i18n: Catalog = ctx["i18n"]
    t = i18n.translator(i18n.default_locale)  # the admin chat's language
    bot = ctx.get("bot")  # None without BOT_TOKEN: the counts are still kept
    updated = 0
    for broadcast in await services.broadcasts.unfinished():
        progress = await services.broadcasts.progress(broadcast.id)
        if (bot is not None and broadcast.progress_chat_id is not None
                and broadcast.progress_message_id is not None):
            key = "admin.broadcast.done" if progress.done else "admin.broadcast.progress"
            try:
                await bot.edit_message_text(
                    t(key, sent=progress.sent, blocked=progress.blocked,
                      failed=progress.failed, total=progress.total),
                    chat_id=broadcast.progress_chat_id,
                    message_id=broadcast.progress_message_id)
            except TelegramAPIError as exc:  # "not modified", or the message was deleted
                log.info("broadcast %s progress not edited: %s", broadcast.id, exc)
        if progress.done:
            await services.broadcasts.finish(broadcast.id)
        updated += 1
    return updated
