"""What a trader types on the way to a withdrawal, checked before anything is held: the amount
(its format, the network's minimum and maximum, the balance) and the fee and net amount it comes
to. Pure functions: the same answers for the bot, the Mini App and the engine's re-check.

Every refusal is a ``PayoutRefusal`` with a stable code and the numbers its message needs, so
each reader sees the same reason in their own language."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from services.ledger.money import ZERO, round_money
from services.models import PayoutMethod
from services.payouts.config import NetworkDTO, PayoutSettingsDTO

# Money is USDT on the ledger (8 dp), but exchanges take USDT withdrawals with at most 6 decimals
# (OKX and Bitget both document 6 for USDT): a trader's amount is cut to what can be paid.
AMOUNT_PLACES = 6
MAX_AMOUNT_CHARS = 24
_AMOUNT = re.compile(r"^\d+(?:[.,]\d+)?$")
_GROUPING = re.compile(r"[\s\u00a0\u202f']")  # "2 750,00", "1'000": thousands separators
ALL_WORDS = frozenset({"all", "max", "все", "всё", "вся", "максимум"})


class PayoutRefusal(Exception):
    """A request that cannot be made, with a stable ``code`` (the i18n key's last part) and the
    values its message shows."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def parse_amount(text: str) -> Decimal | None:
    """A positive amount as a trader writes it ("25", "25.5", "25,5", "1 000"); None means "all
    available". Raises PayoutRefusal(bad_amount | too_many_decimals | not_positive)."""
    cleaned = _GROUPING.sub("", text.strip().lower().removesuffix("usdt").strip())
    if cleaned in ALL_WORDS:
        return None
    if not cleaned or len(cleaned) > MAX_AMOUNT_CHARS or not _AMOUNT.match(cleaned):
        raise PayoutRefusal("bad_amount")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
        raise PayoutRefusal("bad_amount") from exc
    if amount.as_tuple().exponent < -AMOUNT_PLACES:  # type: ignore[operator]
        raise PayoutRefusal("too_many_decimals", places=AMOUNT_PLACES)
    if amount <= 0:
        raise PayoutRefusal("not_positive")
    return amount


def cut_to_payable(amount: Decimal) -> Decimal:
    """``all available`` as an amount an exchange takes: down to 6 decimals (never up)."""
    return amount.quantize(Decimal(1).scaleb(-AMOUNT_PLACES), rounding="ROUND_DOWN")


@dataclass(frozen=True)
class Quote:
    """What a confirmed request would be: gross (held), fee (ours), net (sent)."""

    method: PayoutMethod
    amount: Decimal
    fee: Decimal
    net_amount: Decimal
    network_id: str | None
    exchange_id: str
    approvals_needed: int
    flags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Limits:
    """The bounds of one method or network for one trader right now."""

    min_amount: Decimal
    max_amount: Decimal
    limit_24h: Decimal
    limit_72h: Decimal
    used_24h: Decimal  # gross of the trader's requests in the window, not failed or undone
    used_72h: Decimal

    @property
    def room(self) -> Decimal:
        return max(ZERO, min(self.max_amount, self.limit_24h - self.used_24h,
                             self.limit_72h - self.used_72h))


def check_amount(amount: Decimal, available: Decimal, limits: Limits) -> None:
    """Raise the first reason ``amount`` cannot be requested (in the order a trader would fix
    them: too small, more than they have, more than a single request, more than the window)."""
    if amount < limits.min_amount:
        raise PayoutRefusal("below_minimum", minimum=limits.min_amount)
    if amount > available:
        raise PayoutRefusal("above_balance", available=available)
    if amount > limits.max_amount:
        raise PayoutRefusal("above_maximum", maximum=limits.max_amount)
    if amount > limits.limit_24h - limits.used_24h:
        raise PayoutRefusal("above_limit_24h", limit=limits.limit_24h,
                            left=max(ZERO, limits.limit_24h - limits.used_24h))
    if amount > limits.limit_72h - limits.used_72h:
        raise PayoutRefusal("above_limit_72h", limit=limits.limit_72h,
                            left=max(ZERO, limits.limit_72h - limits.used_72h))


def quote(method: PayoutMethod, amount: Decimal, *, network: NetworkDTO | None,
          exchange_id: str, settings: PayoutSettingsDTO) -> Quote:
    """Fee and net for a checked amount. On chain the network's fee rule applies; an internal
    transfer is free (no network fee for us to pass on)."""
    fee = network.fee_for(amount) if method is PayoutMethod.ONCHAIN and network else ZERO
    if fee >= amount:
        raise PayoutRefusal("fee_exceeds_amount", fee=fee)
    return Quote(method=method, amount=round_money(amount), fee=fee,
                 net_amount=round_money(amount - fee),
                 network_id=network.id if network else None, exchange_id=exchange_id,
                 approvals_needed=settings.approvals_needed(amount))
