"""The ledger's errors: what posting an entry or resolving a hold can raise."""

from __future__ import annotations


class LedgerError(Exception):
    pass


class UnbalancedEntry(LedgerError):
    """The legs do not sum to zero per asset, are fewer than two, or are not 8-dp amounts."""


class IdempotencyConflict(LedgerError):
    """The key was used before for different content."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was used before with different content")
        self.key = key


class InsufficientFunds(LedgerError):
    """A trader's available (or held) balance would go negative."""


class HoldNotFound(LedgerError):
    pass


class HoldAlreadyResolved(LedgerError):
    def __init__(self, hold_id: int, state: str) -> None:
        super().__init__(f"hold {hold_id} is already {state}")
        self.hold_id = hold_id
        self.state = state
