"""The Ledger service: posting entries, balances and two-phase holds (plus the invariant check)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.ledger.entries import (
    AccountRef,
    EntryResult,
    EntrySpec,
    Leg,
    insert_entries,
    ledger_transaction,
    lock_accounts,
)
from services.ledger.errors import HoldAlreadyResolved, HoldNotFound, IdempotencyConflict
from services.ledger.invariants import LedgerInvariants
from services.ledger.money import USDT, ZERO, is_money
from services.models.ledger import HoldState


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


def _hold_result(row: Any, *, resolve_entry_id: int | None, replayed: bool) -> HoldResult:
    return HoldResult(
        hold_id=row["id"], key=row["key"], user_id=row["user_id"], asset=row["asset"],
        amount=row["amount"], fee=row["fee"], state=HoldState(row["state"]),
        hold_entry_id=row["hold_entry_id"], resolve_entry_id=resolve_entry_id,
        created_at=row["created_at"], resolved_at=row["resolved_at"], replayed=replayed,
    )


# --- The service -----------------------------------------------------------------------------


class Ledger(LedgerInvariants):
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
        async with self.transaction() as conn:
            return await self.hold_in(conn, key, user_id, amount, asset=asset, actor=actor)

    async def hold_in(
        self, conn: Any, key: str, user_id: int, amount: Decimal, *, asset: str = USDT,
        actor: str = "system",
    ) -> HoldResult:
        """``hold`` inside the caller's transaction (``conn`` from ``transaction()``), so that
        what the hold is for is written in the same commit (a withdrawal and its hold)."""
        if amount <= 0 or not is_money(amount):
            raise ValueError("a hold needs a positive 8-dp amount")
        available = AccountRef.trader_available(user_id, asset)
        held = AccountRef.trader_held(user_id, asset)
        spec = EntrySpec(
            key=f"hold:{key}", kind="hold", legs=(Leg(available, -amount), Leg(held, amount)),
            memo=f"hold {key}", actor=actor,
        )
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

    async def post_hold_in(self, conn: Any, hold_id: int, *, fee: Decimal = ZERO,
                           actor: str = "system") -> HoldResult:
        """``post_hold`` inside the caller's transaction."""
        if fee < 0 or not is_money(fee):
            raise ValueError("fee must be a non-negative 8-dp amount")
        return await self._resolve_in(conn, hold_id, HoldState.POSTED, fee, actor)

    async def void_hold_in(self, conn: Any, hold_id: int, *,
                           actor: str = "system") -> HoldResult:
        """``void_hold`` inside the caller's transaction."""
        return await self._resolve_in(conn, hold_id, HoldState.VOIDED, None, actor)

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
            return await self._resolve_in(conn, hold_id, target, fee, actor)

    async def _resolve_in(
        self, conn: Any, hold_id: int, target: HoldState, fee: Decimal | None, actor: str
    ) -> HoldResult:
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
