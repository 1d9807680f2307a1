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


class MenuCB(CallbackData, prefix="m"):
    screen: Screen


class ExchangeAction(StrEnum):
    CARD = "card"
    EXISTING = "have"


class ExchangeCB(CallbackData, prefix="x"):
    action: ExchangeAction
    exchange_id: str


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
