"""Typed, short callback data: ids and enums only, always under Telegram's 64 bytes."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from services.models import DigestMode


class Screen(StrEnum):
    MAIN = "main"
    EXCHANGES = "ex"
    ACCOUNTS = "acc"
    BALANCE = "bal"
    SETTINGS = "set"
    HELP = "help"
    WITHDRAW = "wd"


class MenuCB(CallbackData, prefix="m"):
    screen: Screen


class ExchangeAction(StrEnum):
    CARD = "card"
    EXISTING = "have"


class ExchangeCB(CallbackData, prefix="x"):
    action: ExchangeAction
    exchange_id: str


class ExistingCB(CallbackData, prefix="ea"):
    """A step of the "I already have an account" check: the answers so far, one code each
    (services.existing_accounts.Answer); empty for the first question."""

    exchange_id: str
    answers: str = ""


class LinkAction(StrEnum):
    START = "start"  # choose the exchange
    PICK = "pick"  # an exchange was chosen
    CONFIRM = "ok"
    CANCEL = "no"


class LinkCB(CallbackData, prefix="l"):
    action: LinkAction
    exchange_id: str = ""


class DisputeCB(CallbackData, prefix="uidd"):
    """"This UID is mine": a trader claims a UID that another trader holds."""

    exchange_id: str
    uid: str


class LanguageCB(CallbackData, prefix="lang"):
    locale: str


class HistoryCB(CallbackData, prefix="h"):
    page: int


class CsvAction(StrEnum):
    IMPORT = "go"
    CANCEL = "no"


class CsvCB(CallbackData, prefix="csv"):
    action: CsvAction
    token: str


class DigestCB(CallbackData, prefix="dg"):
    mode: DigestMode


class FinanceAction(StrEnum):
    APPROVE = "ok"
    REJECT = "no"
    RETRY = "re"
    PAID = "paid"  # paid by hand: record the transaction hash


class FinanceCB(CallbackData, prefix="fin"):
    """A button of a finance card: the action on a request at the revision the card showed."""

    action: FinanceAction
    withdrawal_id: int
    revision: int


class WithdrawAction(StrEnum):
    NETWORK = "net"  # an on-chain network was picked (network_id)
    INTERNAL = "int"  # the trader's own UID at an exchange (exchange_id)
    ADDRESS = "adr"  # a saved address (address_id)
    NEW_ADDRESS = "new"
    SKIP_LABEL = "skip"
    ALL = "all"  # all available
    CONFIRM = "ok"
    CANCEL = "no"


class WithdrawCB(CallbackData, prefix="wd"):
    """A step of the withdrawal flow; the choices so far are in the FSM data."""

    action: WithdrawAction
    network_id: str = ""
    exchange_id: str = ""
    address_id: int = 0


class WithdrawalAction(StrEnum):
    LIST = "list"  # My withdrawals
    CANCEL = "cancel"  # take back a request not yet approved


class WithdrawalCB(CallbackData, prefix="wr"):
    action: WithdrawalAction
    withdrawal_id: int = 0


class AutoAction(StrEnum):
    SHOW = "show"
    PICK = "pick"  # a destination was picked: ask the threshold
    OFF = "off"


class AutoCB(CallbackData, prefix="aw"):
    """The auto-withdrawal screen: ``exchange_id`` (internal) or ``address_id`` (on chain)."""

    action: AutoAction
    exchange_id: str = ""
    address_id: int = 0


class StaffAction(StrEnum):
    OPEN = "open"  # one of several users a lookup found
    BAN = "ban"
    UNBAN = "unban"
    ROLE = "role"  # give ``role``
    GROUP = "group"  # put the trader in rate group ``group_id`` from today (0: in none)


class StaffCB(CallbackData, prefix="su"):
    """A button of the admin chat's user file."""

    action: StaffAction
    user_id: int
    role: str = ""
    group_id: int = 0


class BroadcastCB(CallbackData, prefix="bc"):
    """A broadcast's audience (``kind``/``value``), or send / cancel."""

    action: str  # "audience", "send", "cancel"
    kind: str = ""
    value: str = ""
