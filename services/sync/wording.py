"""How the sync state of an exchange is said to a trader: "last sync 5 min ago, next in 55 min".

Shared by the bot's balance screen and the Mini App's dashboard, so both say the same words.
"""

from __future__ import annotations

from datetime import datetime

from services.i18n import Translator
from services.sync.status import ExchangeStatus, ExchangeStatusDTO


def relative_when(t: Translator, moment: datetime, now: datetime, *, future: bool) -> str:
    """"5 min ago" / "in 3 h"; under a minute, "just now" / "soon" (never "0 min ago")."""
    minutes = int(abs((moment - now).total_seconds()) // 60)
    if future and (moment <= now or minutes < 1):
        return t("balance.sync.soon")
    if not future and minutes < 1:
        return t("balance.sync.just_now")
    amount = (t("balance.sync.minutes", n=minutes) if minutes < 90
              else t("balance.sync.hours", n=round(minutes / 60)))
    return t("balance.sync.in" if future else "balance.sync.ago", when=amount)


def sync_line(t: Translator, status: ExchangeStatusDTO, now: datetime) -> str:
    """When the numbers of an exchange were last brought in, and when next (an empty day is
    explained by it). Only what is known: no "next" where nothing is scheduled."""
    last = status.last_success_at
    if status.status == ExchangeStatus.DISABLED:
        return t("balance.exchange_sync_paused")
    if status.data_source != "api":  # a CSV-only exchange: its imports are its syncs
        if last is None:
            return t("balance.exchange_report_none")
        return t("balance.exchange_report", last=relative_when(t, last, now, future=False))
    # A StrEnum: a DTO built with the plain string "not_configured" compares equal too.
    if status.status == ExchangeStatus.NOT_CONFIGURED:  # the worker does not sync it
        if last is None:
            return t("balance.exchange_sync_none")
        return t("balance.exchange_sync_last", last=relative_when(t, last, now, future=False))
    # An API exchange without a due time is due now: the worker picks it up at its next tick.
    upcoming = relative_when(t, status.next_due_at or now, now, future=True)
    if last is None:
        return t("balance.exchange_sync_first", next=upcoming)
    return t("balance.exchange_sync", last=relative_when(t, last, now, future=False),
             next=upcoming)


RUN_ERRORS = ("auth", "rate_limited", "temporary", "permanent", "interrupted", "bad_csv",
              "internal")


def run_error_words(t: Translator, error_class: str | None) -> str:
    """A failed run's error class as an operator reads it: what went wrong and what to do
    (the admin screens show the exchange's own message under it)."""
    known = error_class if error_class in RUN_ERRORS else "unknown"
    return t(f"app.admin.exchanges.error.{known}")
