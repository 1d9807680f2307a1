"""Balance and history: what the trader has earned, overall and per exchange, and the per-day
line that traces volume → fee → commission → their share (the "why is my rebate this low?"
answer)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import F, Router
from aiogram.types import CallbackQuery

from handlers import keyboards
from handlers.callbacks import HistoryCB, MenuCB, Screen
from handlers.money import money, percent
from handlers.render import show
from services.accounts import AccountService
from services.balances import BalanceService, BalanceSummary, HistoryPage
from services.dto import UserDTO
from services.events import EventService
from services.i18n import Translator
from services.models import Platform
from services.sync import ExchangeStatusDTO, SyncService

router = Router(name="trader.balance")

HISTORY_PAGE_SIZE = 8


def _when(t: Translator, moment: datetime | None, now: datetime, *, future: bool) -> str:
    if moment is None:
        return t("balance.sync.unknown")
    minutes = int(abs((moment - now).total_seconds()) // 60)
    amount = (t("balance.sync.minutes", n=minutes) if minutes < 90
              else t("balance.sync.hours", n=round(minutes / 60)))
    if future:
        return t("balance.sync.in", when=amount) if moment > now else t("balance.sync.soon")
    return t("balance.sync.ago", when=amount)


def render_balance(t: Translator, summary: BalanceSummary, exchanges: list[str],
                   statuses: dict[str, ExchangeStatusDTO], now: datetime) -> str:
    lines = [t("balance.title"), "",
             t("balance.available", amount=money(summary.available)),
             t("balance.held", amount=money(summary.held)),
             t("balance.paid_out", amount=money(summary.paid_out)),
             t("balance.total_earned", amount=money(summary.total_earned))]
    if summary.estimated_earned:
        lines.append(t("balance.estimated_note", amount=money(summary.estimated_earned)))
    earned = {e.exchange_id: e for e in summary.per_exchange}
    shown = list(dict.fromkeys([*earned, *exchanges]))  # earning exchanges, then linked ones
    if not shown:
        return "\n".join([*lines, "", t("balance.empty")])
    lines += ["", t("balance.by_exchange")]
    for exchange_id in shown:
        status = statuses.get(exchange_id)
        name = status.name if status else exchange_id
        earning = earned.get(exchange_id)
        lines.append(t("balance.exchange_line", name=name,
                       amount=money(earning.earned if earning else None)))
        if status is not None:
            lines.append("    " + t(
                "balance.exchange_sync",
                last=_when(t, status.last_success_at, now, future=False),
                next=_when(t, status.next_due_at, now, future=True),
            ))
    return "\n".join(lines)


def render_history(t: Translator, page: HistoryPage) -> str:
    if not page.lines:
        return t("history.title", page=1, pages=1) + "\n\n" + t("history.empty")
    lines = [t("history.title", page=page.page, pages=page.pages), ""]
    for line in page.lines:
        key = "history.line_estimated" if line.estimated else "history.line"
        lines.append(t(key, day=line.day.isoformat(), name=line.exchange_name,
                       volume=money(line.volume), fee=money(line.fee), gross=money(line.gross),
                       share=percent(line.share_percent), rebate=money(line.rebate)))
    totals = page.totals
    lines += ["", t("history.totals", volume=money(totals.volume), fee=money(totals.fee),
                    gross=money(totals.gross), rebate=money(totals.rebate))]
    return "\n".join(lines)


@router.callback_query(MenuCB.filter(F.screen == Screen.BALANCE))
async def on_balance(
    query: CallbackQuery, t: Translator, user: UserDTO, balances: BalanceService,
    accounts: AccountService, sync: SyncService, events: EventService,
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="balance")
    summary = await balances.summary(user.id)
    linked = [account.exchange_id for account in await accounts.list_for_user(user.id)]
    statuses = {status.exchange_id: status for status in await sync.statuses()}
    text = render_balance(t, summary, linked, statuses, datetime.now(UTC))
    await show(query, text, keyboards.balance(t))


@router.callback_query(HistoryCB.filter())
async def on_history(
    query: CallbackQuery, callback_data: HistoryCB, t: Translator, user: UserDTO,
    balances: BalanceService, events: EventService,
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="history",
                        page=callback_data.page)
    page = await balances.history(user.id, max(1, callback_data.page), HISTORY_PAGE_SIZE)
    await show(query, render_history(t, page), keyboards.history(t, page.page, page.pages))
