"""Admin chat: /stats, the executive snapshot of seed 000 §1 (services/stats.py) for the last
30 days against the 30 before, with its chart as a photo (handlers/admin/stats_chart.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from handlers.admin.filters import Allowed, InAdminChat
from handlers.admin.stats_chart import render_stats_chart
from handlers.render import escape
from services.formatting import money, percent
from services.i18n import Translator
from services.permissions import Permission
from services.stats import Compared, Snapshot, StatsService

router = Router(name="admin.stats")
router.message.filter(InAdminChat(), Allowed(Permission.STATS))


def _change(t: Translator, value: Compared) -> str:
    shift = value.change
    if shift is None:
        return t("admin.stats.no_change")
    arrow = "↑" if shift > 0 else "↓" if shift < 0 else "→"
    return f"{arrow} {percent(abs(shift), t.locale)}%"


def stats_text(t: Translator, snap: Snapshot) -> str:
    locale = t.locale
    lines = [
        t("admin.stats.title", start=snap.start.isoformat(), end=snap.end.isoformat()),
        t("admin.stats.volume", value=money(snap.volume.now, locale),
          change=_change(t, snap.volume)),
        t("admin.stats.traders", total=snap.traders, new=int(snap.new_traders.now),
          change=_change(t, snap.new_traders)),
        t("admin.stats.revenue", value=money(snap.revenue.now, locale),
          gross=money(snap.gross, locale), change=_change(t, snap.revenue)),
        t("admin.stats.activation", value=percent(snap.activation.now, locale),
          change=_change(t, Compared(snap.activation.now, snap.activation.before))),
    ]
    if snap.by_exchange:
        lines.append(t("admin.stats.by_exchange"))
        lines += [t("admin.stats.exchange_line",
                    name=escape(line.name) or t("admin.stats.others"),
                    value=money(line.revenue, locale), share=percent(line.share, locale))
                  for line in snap.by_exchange]
    lines.append(t("admin.stats.actions", pending=snap.pending_withdrawals,
                   alerts=snap.alerts_firing))
    return "\n".join(lines)


@router.message(Command("stats"))
async def cmd_stats(message: Message, t: Translator, stats: StatsService) -> None:
    snap = await stats.snapshot(datetime.now(UTC).date())
    text = stats_text(t, snap)
    if not any(volume or revenue for _, volume, revenue in snap.days):
        await message.answer(text + "\n" + t("admin.stats.no_chart"))
        return
    png = await asyncio.to_thread(render_stats_chart, snap.days, t.locale,
                                  t("admin.stats.chart_volume"), t("admin.stats.chart_revenue"))
    await message.answer_photo(BufferedInputFile(png, "stats.png"), caption=text)


