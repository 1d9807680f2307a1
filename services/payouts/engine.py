"""The payout engine: sends approved withdrawals to the exchange and follows each one until it is
final. Nothing is ever paid twice:

1. ``pay`` claims an approved request with a conditional UPDATE to SUBMITTING and commits that
   *before* calling the exchange, with the client withdrawal id already on the row. Two workers
   cannot both claim it; a crash after the claim leaves a SUBMITTING row, never a lost one.
2. The call's answer moves it on: accepted → SUBMITTED; refused (nothing sent) → ERROR, a card
   with Retry / Reject for finance, the money still held; no answer (timeout, crash, 5xx) →
   UNKNOWN.
3. ``reconcile`` asks the exchange by client id about every open request (SUBMITTED, SENT,
   UNKNOWN, and SUBMITTING left by a crash): it follows the exchange's state, and sends again
   *with the same client id* only when the exchange has no withdrawal under it — the exchange
   refuses a second one with that id, so even a wrong "not found" cannot pay twice.
4. COMPLETED posts the hold (fee to fees, the rest to payouts in transit) and FAILED voids it,
   each in the transaction that makes the request final, guarded by the state it leaves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from tortoise import Tortoise

from exchanges.payouts import (
    PayoutOutcomeUnknown,
    PayoutRefused,
    PayoutSource,
    PayoutState,
    PayoutStatus,
)
from services.audit import audit
from services.credential_store import CredentialBook
from services.ledger import Ledger
from services.ledger.entries import ledger_transaction
from services.models import PayoutMethod, WithdrawalStatus
from services.notifications import NotificationService
from services.payouts.config import PayoutConfig
from services.payouts.requests import client_id_for
from services.payouts.views import WithdrawalDTO, withdrawal_dto

log = logging.getLogger(__name__)

REQUESTS = Counter("payout_requests_total", "Withdrawals reaching a status", ["status"])
QUEUE = Gauge("payout_queue_size", "Open withdrawals by status", ["status"])
DURATION = Histogram("payout_processing_duration_seconds",
                     "From request to completed", buckets=(60, 300, 900, 3600, 4 * 3600,
                                                           12 * 3600, 24 * 3600, 72 * 3600))

# A SUBMITTING row older than this was left by a crash (a call takes seconds, not a minute).
STALE_SUBMITTING = timedelta(seconds=60)
# An exchange's history can lag its withdraw endpoint; "not found" sooner than this after
# sending is not yet evidence that nothing was sent.
NOT_FOUND_GRACE = timedelta(seconds=30)
OPEN = ("submitting", "submitted", "sent", "unknown")
TICK_LOCK = "payout_tick"
TICK_BUDGET_SECONDS = 60.0
SourceFactory = Callable[[str], PayoutSource | None]


@dataclass
class TickReport:
    skipped: bool = False  # another worker's tick was running
    paid: int = 0
    reconciled: int = 0
    changed: list[tuple[int, str]] = field(default_factory=list)  # (id, new status)


class PayoutEngine:
    def __init__(self, ledger: Ledger, config: PayoutConfig, sources: SourceFactory, *,
                 clock: Callable[[], datetime] | None = None, concurrency: int = 8,
                 credentials: CredentialBook | None = None) -> None:
        self.ledger = ledger
        self.config = config
        self._factory = sources
        self._sources: dict[str, PayoutSource | None] = {}
        # Credentials set in the admin screens (services/credential_store.py): an adapter
        # built with a row that is no longer current is rebuilt before the next call.
        self._credentials = credentials
        self._built_with: dict[str, str | None] = {}
        self._retired: list[PayoutSource] = []
        self._clock = clock or (lambda: datetime.now(UTC))
        self._concurrency = concurrency

    def sources(self, exchange_id: str) -> PayoutSource | None:
        """One adapter per exchange for the process (its HTTP session and ccxt's market data
        are reused; building one per call costs more than the call)."""
        if exchange_id not in self._sources:
            self._sources[exchange_id] = self._factory(exchange_id)
            self._built_with[exchange_id] = (self._credentials.version(exchange_id)
                                             if self._credentials is not None else None)
        return self._sources[exchange_id]

    async def _fresh_sources(self) -> None:
        """Drop the adapters built with credentials replaced since. They are closed at
        shutdown, not now: another payout of this tick may be inside a call with one."""
        if self._credentials is None:
            return
        await self._credentials.refresh()
        for exchange_id in list(self._sources):
            if self._built_with.get(exchange_id) != self._credentials.version(exchange_id):
                retired = self._sources.pop(exchange_id)
                if retired is not None:
                    self._retired.append(retired)

    async def close(self) -> None:
        for source in [*self._sources.values(), *self._retired]:
            if source is not None:
                await source.close()
        self._sources.clear()
        self._retired.clear()

    async def tick(self, *, limit: int = 400, budget: float = TICK_BUDGET_SECONDS
                   ) -> TickReport:
        """One pass: pay what is approved (unless the ledger check froze payouts), then ask the
        exchanges about everything open; a few requests at a time (each claims its own row, so
        concurrency cannot pay one twice). One tick at a time across all workers (ticks queued
        late behind a burst of pay jobs would otherwise start together and share the exchange's
        rate limit on the same rows); a tick starts no new row after ``budget`` seconds, so it
        ends well before its job timeout and the next one carries on."""
        async with Tortoise.get_connection("default").acquire_connection() as lock:
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", TICK_LOCK):
                return TickReport(skipped=True)
            try:
                return await self._tick(limit, budget)
            finally:
                await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", TICK_LOCK)

    async def _tick(self, limit: int, budget: float) -> TickReport:
        report = TickReport()
        started = time.monotonic()
        rows = await _fetch(
            "SELECT id, status FROM withdrawals WHERE status IN ('approved', 'submitting', "
            "'submitted', 'sent', 'unknown') ORDER BY id LIMIT $1", limit)
        frozen = await self.ledger.payouts_frozen()
        gate = asyncio.Semaphore(self._concurrency)

        async def one(row: dict[str, Any]) -> None:
            async with gate:
                if time.monotonic() - started > budget:
                    return  # the next tick takes it
                if row["status"] == "approved":
                    if frozen:
                        return
                    status = await self.pay(row["id"])
                    report.paid += 1
                else:
                    status = await self.reconcile(row["id"])
                    report.reconciled += 1
            if status and status != row["status"]:
                report.changed.append((row["id"], status))

        await asyncio.gather(*(one(row) for row in rows))
        await self._measure_queue()
        return report

    # --- sending -------------------------------------------------------------------------------

    async def pay(self, withdrawal_id: int) -> str | None:
        """Claim and send one approved request; returns its status after the call."""
        if await self.ledger.payouts_frozen():
            return None
        rows = await _fetch(
            "UPDATE withdrawals w SET status = 'submitting', attempts = attempts + 1, "
            "submitted_at = now(), updated_at = now() WHERE w.id = $1 AND w.status = 'approved' "
            "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id AND u.is_banned) "
            "RETURNING w.*", withdrawal_id)
        if not rows:
            return await self._banned_since(withdrawal_id)
        return await self._send(withdrawal_dto(rows[0]))

    async def _banned_since(self, withdrawal_id: int) -> str | None:
        """An approved request of a trader banned since: not sent. It waits for finance as
        an error (the money still held): Reject gives it back to the trader's balance, and a
        Retry meets the same check while the ban lasts."""
        rows = await _fetch(
            "SELECT w.* FROM withdrawals w JOIN users u ON u.id = w.user_id "
            "WHERE w.id = $1 AND w.status = 'approved' AND u.is_banned", withdrawal_id)
        if not rows:
            return None  # someone else claimed it, or it is no longer approved
        return await self._move(withdrawal_dto(rows[0]), WithdrawalStatus.ERROR,
                                reason="trader_banned: the trader was banned after this "
                                       "request was approved; nothing was sent")

    async def _send(self, w: WithdrawalDTO, *, resend: bool = False) -> str:
        """``resend``: this client id was sent before with no answer we could trust. A refusal
        now proves nothing about that first request (it may have used the balance the refusal
        is about), so it stays UNKNOWN under its id and is never given a fresh one."""
        await self._fresh_sources()
        source = self.sources(w.exchange_id)
        if source is None:
            return await self._refused(w, "payout_unconfigured",
                                       f"no payout account configured at {w.exchange_id}")
        try:
            if w.method is PayoutMethod.INTERNAL:
                exchange_id = await source.transfer_internal(
                    client_id=w.client_id, asset=w.asset, amount=w.net_amount,
                    to_uid=w.to_uid or "")
            else:
                network = await self.config.network(w.network_id or "")
                exchange_id = await source.withdraw_onchain(
                    client_id=w.client_id, asset=w.asset,
                    network=network.network if network else (w.network_id or ""),
                    amount=w.net_amount, address=w.address or "")
        except PayoutRefused as exc:
            if exc.duplicate or resend:  # an earlier attempt under this id may have been taken
                return await self._move(w, WithdrawalStatus.UNKNOWN,
                                        reason=f"refused again ({exc.code}): {exc}"[:500])
            return await self._refused(w, exc.code or "refused", str(exc))
        except PayoutOutcomeUnknown as exc:
            return await self._move(w, WithdrawalStatus.UNKNOWN, reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug or an unmapped error: the outcome is unknown
            log.exception("payout %s: unexpected error while sending", w.id)
            return await self._move(w, WithdrawalStatus.UNKNOWN, reason=repr(exc)[:200])
        return await self._move(w, WithdrawalStatus.SUBMITTED, exchange_withdrawal_id=exchange_id)

    async def _refused(self, w: WithdrawalDTO, code: str, message: str) -> str:
        # Nothing was sent under this client id; a retry takes a fresh one (client_id_for).
        return await self._move(w, WithdrawalStatus.ERROR, reason=f"{code}: {message}"[:500],
                                client_id=client_id_for(w.id, w.attempts))

    # --- following -----------------------------------------------------------------------------

    async def reconcile(self, withdrawal_id: int) -> str | None:
        rows = await _fetch("SELECT * FROM withdrawals WHERE id = $1", withdrawal_id)
        if not rows or rows[0]["status"] not in OPEN:
            return rows[0]["status"] if rows else None
        w = withdrawal_dto(rows[0])
        now = self._clock()
        if w.status is WithdrawalStatus.SUBMITTING and now - w.updated_at < STALE_SUBMITTING:
            return w.status.value  # a call may still be in flight
        await self._fresh_sources()
        source = self.sources(w.exchange_id)
        if source is None:
            return w.status.value
        try:
            seen = await source.find_withdrawal(w.client_id)
        except PayoutOutcomeUnknown:
            return w.status.value  # ask again next tick
        if seen is None:
            return await self._not_found(w, now)
        return await self._follow(w, seen)

    async def _not_found(self, w: WithdrawalDTO, now: datetime) -> str:
        if w.status not in (WithdrawalStatus.SUBMITTING, WithdrawalStatus.UNKNOWN):
            log.error("payout %s: %s at the exchange but not found by client id %s",
                      w.id, w.status, w.client_id)
            return w.status.value
        if w.submitted_at and now - w.submitted_at < NOT_FOUND_GRACE:
            return w.status.value
        # The exchange has nothing under this id: nothing was sent. Send again, same id.
        rows = await _fetch(
            "UPDATE withdrawals SET status = 'submitting', attempts = attempts + 1, "
            "submitted_at = now(), updated_at = now() WHERE id = $1 AND status = $2 "
            "RETURNING *", w.id, w.status.value)
        if not rows or await self.ledger.payouts_frozen():
            return rows[0]["status"] if rows else w.status.value
        return await self._send(withdrawal_dto(rows[0]), resend=True)

    async def _follow(self, w: WithdrawalDTO, seen: PayoutStatus) -> str:
        if seen.state is PayoutState.COMPLETED:
            return await self._finish(w, seen, WithdrawalStatus.COMPLETED)
        if seen.state is PayoutState.FAILED:
            return await self._finish(w, seen, WithdrawalStatus.FAILED)
        target = (WithdrawalStatus.SENT if seen.state is PayoutState.SENT
                  else WithdrawalStatus.SUBMITTED)
        if target is w.status and (seen.tx_hash or None) == w.tx_hash:
            return w.status.value
        return await self._move(w, target, exchange_withdrawal_id=seen.exchange_withdrawal_id,
                                tx_hash=seen.tx_hash)

    async def _finish(self, w: WithdrawalDTO, seen: PayoutStatus,
                      target: WithdrawalStatus) -> str:
        async with ledger_transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM withdrawals WHERE id = $1 FOR UPDATE", w.id)
            if row["status"] not in OPEN or row["client_id"] != w.client_id:
                # finished by another worker meanwhile, or an answer about an older client id
                # (a slow look-up while finance retried under a new one): not this payout's
                return str(row["status"])
            if target is WithdrawalStatus.COMPLETED:
                await self.ledger.post_hold_in(conn, row["hold_id"], fee=row["fee"])
            else:
                await self.ledger.void_hold_in(conn, row["hold_id"])
            after = withdrawal_dto(await conn.fetchrow(
                "UPDATE withdrawals SET status = $2::varchar, tx_hash = coalesce($3, tx_hash), "
                "exchange_withdrawal_id = coalesce($4, exchange_withdrawal_id), "
                "reason = CASE WHEN $2::varchar = 'failed' THEN $5 ELSE reason END, "
                "completed_at = CASE WHEN $2::varchar = 'completed' THEN now() END, "
                "updated_at = now() "
                "WHERE id = $1 RETURNING *", w.id, target.value, seen.tx_hash,
                seen.exchange_withdrawal_id, f"exchange: {seen.raw_state}"))
            await audit(conn, None, f"withdrawal.{target.value}", "withdrawal", w.id,
                        before=withdrawal_dto(row).audit_view(), after=after.audit_view())
            if (target is WithdrawalStatus.COMPLETED and after.tx_hash
                    and row["status"] != WithdrawalStatus.SENT.value):
                # The exchange confirmed it between two looks: the trader still gets the
                # message with the transaction and its explorer link (once: its dedupe key).
                await self._tell(conn, after, "sent")
            await self._tell(conn, after, target.value)
        REQUESTS.labels(target.value).inc()
        if target is WithdrawalStatus.COMPLETED:
            DURATION.observe((after.updated_at - after.created_at).total_seconds())
        return target.value

    # --- state changes -------------------------------------------------------------------------

    async def _move(self, w: WithdrawalDTO, target: WithdrawalStatus, *,
                    reason: str | None = None, exchange_withdrawal_id: str | None = None,
                    tx_hash: str | None = None, client_id: str | None = None) -> str:
        """One open state to another, guarded by the state it was read in."""
        async with ledger_transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE withdrawals SET status = $3::varchar, reason = coalesce($4, reason), "
                "exchange_withdrawal_id = coalesce($5, exchange_withdrawal_id), "
                "tx_hash = coalesce($6, tx_hash), client_id = coalesce($7, client_id), "
                "revision = revision + CASE WHEN $3::varchar = 'error' THEN 1 ELSE 0 END, "
                "updated_at = now() WHERE id = $1 AND status = $2 RETURNING *",
                w.id, w.status.value, target.value, reason, exchange_withdrawal_id, tx_hash,
                client_id)
            if row is None:
                current = await conn.fetchval("SELECT status FROM withdrawals WHERE id = $1",
                                              w.id)
                return str(current)
            after = withdrawal_dto(row)
            await audit(conn, None, f"withdrawal.{target.value}", "withdrawal", w.id,
                        before=w.audit_view(), after=after.audit_view())
            if target is WithdrawalStatus.SENT:
                await self._tell(conn, after, "sent")
        REQUESTS.labels(target.value).inc()
        return target.value

    async def _tell(self, conn: Any, w: WithdrawalDTO, step: str) -> None:
        params = w.message_params()
        network = await self.config.network(w.network_id) if w.network_id else None
        params["explorer"] = network.explorer_url(w.tx_hash) if network and w.tx_hash else ""
        await NotificationService.enqueue_in(
            conn, f"withdrawal:{w.id}:{step}", w.user_id, "withdrawal",
            f"notify.withdrawal.{step}", params, user_id=w.user_id)

    async def _measure_queue(self) -> None:
        rows = await _fetch("SELECT status, count(*) AS n FROM withdrawals WHERE status NOT IN "
                            "('completed', 'rejected', 'cancelled', 'failed') GROUP BY status")
        counts = {row["status"]: row["n"] for row in rows}
        for status in WithdrawalStatus:
            QUEUE.labels(status.value).set(counts.get(status.value, 0))


async def _fetch(sql: str, *args: object) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(args))
