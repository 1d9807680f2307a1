"""Entries: account refs, legs and specs, their hash and validation, and posting them."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import asyncpg
from tortoise import Tortoise

from services.ledger.errors import IdempotencyConflict, InsufficientFunds, UnbalancedEntry
from services.ledger.money import MONEY_QUANTUM, USDT, ZERO, is_money
from services.models.ledger import AccountKind


class AccountRef(NamedTuple):
    """Names an account; the row is created on first use. A named tuple rather than a
    dataclass: a booking batch looks accounts up in dicts tens of thousands of times, and a
    tuple hashes and compares in C. All three fields are strings (AccountKind is a StrEnum)."""

    kind: AccountKind
    owner: str = ""
    asset: str = USDT

    @classmethod
    def trader_available(cls, user_id: int, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.TRADER_AVAILABLE, str(user_id), asset)

    @classmethod
    def trader_held(cls, user_id: int, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.TRADER_HELD, str(user_id), asset)

    @classmethod
    def receivable(cls, exchange_id: str, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.EXCHANGE_RECEIVABLE, exchange_id, asset)

    @classmethod
    def service_revenue(cls, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.SERVICE_REVENUE, "", asset)

    @classmethod
    def payouts_in_transit(cls, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.PAYOUTS_IN_TRANSIT, "", asset)

    @classmethod
    def fees(cls, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.FEES, "", asset)

    @classmethod
    def suspense(cls, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.SUSPENSE, "", asset)

    @classmethod
    def adjustments(cls, asset: str = USDT) -> AccountRef:
        return cls(AccountKind.ADJUSTMENTS, "", asset)


@dataclass(frozen=True)
class Leg:
    account: AccountRef
    amount: Decimal  # positive credits the account, negative debits it


@dataclass(frozen=True)
class EntrySpec:
    key: str
    kind: str
    legs: tuple[Leg, ...]
    memo: str = ""
    actor: str = "system"

    def content_hash(self) -> str:
        """What a replay must match: the kind and the legs (memo and actor are not content)."""
        return content_hash(self.kind, ((leg.account, leg.amount) for leg in self.legs))

    def validate(self) -> None:
        validate_legs(self.key, [(leg.account, leg.amount) for leg in self.legs])


def content_hash(kind: str, legs: Iterable[tuple[AccountRef, Decimal]]) -> str:
    """THE content hash of an entry (the one implementation; EntrySpec and the column-wise
    insert both use it): the kind and the sorted legs."""
    # An AccountRef is the tuple (kind, owner, asset) of strings, so each leg sorts and joins
    # as kind|owner|asset|amount. (The stored hashes depend on this text: never change it.)
    lines = sorted((*account, str(amount.quantize(MONEY_QUANTUM))) for account, amount in legs)
    text = kind + "\n" + "\n".join("|".join(leg) for leg in lines)
    return hashlib.sha256(text.encode()).hexdigest()


def validate_legs(key: str, legs: Sequence[tuple[AccountRef, Decimal]]) -> None:
    """At least two legs, each a non-zero 8-dp amount, summing to zero per asset."""
    if len(legs) < 2:
        raise UnbalancedEntry(f"{key}: an entry needs at least two legs")
    totals: dict[str, Decimal] = {}
    for account, amount in legs:
        if amount == 0 or not is_money(amount):
            raise UnbalancedEntry(f"{key}: {amount} is not a non-zero 8-dp amount")
        totals[account.asset] = totals.get(account.asset, ZERO) + amount
    if any(total != 0 for total in totals.values()):
        raise UnbalancedEntry(f"{key}: legs do not sum to zero per asset")


@dataclass(frozen=True)
class EntryResult:
    entry_id: int
    key: str
    replayed: bool  # True: the key existed with the same content; nothing was posted now


@dataclass(frozen=True)
class LockedAccount:
    id: int
    balance: Decimal


# --- Low-level helpers (also used by the rebate engine within its own transaction) -------------


@asynccontextmanager
async def ledger_transaction(connection_name: str = "default") -> AsyncIterator[Any]:
    """A raw asyncpg connection inside a transaction (a savepoint if the caller already runs
    one through Tortoise), with database rule violations mapped to ledger errors."""
    client = Tortoise.get_connection(connection_name)
    try:
        async with client.acquire_connection() as conn, conn.transaction():
            yield conn
    except asyncpg.CheckViolationError as exc:
        if exc.constraint_name == "ledger_accounts_trader_nonnegative":
            raise InsufficientFunds("a trader balance would go negative") from exc
        if exc.constraint_name == "ledger_entry_balanced":
            raise UnbalancedEntry(str(exc)) from exc
        raise


async def ensure_accounts(conn: Any, refs: Iterable[AccountRef]) -> dict[AccountRef, int]:
    """Create missing accounts and return the ids (no locks: an account's identity never
    changes, so an id read here stays valid)."""
    wanted = sorted(set(refs))  # a fixed insert order, so concurrent creators cannot deadlock
    kinds = [ref.kind.value for ref in wanted]
    owners = [ref.owner for ref in wanted]
    assets = [ref.asset for ref in wanted]
    await conn.execute(
        "INSERT INTO ledger_accounts (kind, owner, asset) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
        kinds, owners, assets,
    )
    rows = await conn.fetch(
        "SELECT id, kind, owner, asset FROM ledger_accounts "
        "WHERE (kind, owner, asset) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))",
        kinds, owners, assets,
    )
    return {AccountRef(AccountKind(row["kind"]), row["owner"], row["asset"]): row["id"]
            for row in rows}


async def lock_account_ids(
    conn: Any, ids: Mapping[AccountRef, int]
) -> dict[AccountRef, LockedAccount]:
    """Lock accounts known by id in id order (the one lock order of the ledger) and return their
    balances as of the lock."""
    refs = {account_id: ref for ref, account_id in ids.items()}
    rows = await conn.fetch(
        "SELECT id, balance FROM ledger_accounts WHERE id = ANY($1::bigint[]) "
        "ORDER BY id FOR UPDATE", list(refs),
    )
    return {refs[row["id"]]: LockedAccount(row["id"], row["balance"]) for row in rows}


async def lock_accounts(conn: Any, refs: Iterable[AccountRef]) -> dict[AccountRef, LockedAccount]:
    """Create missing accounts, then lock all of them in id order (the one lock order of the
    ledger) and return their ids and balances as of the lock."""
    return await lock_account_ids(conn, await ensure_accounts(conn, refs))


async def insert_entries(
    conn: Any, specs: Sequence[EntrySpec], accounts: Mapping[AccountRef, LockedAccount]
) -> list[EntryResult]:
    """Insert entries and their postings set-based (three statements for any number of
    entries). The accounts must be locked already. Keys that exist are replays: same content →
    the first entry's result, different content → IdempotencyConflict."""
    for spec in specs:
        spec.validate()
    hashes = [spec.content_hash() for spec in specs]
    inserted = await conn.fetch(
        "INSERT INTO ledger_entries (idempotency_key, kind, content_hash, memo, actor) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key",
        [s.key for s in specs], [s.kind for s in specs], hashes,
        [s.memo for s in specs], [s.actor for s in specs],
    )
    new_ids: dict[str, int] = {row["idempotency_key"]: row["id"] for row in inserted}
    existing: dict[str, tuple[int, str]] = {}
    if len(new_ids) < len(specs):
        replays = [s.key for s in specs if s.key not in new_ids]
        rows = await conn.fetch(
            "SELECT id, idempotency_key, content_hash FROM ledger_entries "
            "WHERE idempotency_key = ANY($1::text[])", replays,
        )
        existing = {row["idempotency_key"]: (row["id"], row["content_hash"]) for row in rows}

    postings: list[tuple[int, int, Decimal]] = []
    results: list[EntryResult] = []
    for spec, content_hash in zip(specs, hashes, strict=True):
        entry_id = new_ids.get(spec.key)
        if entry_id is None:
            first_id, first_hash = existing[spec.key]
            if first_hash != content_hash:
                raise IdempotencyConflict(spec.key)
            results.append(EntryResult(first_id, spec.key, replayed=True))
            continue
        postings.extend((entry_id, accounts[leg.account].id, leg.amount) for leg in spec.legs)
        results.append(EntryResult(entry_id, spec.key, replayed=False))
    if postings:
        # Binary COPY: the fastest insert path; the statement trigger on ledger_postings fires
        # for COPY exactly as for INSERT.
        await conn.copy_records_to_table(
            "ledger_postings", columns=["entry_id", "account_id", "amount"], records=postings
        )
    return results
