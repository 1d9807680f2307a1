"""Rendering valued bookings: their ledger entries (legs) and rebate_accruals rows as CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.ledger import (
    ZERO,
    AccountRef,
    LegColumn,
    StagedEntries,
    csv_bytes,
    stage_entries,
)
from services.rebates.runs import AccrualBatch
from services.rebates.valuation import _Booking


def _render(
    bookings: Sequence[_Booking], key_prefix: str, account_ids: dict[AccountRef, int],
    entry_ids: Sequence[int], batch: AccrualBatch,
) -> tuple[StagedEntries | None, _AccrualRows]:
    """The batch's entries (unless a booking takes money back: those are built under the
    account locks) and its accrual rows, ready to COPY."""
    clawback = any(b.trader < (b.record["booked_trader"] or ZERO) for b in bookings)
    entries = None if clawback else _stage(bookings, key_prefix, account_ids, entry_ids, None,
                                           batch)
    return entries, _accrual_rows(bookings)


def _stage(
    bookings: Sequence[_Booking], key_prefix: str, account_ids: dict[AccountRef, int],
    entry_ids: Sequence[int], available: dict[int, Decimal] | None, batch: AccrualBatch,
) -> StagedEntries:
    """The batch's ledger entries, one per booking that moves money. ``available``: trader
    balances as of the account locks, moved along as the batch books, so a clawback never takes
    more than the trader has (the rest goes to suspense); None when no booking takes money
    back."""
    revenue, suspense = AccountRef.service_revenue(), AccountRef.suspense()
    traders = {user_id: AccountRef.trader_available(user_id)
               for user_id in {b.user_id for b in bookings}}
    receivables = {exchange_id: AccountRef.receivable(exchange_id)
                   for exchange_id in {b.exchange_id for b in bookings}}
    kind = key_prefix.split(":")[0]
    keys: list[str] = []
    memos: list[str] = []
    receivable_col: list[AccountRef] = []
    trader_col: list[AccountRef] = []
    gross_amounts: list[Decimal] = []
    trader_amounts: list[Decimal] = []
    suspense_amounts: list[Decimal] = []
    service_amounts: list[Decimal] = []
    for b in bookings:
        r = b.record
        d_gross = b.gross - (r["booked_gross"] or ZERO)
        d_trader = b.trader - (r["booked_trader"] or ZERO)
        d_service = b.service - (r["booked_service"] or ZERO)
        to_trader = d_trader
        if available is not None:
            to_trader = max(d_trader, -available[b.user_id])
            available[b.user_id] += to_trader
        elif d_trader < 0:
            raise AssertionError("a clawback needs the balances under the lock")
        to_suspense = d_trader - to_trader
        batch.shortfall -= to_suspense
        if not (d_gross or to_trader or to_suspense or d_service):
            continue
        keys.append(f"{key_prefix}:{r['source_key']}:r{r['revision']}")
        memos.append(f"record {r['id']} r{r['revision']}")
        receivable_col.append(receivables[b.exchange_id])
        trader_col.append(traders[b.user_id])
        gross_amounts.append(-d_gross)
        trader_amounts.append(to_trader)
        suspense_amounts.append(to_suspense)
        service_amounts.append(d_service)
    return stage_entries(
        kind=kind, keys=keys, memos=memos, account_ids=account_ids, entry_ids=entry_ids, legs=(
            LegColumn(receivable_col, gross_amounts),
            LegColumn(trader_col, trader_amounts),
            LegColumn([suspense] * len(keys), suspense_amounts),
            LegColumn([revenue] * len(keys), service_amounts),
        ),
    )


@dataclass(frozen=True)
class _AccrualRows:
    """What is booked per record after a batch, as CSV: new records' rows for rebate_accruals,
    and revised records' rows with the totals read before (for the conditional update)."""

    new_count: int
    new_csv: bytes
    revised_count: int
    revised_csv: bytes


_NEW_COLUMNS = [
    "record_id", "user_id", "exchange_id", "day", "product", "revision", "volume_usdt",
    "fee_usdt", "gross", "trader_amount", "service_amount", "share", "share_source", "estimated",
]
_REVISED_COLUMNS = [*_NEW_COLUMNS, "booked_revision", "booked_gross", "booked_trader",
                    "booked_service"]


def _accrual_rows(bookings: Sequence[_Booking]) -> _AccrualRows:
    new: list[tuple[Any, ...]] = []
    revised: list[tuple[Any, ...]] = []
    for b in bookings:
        r = b.record
        row = (r["id"], b.user_id, b.exchange_id, r["day"], r["product"], r["revision"],
               r["volume_usdt"], r["fee_usdt"], b.gross, b.trader, b.service, b.share.share,
               b.share.source, b.estimated)
        if r["booked_revision"] is None:
            new.append(row)
        else:
            revised.append((*row, r["booked_revision"], r["booked_gross"], r["booked_trader"],
                            r["booked_service"]))
    return _AccrualRows(new_count=len(new), new_csv=csv_bytes(new),
                        revised_count=len(revised), revised_csv=csv_bytes(revised))
