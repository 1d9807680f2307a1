"""The worker's payout jobs: the tick that pays approved withdrawals and follows open ones,
the immediate payment after an approval, the finance cards, and the payout alerts.

Cards are sent by the worker (not through the outbox: a card is one message edited as its
request moves, and the outbox only sends new ones). A crash between sending a card and storing
its message id can leave a second card for one request; both carry the request's revision, and
the decision rules make either one give the same single decision.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from tortoise import Tortoise

from bot.settings import Settings
from handlers.finance.cards import card_keyboard, card_text
from services.i18n import Catalog
from services.payouts.cards import cards_to_render, record_card

log = logging.getLogger(__name__)

PENDING_TOO_LONG_HOURS = 4  # seed 000: a request waiting longer than this is an alert
PENDING_TOO_MANY = 50
FAILURE_RATE = 0.05  # of the last hour's finished payouts


async def payout_tick(ctx: dict[str, Any]) -> str:
    """Every 15 s: make the auto-withdrawals that are due, pay what is approved, follow what
    is open, bring the cards up to date."""
    auto = await ctx["services"].auto_withdrawals.run_due()
    report = await ctx["services"].payouts.tick()
    if report.skipped:
        return f"auto {auto}, another worker's payout tick is running"
    cards = await post_cards(ctx)
    alerts = await payout_alerts(ctx)
    return (f"auto {auto}, paid {report.paid}, followed {report.reconciled}, "
            f"changed {len(report.changed)}, cards {cards}, alerts {alerts}")


async def pay_withdrawal(ctx: dict[str, Any], withdrawal_id: int) -> str:
    status = await ctx["services"].payouts.pay(withdrawal_id)
    await post_cards(ctx)
    return f"withdrawal {withdrawal_id}: {status or 'not claimed'}"


async def post_cards(ctx: dict[str, Any]) -> int:
    """Send the cards that are missing and edit those that show an older state."""
    settings: Settings = ctx["settings"]
    bot: Bot | None = ctx.get("bot")
    if bot is None or settings.finance_chat_id is None:
        return 0
    catalog: Catalog = ctx.get("i18n") or Catalog.load(default_locale=settings.default_locale)
    t = catalog.translator(settings.default_locale)
    done = 0
    for view in await cards_to_render():
        w = view.withdrawal
        text, markup = card_text(t, view), card_keyboard(t, view)
        if w.card_message_id is not None and w.card_chat_id is not None:
            try:
                await bot.edit_message_text(text, chat_id=w.card_chat_id,
                                            message_id=w.card_message_id, reply_markup=markup)
                await record_card(w.id, w.card_chat_id, w.card_message_id, view.state_key)
                done += 1
                continue
            except TelegramBadRequest as exc:
                if "message is not modified" in exc.message:
                    await record_card(w.id, w.card_chat_id, w.card_message_id, view.state_key)
                    continue
                if "message to edit not found" not in exc.message:
                    log.warning("card of withdrawal %s not edited: %s", w.id, exc.message)
                    continue
                # the card was deleted in the chat: post it again below
        sent = await bot.send_message(settings.finance_chat_id, text, reply_markup=markup)
        await record_card(w.id, sent.chat.id, sent.message_id, view.state_key)
        done += 1
    return done


async def payout_alerts(ctx: dict[str, Any]) -> int:
    """Seed 000's payout alerts in the admin chat: told when one starts and when it clears
    (services/alerts.py). Returns how many fire now."""
    settings: Settings = ctx["settings"]
    if settings.admin_chat_id is None:
        return 0
    [row] = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) FILTER (WHERE status = 'awaiting_approval') AS pending, "
        " count(*) FILTER (WHERE status = 'awaiting_approval' "
        "   AND created_at < now() - make_interval(hours => $1)) AS old, "
        " count(*) FILTER (WHERE status IN ('failed', 'error') "
        "   AND updated_at > now() - interval '1 hour') AS failed, "
        " count(*) FILTER (WHERE status IN ('failed', 'error', 'completed') "
        "   AND updated_at > now() - interval '1 hour') AS finished, "
        " count(*) FILTER (WHERE status IN ('unknown', 'submitting') "
        "   AND submitted_at < now() - interval '1 hour') AS unknown "
        "FROM withdrawals WHERE status IN ('awaiting_approval', 'failed', 'error', 'completed', "
        "'unknown', 'submitting')",
        [PENDING_TOO_LONG_HOURS])
    firing: dict[str, dict[str, object]] = {
        "payout_pending_old": {"count": row["old"], "hours": PENDING_TOO_LONG_HOURS}
        if row["old"] else {},
        "payout_pending_many": {"count": row["pending"]}
        if row["pending"] > PENDING_TOO_MANY else {},
        # the engine keeps asking; a person should look at the exchange
        "payout_outcome_unknown": {"count": row["unknown"]} if row["unknown"] else {},
        "payout_failure_rate": {"failed": row["failed"], "finished": row["finished"]}
        if row["finished"] and row["failed"] / row["finished"] > FAILURE_RATE else {},
    }
    alerts = ctx["services"].alerts
    for family, params in firing.items():
        await alerts.report(family, {"": params} if params else {}, settings.admin_chat_id)
    return sum(1 for params in firing.values() if params)
