"""A withdrawal as the rest of the product sees it, and the shapes it is shown in: the audit
row's before/after and the parameters of the trader's messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.models import FINAL_STATUSES, PayoutMethod, WithdrawalStatus


@dataclass(frozen=True)
class WithdrawalDTO:
    id: int
    user_id: int
    method: PayoutMethod
    status: WithdrawalStatus
    revision: int
    asset: str
    amount: Decimal
    fee: Decimal
    net_amount: Decimal
    network_id: str | None
    address: str | None
    address_id: int | None
    exchange_id: str
    to_uid: str | None
    hold_id: int | None
    approvals_needed: int
    risk_flags: tuple[str, ...]
    auto: bool
    client_id: str
    exchange_withdrawal_id: str | None
    tx_hash: str | None
    paid_manually: bool
    reason: str | None
    attempts: int
    card_chat_id: int | None
    card_message_id: int | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    completed_at: datetime | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def destination(self) -> str:
        """What the trader recognises: the address, or "UID 123 at OKX" (the name is added
        by the reader)."""
        return self.address or self.to_uid or ""

    def audit_view(self) -> dict[str, Any]:
        return {"status": self.status.value, "revision": self.revision,
                "amount": str(self.amount), "fee": str(self.fee),
                "net_amount": str(self.net_amount), "method": self.method.value,
                "network_id": self.network_id, "address": self.address,
                "to_uid": self.to_uid, "exchange_id": self.exchange_id,
                "tx_hash": self.tx_hash, "reason": self.reason}

    def message_params(self) -> dict[str, object]:
        """Parameters of the trader's notifications (JSON values; amounts as strings under
        names ending in ``amount``, which the outbox renders as money in the reader's
        language)."""
        return {"id": self.id, "amount": str(self.amount), "fee_amount": str(self.fee),
                "net_amount": str(self.net_amount), "asset": self.asset,
                "network": self.network_id or "", "destination": self.destination,
                "exchange": self.exchange_id, "tx": self.tx_hash or "",
                "reason": self.reason or ""}


def withdrawal_dto(row: Any) -> WithdrawalDTO:
    flags = row["risk_flags"]
    if isinstance(flags, str | bytes):
        flags = json.loads(flags)
    return WithdrawalDTO(
        id=row["id"], user_id=row["user_id"], method=PayoutMethod(row["method"]),
        status=WithdrawalStatus(row["status"]), revision=row["revision"], asset=row["asset"],
        amount=Decimal(row["amount"]), fee=Decimal(row["fee"]),
        net_amount=Decimal(row["net_amount"]), network_id=row["network_id"],
        address=row["address"], address_id=row["address_id"], exchange_id=row["exchange_id"],
        to_uid=row["to_uid"], hold_id=row["hold_id"], approvals_needed=row["approvals_needed"],
        risk_flags=tuple(flags or ()), auto=row["auto"], client_id=row["client_id"],
        exchange_withdrawal_id=row["exchange_withdrawal_id"], tx_hash=row["tx_hash"],
        paid_manually=row["paid_manually"], reason=row["reason"], attempts=row["attempts"],
        card_chat_id=row["card_chat_id"], card_message_id=row["card_message_id"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        submitted_at=row["submitted_at"], completed_at=row["completed_at"])
