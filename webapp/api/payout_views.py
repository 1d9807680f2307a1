"""How the payout screens' answers show a queued request: the finance card's facts (amount,
fee, net, destination new or known, the trader's history, the risk flags, who approved) with
every number written by the server in the reader's language, as the card words them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.formatting import percent
from services.models import PayoutMethod
from services.payouts.queue import QueueItem
from webapp.api.common import Caller, amount_text, moment_json, money_json, plain


def fee_percent_json(fraction: Decimal, locale: str) -> dict[str, str]:
    """The fee rate: exact as stored (0.001 = 0.1 %), and its text as a percentage."""
    return {"amount": amount_text(fraction), "text": f"{percent(fraction * 100, locale)}%"}


def queue_item_json(item: QueueItem, who: Caller) -> dict[str, Any]:
    view, t, locale = item.card, who.t, who.locale
    w, trader = view.withdrawal, view.trader
    known = None if w.method is PayoutMethod.INTERNAL else "new_address" not in w.risk_flags
    if w.method is PayoutMethod.INTERNAL:
        destination_text = plain(t("finance.card.internal", exchange=w.exchange_id,
                                   uid=w.to_uid or ""))
    else:
        destination_text = plain(t(
            "finance.card.onchain", network=view.network_name or w.network_id or "",
            address=w.address or "",
            known=t("finance.card.known" if known else "finance.card.new")))
    history_text = plain(t(
        "finance.card.history", earned=money_json(trader.earned, locale)["text"],
        withdrawn=money_json(trader.withdrawn, locale)["text"], count=trader.withdrawals,
        accounts=trader.accounts, verified=trader.verified_accounts))
    approvals_text = plain(t("finance.card.approvals", have=len(view.approvers),
                             need=w.approvals_needed,
                             names=", ".join(p.name for p in view.approvers) or "—"))
    return {
        "id": w.id, "status": w.status.value,
        "status_text": plain(t(f"finance.status.{w.status.value}")),
        "revision": w.revision, "method": w.method.value, "asset": w.asset,
        "amount": money_json(w.amount, locale), "fee": money_json(w.fee, locale),
        "net": money_json(w.net_amount, locale),
        "network_id": w.network_id, "network_name": view.network_name,
        "exchange_id": w.exchange_id, "destination": w.destination,
        "destination_known": known, "destination_text": destination_text,
        "auto": w.auto,
        "trader": {"id": trader.person.id, "name": trader.person.name,
                   "joined": moment_json(trader.joined_at, locale),
                   "earned": money_json(trader.earned, locale),
                   "withdrawn": money_json(trader.withdrawn, locale),
                   "withdrawals": trader.withdrawals, "accounts": trader.accounts,
                   "verified_accounts": trader.verified_accounts,
                   "history_text": history_text},
        "flags": [{"code": flag, "text": plain(t(f"finance.flag.{flag}"))}
                  for flag in w.risk_flags],
        "approvals": {"have": len(view.approvers), "need": w.approvals_needed,
                      "names": [p.name for p in view.approvers], "text": approvals_text},
        "reason": w.reason, "tx_hash": w.tx_hash,
        "created_at": moment_json(w.created_at, locale),
        "decided": None if view.decided_by is None else {
            "name": view.decided_by.name, "at": moment_json(view.decided_at, locale)},
        "actions": {"approve": item.actions.approve, "reject": item.actions.reject,
                    "retry": item.actions.retry, "paid": item.actions.paid},
    }
