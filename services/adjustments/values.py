"""Manual adjustments' values: the refusals, the adjustment as the rest of the product sees
it, and the request's fields checked (services/adjustments/service.py uses them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from services.ledger.money import is_money
from services.models import AdjustmentDirection, AdjustmentStatus

MAX_REASON = 500
MAX_DOCUMENT_REF = 200
MAX_AMOUNT = Decimal("1000000")  # a sane ceiling: no single correction is anywhere near it
DEFAULT_SECOND_ADMIN_ABOVE = Decimal("100")
LISTED = 50
_AMOUNT = re.compile(r"[0-9]{1,16}([.,][0-9]{1,20})?")


class AdjustmentRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # the actor's role (read now) does not allow it
    UNKNOWN_USER = "unknown_user"
    NOT_FOUND = "not_found"  # no such adjustment
    BAD_DIRECTION = "bad_direction"
    BAD_AMOUNT = "bad_amount"  # not a positive number
    TOO_PRECISE = "too_precise"  # more than 8 decimals
    TOO_LARGE = "too_large"  # above MAX_AMOUNT
    NO_REASON = "no_reason"
    REASON_TOO_LONG = "reason_too_long"
    BAD_DOCUMENT = "bad_document"  # the document reference is too long
    YOURSELF = "yourself"  # one's own balance
    KEY_REUSED = "key_reused"  # the same Idempotency-Key for another adjustment
    INSUFFICIENT_FUNDS = "insufficient_funds"  # a debit above the available balance
    OWN_REQUEST = "own_request"  # the requester cannot be the second admin
    NOT_YOURS = "not_yours"  # only the requester cancels
    ALREADY_DECIDED = "already_decided"
    STALE = "stale"  # it changed since the admin saw it


# Malformed input: refused without an audit row (nothing was attempted on anybody's money).
INPUT_REFUSALS = frozenset({
    AdjustmentRefusal.BAD_DIRECTION, AdjustmentRefusal.BAD_AMOUNT, AdjustmentRefusal.TOO_PRECISE,
    AdjustmentRefusal.TOO_LARGE, AdjustmentRefusal.NO_REASON, AdjustmentRefusal.REASON_TOO_LONG,
    AdjustmentRefusal.BAD_DOCUMENT})


@dataclass(frozen=True)
class AdjustmentDTO:
    id: int
    user_id: int
    user_name: str | None
    direction: AdjustmentDirection
    asset: str
    amount: Decimal
    reason: str
    document_ref: str | None
    status: AdjustmentStatus
    revision: int
    requested_by: int
    requested_by_name: str | None
    decided_by: int | None
    entry_id: int | None
    created_at: datetime
    decided_at: datetime | None

    @property
    def signed_amount(self) -> Decimal:
        """What it does to the trader's available balance."""
        return self.amount if self.direction is AdjustmentDirection.CREDIT else -self.amount

    def audit_view(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "direction": self.direction.value,
                "amount": str(self.amount), "asset": self.asset, "reason": self.reason,
                "document_ref": self.document_ref, "status": self.status.value,
                "revision": self.revision, "requested_by": self.requested_by,
                "decided_by": self.decided_by, "entry_id": self.entry_id}


class AdjustmentError(Exception):
    def __init__(self, refusal: AdjustmentRefusal,
                 adjustment: AdjustmentDTO | None = None) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.adjustment = adjustment


@dataclass(frozen=True)
class AdjustmentOutcome:
    adjustment: AdjustmentDTO
    replayed: bool = False  # the same request again: nothing was done now


@dataclass(frozen=True)
class AdjustmentInput:
    direction: AdjustmentDirection
    amount: Decimal
    reason: str
    document_ref: str | None


def parse_amount(text: object) -> Decimal:
    """An amount as typed: digits with an optional "." or "," and decimals (no sign, no
    exponent). Refusals: BAD_AMOUNT, TOO_PRECISE, TOO_LARGE."""
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, str) and _AMOUNT.fullmatch(text.strip()):
        try:
            value = Decimal(text.strip().replace(",", "."))
        except InvalidOperation:
            raise AdjustmentError(AdjustmentRefusal.BAD_AMOUNT) from None
    else:
        raise AdjustmentError(AdjustmentRefusal.BAD_AMOUNT)
    if not value.is_finite() or value <= 0:
        raise AdjustmentError(AdjustmentRefusal.BAD_AMOUNT)
    if not is_money(value):
        raise AdjustmentError(AdjustmentRefusal.TOO_PRECISE)
    if value > MAX_AMOUNT:
        raise AdjustmentError(AdjustmentRefusal.TOO_LARGE)
    return value


def checked_input(direction: object, amount: object, reason: object,
                  document_ref: object = None) -> AdjustmentInput:
    """The request's fields, checked and normalised, or the first refusal."""
    if direction not in tuple(AdjustmentDirection):
        raise AdjustmentError(AdjustmentRefusal.BAD_DIRECTION)
    value = parse_amount(amount)
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise AdjustmentError(AdjustmentRefusal.NO_REASON)
    if len(text) > MAX_REASON:
        raise AdjustmentError(AdjustmentRefusal.REASON_TOO_LONG)
    if document_ref is not None and not isinstance(document_ref, str):
        raise AdjustmentError(AdjustmentRefusal.BAD_DOCUMENT)
    document = (document_ref or "").strip() or None
    if document is not None and len(document) > MAX_DOCUMENT_REF:
        raise AdjustmentError(AdjustmentRefusal.BAD_DOCUMENT)
    return AdjustmentInput(AdjustmentDirection(str(direction)), value, text, document)
