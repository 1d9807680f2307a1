"""A finance card: one message per request that needs a human, edited as the request moves, so
the chat reads as the queue's current state. Its buttons name the request's revision: a click
approves exactly what the person saw."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import FinanceAction, FinanceCB
from handlers.money import moment, money
from handlers.render import escape
from services.i18n import Translator
from services.models import PayoutMethod, WithdrawalStatus
from services.payouts.cards import CardView


def card_text(t: Translator, view: CardView) -> str:
    w, trader = view.withdrawal, view.trader
    locale = t.locale
    if w.method is PayoutMethod.INTERNAL:
        destination = t("finance.card.internal", exchange=w.exchange_id,
                        uid=escape(w.to_uid or ""))
    else:
        known = "new_address" not in w.risk_flags
        destination = t("finance.card.onchain", network=escape(view.network_name or ""),
                        address=escape(w.address or ""),
                        known=t("finance.card.known" if known else "finance.card.new"))
    lines = [
        t("finance.card.title", id=w.id, status=t(f"finance.status.{w.status.value}")),
        t("finance.card.amount", amount=money(w.amount, locale), fee=money(w.fee, locale),
          net=money(w.net_amount, locale), asset=w.asset),
        destination,
        t("finance.card.trader", name=escape(trader.person.name), id=trader.person.id,
          joined=moment(trader.joined_at, locale)),
        t("finance.card.history", earned=money(trader.earned, locale),
          withdrawn=money(trader.withdrawn, locale), count=trader.withdrawals,
          accounts=trader.accounts, verified=trader.verified_accounts),
    ]
    if w.risk_flags:
        lines.append(t("finance.card.flags", flags=", ".join(
            t(f"finance.flag.{flag}") for flag in w.risk_flags)))
    if w.approvals_needed:
        lines.append(t("finance.card.approvals", have=len(view.approvers),
                       need=w.approvals_needed,
                       names=", ".join(escape(p.name) for p in view.approvers) or "—"))
    if w.status is WithdrawalStatus.ERROR and w.reason:
        lines.append(t("finance.card.error", reason=escape(w.reason)))
    if w.status is WithdrawalStatus.REJECTED and w.reason:
        lines.append(t("finance.card.rejected_because", reason=escape(w.reason)))
    if w.tx_hash:
        lines.append(t("finance.card.tx", tx=escape(w.tx_hash)))
    if view.decided_by is not None and view.decided_at is not None and w.status not in (
            WithdrawalStatus.AWAITING_APPROVAL,):
        lines.append(t("finance.card.decided", name=escape(view.decided_by.name),
                       at=moment(view.decided_at, locale)))
    return "\n".join(lines)


def card_keyboard(t: Translator, view: CardView) -> InlineKeyboardMarkup | None:
    w = view.withdrawal

    def button(key: str, action: FinanceAction) -> InlineKeyboardButton:
        data = FinanceCB(action=action, withdrawal_id=w.id, revision=w.revision).pack()
        return InlineKeyboardButton(text=t(key), callback_data=data)

    if w.status is WithdrawalStatus.AWAITING_APPROVAL:
        rows = [[button("finance.button.approve", FinanceAction.APPROVE),
                 button("finance.button.reject", FinanceAction.REJECT)]]
    elif w.status is WithdrawalStatus.ERROR:
        rows = [[button("finance.button.retry", FinanceAction.RETRY),
                 button("finance.button.reject", FinanceAction.REJECT)],
                [button("finance.button.paid", FinanceAction.PAID)]]
    else:
        return None
    return InlineKeyboardMarkup(inline_keyboard=rows)
