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
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

import asyncpg
from prometheus_client import Gauge
from tortoise import Tortoise

from services.models.ledger import AccountKind, HoldState

USDT = "USDT"
MONEY_PLACES = 8
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
ZERO = Decimal(0)

TRADER_KINDS = (AccountKind.TRADER_AVAILABLE, AccountKind.TRADER_HELD)

INVARIANT_OK = Gauge("ledger_invariant_ok", "1 when the last ledger invariant check passed")
INVARIANT_VIOLATIONS = Gauge(
    "ledger_invariant_violations", "Violations found by the last invariant check", ["check"]
)
INVARIANT_SECONDS = Gauge("ledger_invariant_check_seconds", "Duration of the last check")
PAYOUTS_FROZEN = Gauge("ledger_payouts_frozen", "1 while payouts are frozen by the ledger check")


# --- Money ---------------------------------------------------------------------------------


def round_money(value: Decimal) -> Decimal:
    """THE rounding rule of the service: amounts are cut toward zero to 8 decimal places.

    Whoever splits an amount rounds the party paid out (the trader) with this and gives the
    remainder to the service, so the parts always add up to the whole (see split_gross).
    """
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)


def split_gross(gross: Decimal, share: Decimal) -> tuple[Decimal, Decimal]:
    """(trader, service) for a gross commission: the trader's part rounded by round_money, the
    remainder to the service."""
    trader = round_money(gross * share)
    return trader, gross - trader


def is_money(value: Decimal) -> bool:
    """True if the value is finite and has at most 8 decimal places."""
    return value.is_finite() and value == value.quantize(MONEY_QUANTUM)


# --- Errors --------------------------------------------------------------------------------


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


# --- Values --------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    key: str
    user_id: int
    asset: str
    amount: Decimal
    fee: Decimal | None
    state: HoldState
    hold_entry_id: int
    resolve_entry_id: int | None
    created_at: datetime
    resolved_at: datetime | None
    replayed: bool = False


@dataclass(frozen=True)
class InvariantReport:
    ok: bool  # every check passed
    payouts_frozen: bool  # a money-integrity check failed (stale holds alone do not freeze)
    checked_at: datetime
    duration_seconds: float
    violations: dict[str, int]  # check name → number of violations (0 = passed)
    unbalanced_assets: dict[str, Decimal] = field(default_factory=dict)  # asset → non-zero sum


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


@dataclass(frozen=True)
class LegColumn:
    """One leg position of a column-wise batch of entries: the account of each entry in this
    position and its amount (zero: the entry has no leg here)."""

    accounts: Sequence[AccountRef]
    amounts: Sequence[Decimal]


async def allocate_entry_ids(conn: Any, count: int) -> list[int]:
    """``count`` fresh entry ids. Ids drawn but never used (a batch found stale, or entries
    that turned out to move nothing) are gaps in the sequence, nothing more."""
    if count <= 0:
        return []
    rows = await conn.fetch(
        "SELECT nextval('ledger_entries_id_seq') FROM generate_series(1, $1)", count
    )
    return [row[0] for row in rows]


@dataclass(frozen=True)
class StagedEntries:
    """A validated, hashed batch of entries of one kind with their ids, rendered as the CSV of
    its entry rows and of its posting rows (see stage_entries)."""

    count: int
    entries_csv: bytes  # id, idempotency_key, kind, content_hash, memo, actor
    postings_csv: bytes  # entry_id, account_id, amount


_ENTRY_COLUMNS = ["id", "idempotency_key", "kind", "content_hash", "memo", "actor"]
_POSTING_COLUMNS = ["entry_id", "account_id", "amount"]


def stage_entries(
    *, kind: str, keys: Sequence[str], memos: Sequence[str], legs: Sequence[LegColumn],
    account_ids: Mapping[AccountRef, int], entry_ids: Sequence[int], actor: str = "system",
) -> StagedEntries:
    """The client half of insert_entry_columns (pure Python, no database): validate each entry
    exactly as EntrySpec.validate, hash it exactly as EntrySpec.content_hash, give it the next
    id of ``entry_ids`` (at least as many as keys), and render entries and postings as CSV."""
    if len(entry_ids) < len(keys):
        raise ValueError(f"{len(keys)} entries but only {len(entry_ids)} ids")
    columns = [(column.accounts, column.amounts) for column in legs]
    ids = {ref: account_ids[ref] for column in legs for ref in set(column.accounts)}
    entry_rows: list[tuple[Any, ...]] = []
    posting_rows: list[tuple[int, int, Decimal]] = []
    for i, key in enumerate(keys):
        entry_id = entry_ids[i]
        nonzero: list[tuple[AccountRef, Decimal]] = []
        for accounts, amounts in columns:
            account, amount = accounts[i], amounts[i]
            if amount:
                nonzero.append((account, amount))
        validate_legs(key, nonzero)
        entry_rows.append((entry_id, key, kind, content_hash(kind, nonzero), memos[i], actor))
        posting_rows.extend((entry_id, ids[account], amount) for account, amount in nonzero)
    return StagedEntries(count=len(entry_rows), entries_csv=csv_bytes(entry_rows),
                         postings_csv=csv_bytes(posting_rows))


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as CSV for COPY … (FORMAT csv): None is written empty (NULL), Decimals exactly."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


async def insert_staged_entries(conn: Any, staged: StagedEntries) -> int:
    """The database half of insert_entry_columns. The accounts must be locked already.

    The usual case, no key used before, is two COPYs straight into the ledger tables (the
    database's bulk insert path; the ledger's triggers check them as any insert). If a key
    exists, that attempt is undone (a savepoint) and the batch goes through staging tables
    instead: new keys are inserted, existing ones are replays whose content must match."""
    if not staged.count:
        return 0
    try:
        async with conn.transaction():  # a savepoint
            await _copy(conn, "ledger_entries", staged.entries_csv, _ENTRY_COLUMNS)
            await _copy(conn, "ledger_postings", staged.postings_csv, _POSTING_COLUMNS)
        return staged.count
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "ledger_entries_idempotency_key_key":
            raise
    await conn.execute(_REPLAY_STAGE_SQL)
    await _copy(conn, "ledger_entry_stage", staged.entries_csv, _ENTRY_COLUMNS)
    await _copy(conn, "ledger_posting_stage", staged.postings_csv, _POSTING_COLUMNS)
    inserted: int = await conn.fetchval(_INSERT_NEW_STAGED_SQL)
    # Replays (or a key twice in the batch): every stored hash must match its content.
    conflict = await conn.fetchval(
        "SELECT s.idempotency_key FROM ledger_entry_stage s "
        "JOIN ledger_entries e ON e.idempotency_key = s.idempotency_key "
        "WHERE e.content_hash <> s.content_hash LIMIT 1"
    )
    if conflict is not None:
        raise IdempotencyConflict(conflict)
    return inserted


async def _copy(conn: Any, table: str, data: bytes, columns: list[str]) -> None:
    await conn.copy_to_table(table, source=io.BytesIO(data), columns=columns, format="csv",
                             force_not_null=columns)


_REPLAY_STAGE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS ledger_entry_stage (id bigint, idempotency_key text,
    kind text, content_hash text, memo text, actor text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS ledger_posting_stage (entry_id bigint, account_id bigint,
    amount numeric) ON COMMIT DELETE ROWS;
DELETE FROM ledger_entry_stage;
DELETE FROM ledger_posting_stage;
"""
# Only entries inserted now (not replays) get their postings.
_INSERT_NEW_STAGED_SQL = """
WITH ins AS (
    INSERT INTO ledger_entries (id, idempotency_key, kind, content_hash, memo, actor)
    SELECT id, idempotency_key, kind, content_hash, memo, actor FROM ledger_entry_stage
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), posted AS (
    INSERT INTO ledger_postings (entry_id, account_id, amount)
    SELECT entry_id, account_id, amount FROM ledger_posting_stage
    WHERE entry_id IN (SELECT id FROM ins)
)
SELECT count(*) FROM ins
"""


async def insert_entry_columns(
    conn: Any, *, kind: str, keys: Sequence[str], memos: Sequence[str],
    legs: Sequence[LegColumn], accounts: Mapping[AccountRef, LockedAccount],
    actor: str = "system",
) -> int:
    """insert_entries for a large batch of entries of one kind, given column-wise: the same
    validation, the same content hashes, the same replay rule, but written by bulk COPY. The
    accounts must be locked already. Returns the number of entries written now (the others
    were replays with the same content; different content raises IdempotencyConflict)."""
    staged = stage_entries(kind=kind, keys=keys, memos=memos, legs=legs, actor=actor,
                           account_ids={ref: locked.id for ref, locked in accounts.items()},
                           entry_ids=await allocate_entry_ids(conn, len(keys)))
    return await insert_staged_entries(conn, staged)


def _hold_result(row: Any, *, resolve_entry_id: int | None, replayed: bool) -> HoldResult:
    return HoldResult(
        hold_id=row["id"], key=row["key"], user_id=row["user_id"], asset=row["asset"],
        amount=row["amount"], fee=row["fee"], state=HoldState(row["state"]),
        hold_entry_id=row["hold_entry_id"], resolve_entry_id=resolve_entry_id,
        created_at=row["created_at"], resolved_at=row["resolved_at"], replayed=replayed,
    )


# --- The service -----------------------------------------------------------------------------


class Ledger:
    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    def transaction(self) -> Any:
        return ledger_transaction(self._connection_name)

    async def post_entry(
        self, key: str, kind: str, legs: Sequence[Leg], *, memo: str = "", actor: str = "system"
    ) -> EntryResult:
        """Post one balanced entry (manual adjustments, reversals, settlements)."""
        spec = EntrySpec(key=key, kind=kind, legs=tuple(legs), memo=memo, actor=actor)
        spec.validate()
        async with self.transaction() as conn:
            accounts = await lock_accounts(conn, (leg.account for leg in spec.legs))
            [result] = await insert_entries(conn, [spec], accounts)
        return result

    async def balance(self, account: AccountRef) -> Decimal:
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            value = await conn.fetchval(
                "SELECT balance FROM ledger_accounts "
                "WHERE kind = $1 AND owner = $2 AND asset = $3",
                account.kind.value, account.owner, account.asset,
            )
        return ZERO if value is None else Decimal(value)

    # Two-phase holds ---------------------------------------------------------------------

    async def hold(
        self, key: str, user_id: int, amount: Decimal, *, asset: str = USDT,
        actor: str = "system",
    ) -> HoldResult:
        """Move ``amount`` from the trader's available to held balance. ``key`` is the caller's
        idempotency key (e.g. ``withdrawal:{id}``). Raises InsufficientFunds when the available
        balance is short (the database CHECK decides, under the account locks)."""
        if amount <= 0 or not is_money(amount):
            raise ValueError("a hold needs a positive 8-dp amount")
        available = AccountRef.trader_available(user_id, asset)
        held = AccountRef.trader_held(user_id, asset)
        spec = EntrySpec(
            key=f"hold:{key}", kind="hold", legs=(Leg(available, -amount), Leg(held, amount)),
            memo=f"hold {key}", actor=actor,
        )
        async with self.transaction() as conn:
            accounts = await lock_accounts(conn, [available, held])
            [entry] = await insert_entries(conn, [spec], accounts)
            if entry.replayed:
                row = await conn.fetchrow("SELECT * FROM ledger_holds WHERE key = $1", key)
                return await self._with_resolution(conn, row, replayed=True)
            row = await conn.fetchrow(
                "INSERT INTO ledger_holds (key, user_id, asset, amount, hold_entry_id) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING *",
                key, user_id, asset, amount, entry.entry_id,
            )
        return _hold_result(row, resolve_entry_id=None, replayed=False)

    async def post_hold(
        self, hold_id: int, *, fee: Decimal = ZERO, actor: str = "system"
    ) -> HoldResult:
        """Pay a hold out: held → payouts in transit (amount − fee) and fees (fee). Exactly once:
        a second post returns the first result (replayed); a post after a void raises
        HoldAlreadyResolved; a second post with another fee raises IdempotencyConflict."""
        if fee < 0 or not is_money(fee):
            raise ValueError("fee must be a non-negative 8-dp amount")
        return await self._resolve(hold_id, HoldState.POSTED, fee, actor)

    async def void_hold(self, hold_id: int, *, actor: str = "system") -> HoldResult:
        """Release a hold: held → available. Exactly once (see post_hold)."""
        return await self._resolve(hold_id, HoldState.VOIDED, None, actor)

    async def get_hold(self, hold_id: int) -> HoldResult:
        async with self.transaction() as conn:
            row = await conn.fetchrow("SELECT * FROM ledger_holds WHERE id = $1", hold_id)
            if row is None:
                raise HoldNotFound(hold_id)
            return await self._with_resolution(conn, row, replayed=False)

    async def _resolve(
        self, hold_id: int, target: HoldState, fee: Decimal | None, actor: str
    ) -> HoldResult:
        async with self.transaction() as conn:
            hold = await conn.fetchrow("SELECT * FROM ledger_holds WHERE id = $1", hold_id)
            if hold is None:
                raise HoldNotFound(hold_id)
            user_id, asset, amount = hold["user_id"], hold["asset"], hold["amount"]
            held = AccountRef.trader_held(user_id, asset)
            if target is HoldState.POSTED:
                assert fee is not None
                if fee > amount:
                    raise ValueError("the fee exceeds the held amount")
                legs = [Leg(held, -amount)]
                if amount - fee:
                    legs.append(Leg(AccountRef.payouts_in_transit(asset), amount - fee))
                if fee:
                    legs.append(Leg(AccountRef.fees(asset), fee))
            else:
                available = AccountRef.trader_available(user_id, asset)
                legs = [Leg(held, -amount), Leg(available, amount)]
            suffix = "post" if target is HoldState.POSTED else "void"
            spec = EntrySpec(
                key=f"hold:{hold['key']}:{suffix}", kind=f"hold_{suffix}", legs=tuple(legs),
                memo=f"{suffix} hold {hold['key']}", actor=actor,
            )
            accounts = await lock_accounts(conn, (leg.account for leg in legs))
            # The one place a hold changes state: it must touch exactly one row.
            row = await conn.fetchrow(
                "UPDATE ledger_holds SET state = $2, fee = $3, resolved_at = now() "
                "WHERE id = $1 AND state = 'pending' RETURNING *",
                hold_id, target.value, fee,
            )
            if row is None:
                current = await conn.fetchrow("SELECT * FROM ledger_holds WHERE id = $1", hold_id)
                if current["state"] != target.value:
                    raise HoldAlreadyResolved(hold_id, current["state"])
                first = await conn.fetchval(
                    "SELECT content_hash FROM ledger_entries WHERE idempotency_key = $1", spec.key
                )
                if first != spec.content_hash():
                    raise IdempotencyConflict(spec.key)
                return await self._with_resolution(conn, current, replayed=True)
            [entry] = await insert_entries(conn, [spec], accounts)
        return _hold_result(row, resolve_entry_id=entry.entry_id, replayed=False)

    @staticmethod
    async def _with_resolution(conn: Any, row: Any, *, replayed: bool) -> HoldResult:
        resolve_entry_id = None
        if row["state"] != HoldState.PENDING.value:
            suffix = "post" if row["state"] == HoldState.POSTED.value else "void"
            resolve_entry_id = await conn.fetchval(
                "SELECT id FROM ledger_entries WHERE idempotency_key = $1",
                f"hold:{row['key']}:{suffix}",
            )
        return _hold_result(row, resolve_entry_id=resolve_entry_id, replayed=replayed)

    # Invariants --------------------------------------------------------------------------

    async def check_invariants(self, *, stale_hold_hours: float = 24) -> InvariantReport:
        """Check the whole ledger set-based (one pass over the postings), record the result
        (which freezes or unfreezes payouts) and export it as gauges.

        Checks: postings sum to zero per asset; each cached balance equals the sum of its
        postings (postings naming no account count here too); no negative trader balance
        (cached or derived); no hold pending longer than ``stale_hold_hours``.
        """
        started = time.perf_counter()
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            rows = await conn.fetch(
                """
                WITH derived AS (
                    SELECT account_id, sum(amount) AS total
                    FROM ledger_postings GROUP BY account_id
                ), accounts AS (
                    SELECT a.kind, coalesce(a.asset, '?') AS asset, a.balance,
                           coalesce(d.total, 0) AS derived
                    FROM ledger_accounts a FULL JOIN derived d ON d.account_id = a.id
                )
                SELECT asset, sum(derived) AS total,
                       count(*) FILTER (WHERE balance IS DISTINCT FROM derived) AS mismatched,
                       count(*) FILTER (WHERE kind = ANY($1::text[])
                                        AND (balance < 0 OR derived < 0)) AS negative
                FROM accounts GROUP BY asset
                """,
                [kind.value for kind in TRADER_KINDS],
            )
            stale = await conn.fetchval(
                "SELECT count(*) FROM ledger_holds WHERE state = 'pending' "
                "AND created_at < now() - make_interval(secs => $1)",
                stale_hold_hours * 3600,
            )
            unbalanced = {row["asset"]: row["total"] for row in rows if row["total"] != 0}
            violations = {
                "unbalanced_assets": len(unbalanced),
                "balance_mismatch": sum(row["mismatched"] for row in rows),
                "negative_balance": sum(row["negative"] for row in rows),
                "stale_holds": int(stale),
            }
            ok = not any(violations.values())
            # A stale hold is an operational alert; freezing payouts would only block the
            # payout that resolves it. Every other failure means the books are wrong.
            frozen = any(count for name, count in violations.items() if name != "stale_holds")
            duration = time.perf_counter() - started
            checked_at = await conn.fetchval(
                "INSERT INTO ledger_checks (ok, payouts_frozen, violations, duration_ms) "
                "VALUES ($1, $2, $3::jsonb, $4) RETURNING checked_at",
                ok, frozen, json.dumps(violations), int(duration * 1000),
            )
        INVARIANT_OK.set(1 if ok else 0)
        PAYOUTS_FROZEN.set(1 if frozen else 0)
        INVARIANT_SECONDS.set(duration)
        for name, count in violations.items():
            INVARIANT_VIOLATIONS.labels(check=name).set(count)
        return InvariantReport(
            ok=ok, payouts_frozen=frozen, checked_at=checked_at, duration_seconds=duration,
            violations=violations, unbalanced_assets=unbalanced,
        )

    async def payouts_frozen(self) -> bool:
        """True while the newest invariant check found the books wrong. Payout code must not
        send money while this is True."""
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            frozen = await conn.fetchval(
                "SELECT payouts_frozen FROM ledger_checks ORDER BY id DESC LIMIT 1"
            )
        return bool(frozen)

