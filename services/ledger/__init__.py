"""The double-entry ledger: the only way money moves.

Guarantees (the database enforces the first four itself; see migrations/0003_ledger.py):

- every entry has two or more postings that sum to zero per asset (checked at COMMIT);
- entries and postings are insert-only; corrections are new (reversing) entries;
- each account's cached balance moves in the same statement as its postings, and a trader's
  available and held balances never go negative (CHECK);
- a hold resolves exactly once (pending → posted or voided);
- every entry has a unique idempotency key: a replay with the same content returns the first
  result (``replayed=True``), a replay with different content raises IdempotencyConflict.

Concurrency: every writer locks the balance rows it touches with ``SELECT … ORDER BY id FOR
UPDATE`` before posting, so writers queue per account and never deadlock; the CHECK, not a value
read earlier, decides whether a debit fits. Postings are signed: positive credits the account.

Modules, bottom to top (each imports only those below it): money (amounts, rounding), errors,
entries (accounts, legs, hashing, validation, posting), bulk (the COPY path for large batches),
invariants (the check, its gauges, the payout freeze), service (the Ledger: entries and holds).
"""

from __future__ import annotations

from services.ledger.bulk import (
    LegColumn,
    StagedEntries,
    allocate_entry_ids,
    csv_bytes,
    insert_entry_columns,
    insert_staged_entries,
    stage_entries,
)
from services.ledger.entries import (
    AccountRef,
    EntryResult,
    EntrySpec,
    Leg,
    LockedAccount,
    content_hash,
    ensure_accounts,
    insert_entries,
    ledger_transaction,
    lock_account_ids,
    lock_accounts,
    validate_legs,
)
from services.ledger.errors import (
    HoldAlreadyResolved,
    HoldNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    UnbalancedEntry,
)
from services.ledger.invariants import (
    INVARIANT_OK,
    INVARIANT_SECONDS,
    INVARIANT_VIOLATIONS,
    PAYOUTS_FROZEN,
    TRADER_KINDS,
    InvariantReport,
)
from services.ledger.money import (
    MONEY_PLACES,
    MONEY_QUANTUM,
    USDT,
    ZERO,
    is_money,
    round_money,
    split_gross,
)
from services.ledger.service import HoldResult, Ledger

__all__ = [
    # money
    "MONEY_PLACES",
    "MONEY_QUANTUM",
    "USDT",
    "ZERO",
    "is_money",
    "round_money",
    "split_gross",
    # errors
    "HoldAlreadyResolved",
    "HoldNotFound",
    "IdempotencyConflict",
    "InsufficientFunds",
    "LedgerError",
    "UnbalancedEntry",
    # entries
    "AccountRef",
    "EntryResult",
    "EntrySpec",
    "Leg",
    "LockedAccount",
    "content_hash",
    "ensure_accounts",
    "insert_entries",
    "ledger_transaction",
    "lock_account_ids",
    "lock_accounts",
    "validate_legs",
    # bulk
    "LegColumn",
    "StagedEntries",
    "allocate_entry_ids",
    "csv_bytes",
    "insert_entry_columns",
    "insert_staged_entries",
    "stage_entries",
    # invariants
    "INVARIANT_OK",
    "INVARIANT_SECONDS",
    "INVARIANT_VIOLATIONS",
    "PAYOUTS_FROZEN",
    "TRADER_KINDS",
    "InvariantReport",
    # service
    "HoldResult",
    "Ledger",
]
