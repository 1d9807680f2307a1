"""Why a withdrawal step was refused, in the reader's language: the same words in the bot and
in the Mini App (amounts and moments written as the reader writes them)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from services.formatting import moment, money, percent
from services.i18n import MissingTranslation, Translator
from services.payouts.config import NetworkDTO
from services.payouts.quotes import PayoutRefusal

_MONEY_PARAMS = ("minimum", "available", "maximum", "limit", "left", "fee")


def refusal_text(t: Translator, refusal: PayoutRefusal) -> str:
    """The message of ``withdraw.refusal.<code>`` with its values written out. A banned
    trader's refusal is worded by the caller (it names the way to contest it)."""
    params: dict[str, object] = dict(refusal.params)
    for name in _MONEY_PARAMS:
        if name in params:
            params[name] = money(Decimal(str(params[name])), t.locale)
    if "usable_at" in params:
        params["at"] = moment(datetime.fromisoformat(str(params.pop("usable_at"))), t.locale)
    if "looks_like" in params:
        family = str(params.pop("looks_like")).lower()
        params["family"] = t(f"withdraw.family.{family}") if family else ""
    if "status" in params:
        params["status"] = t(f"withdraw.status.{params['status']}")
    try:
        return t(f"withdraw.refusal.{refusal.code}", **params)
    except MissingTranslation:  # a code added to the service before its message
        return t("withdraw.refusal.other")


def fee_rule(t: Translator, network: NetworkDTO) -> str:
    """A network's fee as a trader reads it: "1.00" (fixed), or "0.1% (min 5.00, max 20.00)"."""
    locale = t.locale
    if not network.fee_percent or network.fee_min == network.fee_max:
        return money(network.fee_min, locale)
    return t("withdraw.fee_percent", percent=percent(network.fee_percent * 100, locale),
             min=money(network.fee_min, locale), max=money(network.fee_max, locale))
