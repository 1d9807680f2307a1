"""A trader's side of withdrawals: saved addresses, the checks and quote before confirming, the
request itself (one transaction: limits re-checked under the trader's account locks, the ledger
hold, the audit row and the trader's message commit together) and cancelling one not yet
approved.

Nothing is held before ``create``; a request that fails any check leaves no trace but an event.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import Tortoise

from services.audit import audit
from services.ledger import Ledger
from services.ledger.entries import AccountRef, ledger_transaction, lock_accounts
from services.ledger.money import USDT, ZERO
from services.models import PayoutMethod, WithdrawalStatus
from services.notifications import NotificationService
from services.payouts.addresses import check_address
from services.payouts.config import NetworkDTO, PayoutConfig, PayoutSettingsDTO
from services.payouts.quotes import (
    Limits,
    PayoutRefusal,
    Quote,
    check_amount,
    cut_to_payable,
    quote,
)
from services.payouts.risk import REVIEW_FLAGS, risk_flags
from services.payouts.views import WithdrawalDTO, withdrawal_dto

_UNDONE = ("rejected", "cancelled", "failed")  # requests that no longer count against limits
MAX_LABEL = 32
# The one UID an internal transfer pays to when a trader has several verified at an exchange:
# the offer shows it and the payment uses it, so both must pick it the same way.
_UID_ORDER = "verified_at NULLS LAST, id"


@dataclass(frozen=True)
class AddressDTO:
    id: int
    network_id: str
    address: str
    label: str
    usable_from: datetime

    def usable(self, now: datetime) -> bool:
        return self.usable_from <= now


@dataclass(frozen=True)
class Destination:
    """Where a request pays to: an on-chain address (network + saved address) or the trader's
    own verified UID at an exchange (internal transfer)."""

    method: PayoutMethod
    network_id: str | None = None
    address_id: int | None = None
    exchange_id: str | None = None  # internal: the exchange of the trader's verified UID


def _address(row: Any) -> AddressDTO:
    return AddressDTO(row["id"], row["network_id"], row["address"], row["label"],
                      row["usable_from"])


class WithdrawalService:
    def __init__(self, ledger: Ledger, config: PayoutConfig, *,
                 internal_exchanges: frozenset[str], clock: Any = None,
                 current_internal: Callable[[], Awaitable[frozenset[str]]] | None = None,
                 ) -> None:
        """``current_internal``: where an internal transfer can be paid now (an adapter that
        can, and our key there, from the environment or the admin screens' Exchanges); read
        before each use, so a key entered there counts without a restart. Without it, the
        fixed ``internal_exchanges``."""
        self.ledger = ledger
        self.config = config
        self.internal_exchanges = internal_exchanges  # exchanges that can pay to a UID
        self._current_internal = current_internal
        self._clock = clock or (lambda: datetime.now(UTC))

    async def _internal(self) -> frozenset[str]:
        if self._current_internal is not None:
            self.internal_exchanges = await self._current_internal()
        return self.internal_exchanges

    @staticmethod
    async def _fetch(sql: str, *args: object) -> list[dict[str, Any]]:
        return await Tortoise.get_connection("default").execute_query_dict(sql, list(args))

    # --- addresses ---------------------------------------------------------------------------

    async def addresses(self, user_id: int, network_id: str) -> list[AddressDTO]:
        rows = await self._fetch(
            "SELECT * FROM payout_addresses WHERE user_id = $1 AND network_id = $2 "
            "AND removed_at IS NULL ORDER BY created_at", user_id, network_id)
        return [_address(row) for row in rows]

    async def add_address(self, user_id: int, network_id: str, text: str,
                          label: str = "") -> AddressDTO:
        """Save an address after its checksum check; a new one can receive after the cooldown.
        Saving one already saved returns it unchanged (its cooldown is not restarted); one
        the trader removed starts a new cooldown (it may be someone else's now)."""
        network = await self._network(network_id)
        checked = check_address(network.network, text)
        if checked.address is None:
            raise PayoutRefusal(f"address_{checked.reason}", network=network.name,
                                looks_like=checked.looks_like or "")
        settings = await self.config.settings()
        usable_from = self._clock() + timedelta(hours=settings.address_cooldown_hours)
        rows = await self._fetch(
            "INSERT INTO payout_addresses (user_id, network_id, address, label, usable_from) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, network_id, address) "
            "DO UPDATE SET usable_from = CASE WHEN payout_addresses.removed_at IS NULL "
            "THEN payout_addresses.usable_from ELSE excluded.usable_from END, "
            "removed_at = NULL RETURNING *",
            user_id, network_id, checked.address, label.strip()[:MAX_LABEL], usable_from)
        return _address(rows[0])

    async def remove_address(self, user_id: int, address_id: int) -> bool:
        rows = await self._fetch(
            "UPDATE payout_addresses SET removed_at = now() WHERE id = $1 AND user_id = $2 "
            "AND removed_at IS NULL RETURNING id", address_id, user_id)
        return bool(rows)

    # --- what a trader may do --------------------------------------------------------------------

    async def networks(self) -> list[NetworkDTO]:
        return await self.config.networks()

    async def internal_accounts(self, user_id: int) -> list[tuple[str, str]]:
        """(exchange id, UID) of the trader's verified UIDs where we can pay by internal
        transfer: offered first, as they cost the trader no network fee."""
        rows = await self._fetch(
            "SELECT DISTINCT ON (exchange_id) exchange_id, uid FROM exchange_accounts "
            f"WHERE user_id = $1 AND status = 'verified' ORDER BY exchange_id, {_UID_ORDER}",
            user_id)
        internal = await self._internal()
        return [(row["exchange_id"], row["uid"]) for row in rows
                if row["exchange_id"] in internal]

    async def available(self, user_id: int) -> Decimal:
        return await self.ledger.balance(AccountRef.trader_available(user_id, USDT))

    async def limits(self, user_id: int, destination: Destination) -> Limits:
        settings = await self.config.settings()
        network = await self._network(destination.network_id) if destination.network_id else None
        return await self._limits(None, user_id, destination, network, settings)

    async def prepare(self, user_id: int, destination: Destination,
                      amount: Decimal | None) -> Quote:
        """Every check ``create`` makes, without holding anything: the summary to confirm.
        ``amount`` None means all that can be paid now (balance, cut to 6 decimals, within the
        limits)."""
        settings = await self.config.settings()
        await self._check_trader(user_id)
        network, exchange_id, _ = await self._destination(user_id, destination)
        limits = await self._limits(None, user_id, destination, network, settings)
        available = await self.available(user_id)
        if amount is None:
            amount = cut_to_payable(min(available, limits.room))
            if amount <= 0:
                raise PayoutRefusal("nothing_available", available=available)
        check_amount(amount, available, limits)
        return quote(destination.method, amount, network=network, exchange_id=exchange_id,
                     settings=settings)

    # --- the request -------------------------------------------------------------------------

    async def create(self, user_id: int, destination: Destination, amount: Decimal, *,
                     auto: bool = False, expected_fee: Decimal | None = None,
                     request_key: str | None = None) -> WithdrawalDTO:
        """Hold the money and record the request, all in one transaction. Two requests of one
        trader queue on the trader's account locks, so the second sees the first's hold and
        its share of the limits. A ``request_key`` (the Mini App's Idempotency-Key) that made
        a request already returns that request: a retry never holds the money twice."""
        settings = await self.config.settings()
        await self._check_trader(user_id)
        network, exchange_id, address = await self._destination(user_id, destination)
        async with ledger_transaction() as conn:
            available_ref = AccountRef.trader_available(user_id, USDT)
            locked = await lock_accounts(conn, [available_ref,
                                                AccountRef.trader_held(user_id, USDT)])
            if request_key is not None:
                # Read under the trader's account locks: a concurrent retry waits for the
                # first to commit, then finds it (the unique key stands behind this).
                made = await conn.fetchrow(
                    "SELECT * FROM withdrawals WHERE user_id = $1 AND request_key = $2",
                    user_id, request_key)
                if made is not None:
                    return withdrawal_dto(made)
            limits = await self._limits(conn, user_id, destination, network, settings)
            check_amount(amount, locked[available_ref].balance, limits)
            offer = quote(destination.method, amount, network=network, exchange_id=exchange_id,
                          settings=settings)
            if expected_fee is not None and offer.fee != expected_fee:
                # The fee rule changed after the summary was shown: confirm the new one first.
                raise PayoutRefusal("fee_changed", fee=offer.fee)
            flags = await risk_flags(conn, user_id, amount, address, self._clock())
            needed = offer.approvals_needed
            if needed == 0 and REVIEW_FLAGS.intersection(flags):
                needed = 1
            status = (WithdrawalStatus.AWAITING_APPROVAL if needed
                      else WithdrawalStatus.APPROVED)
            withdrawal_id = await conn.fetchval(
                "SELECT nextval(pg_get_serial_sequence('withdrawals', 'id'))")
            # check_amount read the balance under the lock; the database CHECK stands behind it.
            hold = await self.ledger.hold_in(conn, f"withdrawal:{withdrawal_id}", user_id,
                                             offer.amount, actor=f"user:{user_id}")
            to_uid = None
            if destination.method is PayoutMethod.INTERNAL:
                to_uid = await self._verified_uid(conn, user_id, exchange_id)
            row = await conn.fetchrow(
                "INSERT INTO withdrawals (id, user_id, method, status, revision, asset, amount, "
                "fee, net_amount, network_id, address, address_id, exchange_id, to_uid, "
                "hold_id, approvals_needed, risk_flags, auto, client_id, paid_manually, "
                "attempts, request_key, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, "
                "'USDT', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text::jsonb, $16, "
                "$17, false, 0, $18, now(), now()) RETURNING *",
                withdrawal_id, user_id, destination.method.value, status.value, offer.amount,
                offer.fee, offer.net_amount, offer.network_id,
                address.address if address else None, address.id if address else None,
                exchange_id, to_uid, hold.hold_id, needed, json.dumps(flags), auto,
                client_id_for(withdrawal_id), request_key)
            dto = withdrawal_dto(row)
            await audit(conn, user_id, "withdrawal.request", "withdrawal", withdrawal_id,
                        after=dto.audit_view())
            await NotificationService.enqueue_in(
                conn, f"withdrawal:{withdrawal_id}:requested", user_id, "withdrawal",
                "notify.withdrawal.requested" if needed else "notify.withdrawal.accepted",
                dto.message_params(), user_id=user_id)
        return dto

    async def cancel(self, user_id: int, withdrawal_id: int) -> WithdrawalDTO:
        """The trader takes back a request no one approved yet; the hold is voided."""
        async with ledger_transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM withdrawals WHERE id = $1 AND user_id = $2 FOR UPDATE",
                withdrawal_id, user_id)
            if row is None:
                raise PayoutRefusal("not_found")
            if row["status"] != WithdrawalStatus.AWAITING_APPROVAL.value:
                raise PayoutRefusal("cannot_cancel", status=row["status"])
            await self.ledger.void_hold_in(conn, row["hold_id"], actor=f"user:{user_id}")
            after = await conn.fetchrow(
                "UPDATE withdrawals SET status = 'cancelled', revision = revision + 1, "
                "updated_at = now() WHERE id = $1 RETURNING *", withdrawal_id)
            await audit(conn, user_id, "withdrawal.cancel", "withdrawal", withdrawal_id,
                        before=withdrawal_dto(row).audit_view(),
                        after=withdrawal_dto(after).audit_view())
            await NotificationService.enqueue_in(
                conn, f"withdrawal:{withdrawal_id}:cancelled", user_id, "withdrawal",
                "notify.withdrawal.cancelled", withdrawal_dto(after).message_params(),
                user_id=user_id)
        return withdrawal_dto(after)

    async def get(self, user_id: int, withdrawal_id: int) -> WithdrawalDTO | None:
        rows = await self._fetch("SELECT * FROM withdrawals WHERE id = $1 AND user_id = $2",
                                 withdrawal_id, user_id)
        return withdrawal_dto(rows[0]) if rows else None

    async def recent(self, user_id: int, limit: int = 10) -> list[WithdrawalDTO]:
        rows = await self._fetch(
            "SELECT * FROM withdrawals WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
            user_id, limit)
        return [withdrawal_dto(row) for row in rows]

    # --- checks ----------------------------------------------------------------------------------

    async def _check_trader(self, user_id: int) -> None:
        rows = await self._fetch("SELECT is_banned FROM users WHERE id = $1", user_id)
        if not rows:
            raise PayoutRefusal("not_found")
        if rows[0]["is_banned"]:
            raise PayoutRefusal("banned")
        if await self.ledger.payouts_frozen():
            raise PayoutRefusal("payouts_frozen")

    async def _network(self, network_id: str | None) -> NetworkDTO:
        network = await self.config.network(network_id) if network_id else None
        if network is None or not network.enabled:
            raise PayoutRefusal("network_disabled")
        return network

    async def check_destination(self, user_id: int, destination: Destination, *,
                                allow_cooling: bool = False) -> None:
        """Raise the reason ``destination`` is not one of the trader's (a standing order may
        name an address still cooling down: it is paid once the cooldown is over)."""
        await self._destination(user_id, destination, allow_cooling=allow_cooling)

    async def _destination(self, user_id: int, destination: Destination, *,
                           allow_cooling: bool = False,
                           ) -> tuple[NetworkDTO | None, str, AddressDTO | None]:
        if destination.method is PayoutMethod.INTERNAL:
            exchange_id = destination.exchange_id or ""
            if exchange_id not in await self._internal():
                raise PayoutRefusal("internal_unavailable")
            if not await self._verified_uid(None, user_id, exchange_id):
                raise PayoutRefusal("no_verified_uid")
            return None, exchange_id, None
        network = await self._network(destination.network_id)
        rows = await self._fetch(
            "SELECT * FROM payout_addresses WHERE id = $1 AND user_id = $2 AND network_id = $3 "
            "AND removed_at IS NULL", destination.address_id, user_id, network.id)
        if not rows:
            raise PayoutRefusal("address_unknown")
        address = _address(rows[0])
        if not allow_cooling and not address.usable(self._clock()):
            raise PayoutRefusal("address_cooling_down", usable_at=address.usable_from.isoformat())
        return network, network.payout_exchange_id, address

    async def _verified_uid(self, conn: Any, user_id: int, exchange_id: str) -> str | None:
        sql = ("SELECT uid FROM exchange_accounts WHERE user_id = $1 AND exchange_id = $2 "
               f"AND status = 'verified' ORDER BY {_UID_ORDER} LIMIT 1")
        if conn is not None:
            value = await conn.fetchval(sql, user_id, exchange_id)
            return None if value is None else str(value)
        rows = await self._fetch(sql, user_id, exchange_id)
        return str(rows[0]["uid"]) if rows else None

    async def _limits(self, conn: Any, user_id: int, destination: Destination,
                      network: NetworkDTO | None, settings: PayoutSettingsDTO) -> Limits:
        if destination.method is PayoutMethod.INTERNAL:
            bounds = (settings.internal_min_amount, settings.internal_limit_24h,
                      settings.internal_limit_24h, settings.internal_limit_72h)
            scope_sql, scope = "method = 'internal'", None
        else:
            assert network is not None
            bounds = (network.min_amount, network.max_amount, network.limit_24h,
                      network.limit_72h)
            scope_sql, scope = "network_id = $3", network.id
        now = self._clock()
        sql = ("SELECT coalesce(sum(amount) FILTER (WHERE created_at > "
               "$2::timestamptz - interval '24 hours'), 0) AS day, "
               "coalesce(sum(amount), 0) AS three FROM withdrawals "
               f"WHERE user_id = $1 AND {scope_sql} "
               "AND created_at > $2::timestamptz - interval '72 hours' "
               f"AND status NOT IN {_UNDONE!r}")
        args: list[object] = [user_id, now] + ([scope] if scope is not None else [])
        if conn is not None:
            row = await conn.fetchrow(sql, *args)
        else:
            row = (await self._fetch(sql, *args))[0]
        return Limits(*bounds, used_24h=Decimal(row["day"]) or ZERO,
                      used_72h=Decimal(row["three"]) or ZERO)


def client_id_for(withdrawal_id: int, attempt: int = 0) -> str:
    """Our client withdrawal id: letters and digits only, at most 32 (OKX ``clientId``, Bitget
    ``clientOid``). A retry after a definite refusal takes a new one (``attempt``): the refused
    id sent nothing, and some exchanges keep refused ids as used."""
    base = f"cr{withdrawal_id:010d}"
    return base if attempt == 0 else f"{base}r{attempt}"
