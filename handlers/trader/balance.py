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
from services.dto import AccountDTO, UserDTO
from services.events import EventService
from services.i18n import Translator
from services.models import AccountStatus, Platform
from services.sync import ExchangeStatusDTO, SyncService
from services.sync.wording import sync_line

router = Router(name="trader.balance")

HISTORY_PAGE_SIZE = 8


_NOTHING_EARNED = {
    AccountStatus.PENDING: "balance.exchange_pending",
    AccountStatus.VERIFIED: "balance.exchange_verified",
    AccountStatus.REJECTED: "balance.exchange_rejected",
}


def _account_state(accounts: list[AccountDTO]) -> AccountStatus:
    """One exchange's state for the balance screen, of its (maybe several) UIDs."""
    states = {account.status for account in accounts}
    for state in (AccountStatus.VERIFIED, AccountStatus.PENDING):
        if state in states:
            return state
    return AccountStatus.REJECTED


def render_balance(t: Translator, summary: BalanceSummary, accounts: list[AccountDTO],
                   statuses: dict[str, ExchangeStatusDTO], now: datetime) -> str:
    locale = t.locale
    lines = [t("balance.title"), "",
             t("balance.available", amount=money(summary.available, locale)),
             t("balance.held", amount=money(summary.held, locale)),
             t("balance.paid_out", amount=money(summary.paid_out, locale)),
             t("balance.total_earned", amount=money(summary.total_earned, locale))]
    if summary.estimated_earned:
        lines.append(t("balance.estimated_note",
                       amount=money(summary.estimated_earned, locale)))
    earned = {e.exchange_id: e for e in summary.per_exchange}
    linked: dict[str, list[AccountDTO]] = {}
    for account in accounts:
        linked.setdefault(account.exchange_id, []).append(account)
    shown = list(dict.fromkeys([*earned, *linked]))  # earning exchanges, then linked ones
    if not shown:
        return "\n".join([*lines, "", t("balance.empty")])
    lines += ["", t("balance.by_exchange")]
    for exchange_id in shown:
        status = statuses.get(exchange_id)
        earning = earned.get(exchange_id)
        if earning is not None:
            lines.append(t("balance.exchange_line", name=earning.exchange_name,
                           amount=money(earning.earned, locale)))
        else:  # linked, nothing earned yet: say why, not "earned — USDT"
            name = linked[exchange_id][0].exchange_name
            state = _account_state(linked[exchange_id])
            lines.append(t(_NOTHING_EARNED[state], name=name))
            if state is AccountStatus.REJECTED:
                continue  # no sync will change it
        if status is not None:
            lines.append("    " + sync_line(t, status, now))
    return "\n".join(lines)


def render_history(t: Translator, page: HistoryPage) -> str:
    if not page.lines:
        return t("history.title", page=1, pages=1) + "\n\n" + t("history.empty")
    locale = t.locale
    lines = [t("history.title", page=page.page, pages=page.pages), ""]
    for line in page.lines:
        key = "history.line_estimated" if line.estimated else "history.line"
        lines.append(t(key, day=line.day.isoformat(), name=line.exchange_name,
                       volume=money(line.volume, locale), fee=money(line.fee, locale),
                       gross=money(line.gross, locale),
                       share=percent(line.share_percent, locale),
                       rebate=money(line.rebate, locale)))
    totals = page.totals
    lines += ["", t("history.totals", volume=money(totals.volume, locale),
                    fee=money(totals.fee, locale), gross=money(totals.gross, locale),
                    rebate=money(totals.rebate, locale))]
    # Days the exchange reported no fee (or volume) are not in those sums: say so.
    note = _partial_note(any(line.fee is None for line in page.lines),
                         any(line.volume is None for line in page.lines))
    if note is not None:
        lines.append(t(note))
    return "\n".join(lines)


def _partial_note(fee_missing: bool, volume_missing: bool) -> str | None:
    if fee_missing and volume_missing:
        return "history.partial_fee_volume"
    if fee_missing:
        return "history.partial_fee"
    if volume_missing:
        return "history.partial_volume"
    return None


@router.callback_query(MenuCB.filter(F.screen == Screen.BALANCE))
async def on_balance(
    query: CallbackQuery, t: Translator, user: UserDTO, balances: BalanceService,
    accounts: AccountService, sync: SyncService, events: EventService,
    miniapp_url: str | None = None,
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="balance")
    summary = await balances.summary(user.id)
    linked = await accounts.list_for_user(user.id)
    statuses = {status.exchange_id: status for status in await sync.statuses()}
    text = render_balance(t, summary, linked, statuses, datetime.now(UTC))
    await show(query, text, keyboards.balance(t, miniapp_url))


@router.callback_query(HistoryCB.filter())
async def on_history(
    query: CallbackQuery, callback_data: HistoryCB, t: Translator, user: UserDTO,
    balances: BalanceService, events: EventService, miniapp_url: str | None = None,
) -> None:
    await events.record("screen_viewed", user.id, Platform.BOT, screen="history",
                        page=callback_data.page)
    page = await balances.history(user.id, max(1, callback_data.page), HISTORY_PAGE_SIZE)
    await show(query, render_history(t, page),
               keyboards.history(t, page.page, page.pages, miniapp_url))
