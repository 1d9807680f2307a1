"""The simulator's wallets: our account's balances on each venue and the withdrawals sent from it.

Each venue renders these in its own documented format (`venues/okx.py`, `venues/bitget.py`);
the wallet itself only knows the generic life of a withdrawal:

    on-chain:  pending -> sent (a fake transaction hash appears) -> completed
               pending -> failed        (when the `withdraw_fail_after_accept` fault marked it)
    internal:  completed at once (no network, no fee)

A withdrawal moves on one step per `advance()` (the control endpoint
`POST /_sim/withdrawals/advance`), or by itself every `auto_advance_seconds` when that is set
(the demo; tests switch it off and advance by hand). A failed withdrawal gives the amount and
the fee back to the balance, as an exchange does when it cancels one.

Withdrawals are keyed by the client id we send (OKX `clientId`, Bitget `clientOid`): a second
request with the same client id is refused with the venue's duplicate error and changes nothing.

Fault switches (in `faults.py`, per exchange, counted like the others):
* `withdraw_refuse` (+ `withdraw_refuse_code`): refuse the next K withdrawals with the venue's
  "address not on the whitelist" error, or with that exact code when one is given;
* `withdraw_server_error`: answer the next K withdrawals with a 503 before recording anything;
* `withdraw_drop_answer`: record the next K withdrawals, then answer only after
  `slow_seconds` (the client has timed out by then: "accepted, answer lost");
* `withdraw_fail_after_accept`: accept the next K withdrawals, then fail them at their next step.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from sandbox.exchanges.faults import Faults

DEFAULT_BALANCE = Decimal("1000000")
Kind = Literal["onchain", "internal"]


class SimState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    COMPLETED = "completed"
    FAILED = "failed"


FINAL = {SimState.COMPLETED, SimState.FAILED}


class Refusal(Exception):
    """The venue answers and refuses; `reason` is generic, the venue picks its own code."""

    def __init__(self, reason: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.reason = reason  # "duplicate" | "insufficient" | "address" | "param" | "fault"
        self.code = code  # an exact code (a fault asked for one), else ""


class ServerError(Exception):
    """The venue fails with a 5xx before recording anything."""


@dataclass
class SimWithdrawal:
    exchange: str
    id: str
    client_id: str
    kind: Kind
    asset: str
    amount: Decimal
    fee: Decimal
    to: str
    chain: str  # the venue's own chain name as it was sent; "" for internal transfers
    tag: str
    created_ms: int
    updated_ms: int
    state: SimState = SimState.PENDING
    tx_hash: str = ""
    fail: bool = False  # marked by withdraw_fail_after_accept: the next step fails it
    # When the time-driven steps last moved it, on the monotonic clock: the wall clock the
    # venues report (updated_ms) may be stepped by the machine, which stalled or rushed them.
    stepped_at: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "id": self.id,
            "client_id": self.client_id,
            "kind": self.kind,
            "asset": self.asset,
            "amount": str(self.amount),
            "fee": str(self.fee),
            "to": self.to,
            "chain": self.chain,
            "tag": self.tag,
            "state": self.state.value,
            "tx_hash": self.tx_hash,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
        }


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Wallet:
    """Our account on one venue."""

    exchange: str
    faults: Faults
    auto_advance_seconds: float | None = None
    balances: dict[str, Decimal] = field(default_factory=dict)
    withdrawals: list[SimWithdrawal] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def balance(self, asset: str) -> Decimal:
        return self.balances.setdefault(asset, DEFAULT_BALANCE)

    def set_balance(self, asset: str, amount: Decimal) -> None:
        self.balances[asset] = amount

    def by_client_id(self, client_id: str) -> SimWithdrawal | None:
        for w in self.withdrawals:
            if client_id and w.client_id == client_id:
                return w
        return None

    def submit(
        self, *, client_id: str, kind: Kind, asset: str, amount: Decimal, fee: Decimal,
        to: str, chain: str = "", tag: str = "",
    ) -> tuple[SimWithdrawal, bool]:
        """Record a withdrawal; returns it and whether its answer must be dropped.

        Raises ServerError (5xx before accepting) or Refusal (answered, nothing recorded).
        """
        switches = self.faults.of(self.exchange)
        if switches.take("withdraw_server_error"):
            raise ServerError("withdrawal service unavailable")
        if switches.take("withdraw_refuse"):
            raise Refusal("address", "refused by fault switch", switches.withdraw_refuse_code)
        if amount <= 0:
            raise Refusal("param", "amount must be positive")
        if client_id and self.by_client_id(client_id) is not None:
            raise Refusal("duplicate", f"client id {client_id} already exists")
        if self.balance(asset) < amount + fee:
            raise Refusal("insufficient", "insufficient balance")
        self.balances[asset] = self.balance(asset) - amount - fee
        stamp = now_ms()
        withdrawal = SimWithdrawal(
            exchange=self.exchange,
            id=str(880_000_000_000 + next(self._ids)),
            client_id=client_id,
            kind=kind,
            asset=asset,
            amount=amount,
            fee=fee,
            to=to,
            chain=chain,
            tag=tag,
            created_ms=stamp,
            updated_ms=stamp,
        )
        if kind == "internal":
            withdrawal.state = SimState.COMPLETED
        elif switches.take("withdraw_fail_after_accept"):
            withdrawal.fail = True
        self.withdrawals.append(withdrawal)
        return withdrawal, switches.take("withdraw_drop_answer")

    def step(self, w: SimWithdrawal) -> None:
        """Move one withdrawal on by one state."""
        if w.state in FINAL:
            return
        if w.fail:
            w.state = SimState.FAILED
            self.balances[w.asset] = self.balance(w.asset) + w.amount + w.fee
        elif w.state == SimState.PENDING:
            w.state = SimState.SENT
            w.tx_hash = hashlib.sha256(f"{w.exchange}:{w.id}".encode()).hexdigest()
        else:
            w.state = SimState.COMPLETED
        w.updated_ms = now_ms()
        w.stepped_at = time.monotonic()

    def advance(self, client_id: str | None = None, steps: int = 1) -> list[SimWithdrawal]:
        chosen = [w for w in self.withdrawals if client_id in (None, w.client_id, w.id)]
        for _ in range(steps):
            for w in chosen:
                self.step(w)
        return chosen

    def tick(self) -> None:
        """Apply the time-driven steps (when auto_advance_seconds is set); venues call this
        before answering a read."""
        if not self.auto_advance_seconds:
            return
        period = self.auto_advance_seconds
        now = time.monotonic()
        for w in self.withdrawals:
            while w.state not in FINAL and now - w.stepped_at >= period:
                before = w.stepped_at
                self.step(w)
                w.stepped_at = before + period


@dataclass
class Wallets:
    faults: Faults
    auto_advance_seconds: float | None = None
    by_exchange: dict[str, Wallet] = field(default_factory=dict)

    def of(self, exchange: str) -> Wallet:
        wallet = self.by_exchange.get(exchange)
        if wallet is None:
            wallet = Wallet(exchange, self.faults, self.auto_advance_seconds)
            self.by_exchange[exchange] = wallet
        return wallet

    def set_auto_advance(self, seconds: float | None) -> None:
        self.auto_advance_seconds = seconds or None
        for wallet in self.by_exchange.values():
            wallet.auto_advance_seconds = self.auto_advance_seconds

    def all_withdrawals(self, exchange: str | None = None) -> list[SimWithdrawal]:
        rows: list[SimWithdrawal] = []
        for ex, wallet in sorted(self.by_exchange.items()):
            if exchange in (None, ex):
                wallet.tick()
                rows.extend(wallet.withdrawals)
        return rows
