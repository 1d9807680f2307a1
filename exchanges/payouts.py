"""The interface for paying traders out of one of our exchange accounts, and its data shapes.

Every request carries our client withdrawal id (`client_id`, at most 32 characters of
[a-z0-9]): the exchange stores it with the withdrawal, so after a crash or a timeout the engine
asks `find_withdrawal(client_id)` what happened instead of sending the money a second time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar


class PayoutState(StrEnum):
    PENDING = "pending"  # accepted by the exchange, not yet on chain (or in review there)
    SENT = "sent"  # broadcast: a transaction hash exists, confirmations pending
    COMPLETED = "completed"  # final: the money left and arrived (internal) / is confirmed
    FAILED = "failed"  # final: the exchange cancelled or failed it; nothing left our account


@dataclass(frozen=True, slots=True)
class PayoutStatus:
    client_id: str
    exchange_withdrawal_id: str
    state: PayoutState
    tx_hash: str | None
    fee: Decimal | None  # the network fee the exchange charged us, in the asset, if reported
    raw_state: str  # the exchange's own word, for the card and the logs


@dataclass(frozen=True, slots=True)
class PayoutCapabilities:
    onchain: bool
    internal: bool  # can transfer to another user of the same exchange by UID
    networks: frozenset[str]  # our network names this exchange sends on ("TRC20", "ERC20", …)


class PayoutRefused(Exception):
    """The exchange answered and did not take the withdrawal: nothing was sent.

    `code` is the exchange's error code; `duplicate` is True when the refusal says a
    withdrawal with this client id already exists (then `find_withdrawal` tells its state).
    """

    def __init__(self, message: str, *, code: str = "", duplicate: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.duplicate = duplicate


class PayoutOutcomeUnknown(Exception):
    """No answer we can trust (timeout, connection lost, 5xx after sending): the withdrawal may
    or may not exist. Never resend on this; ask `find_withdrawal` first."""


class PayoutSource(ABC):
    """Sends withdrawals from our account on one exchange."""

    exchange_id: ClassVar[str]
    payout_capabilities: ClassVar[PayoutCapabilities]

    @abstractmethod
    async def withdraw_onchain(
        self, *, client_id: str, asset: str, network: str, amount: Decimal, address: str,
        tag: str | None = None,
    ) -> str:
        """Send `amount` of `asset` to `address` on `network`; return the exchange's
        withdrawal id. Raises PayoutRefused or PayoutOutcomeUnknown."""

    @abstractmethod
    async def transfer_internal(
        self, *, client_id: str, asset: str, amount: Decimal, to_uid: str,
    ) -> str:
        """Send `amount` to the exchange user `to_uid` without a network fee; return the
        exchange's withdrawal id. Raises PayoutRefused or PayoutOutcomeUnknown."""

    @abstractmethod
    async def find_withdrawal(self, client_id: str) -> PayoutStatus | None:
        """The withdrawal we sent under `client_id`, or None when the exchange has none.
        Raises PayoutOutcomeUnknown when the exchange cannot be asked right now."""

    @abstractmethod
    async def close(self) -> None: ...
