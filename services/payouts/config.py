"""Payout configuration: the networks a trader can be paid on and the payout-wide thresholds.
Rows in the database (seeded here by ``migrate``, changed later by the admin screens); read as
plain DTOs. A seed never overwrites what an operator changed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from tortoise import Tortoise

from services.ledger.money import round_money

ZERO = Decimal(0)


@dataclass(frozen=True)
class NetworkDTO:
    id: str
    asset: str
    network: str
    name: str
    enabled: bool
    position: int
    payout_exchange_id: str
    min_amount: Decimal
    max_amount: Decimal
    fee_percent: Decimal
    fee_min: Decimal
    fee_max: Decimal
    limit_24h: Decimal
    limit_72h: Decimal
    explorer_tx_url: str

    def fee_for(self, amount: Decimal) -> Decimal:
        """The payout fee on a gross amount: the percentage, never below the floor nor above
        the cap, rounded up to 6 dp (we never charge less than the rule says, and the net sent
        must be an amount the exchanges take: USDT withdrawals have 6 decimals)."""
        fee = (amount * self.fee_percent).quantize(Decimal("1e-6"), rounding=ROUND_UP)
        return round_money(min(max(fee, self.fee_min), self.fee_max))

    def explorer_url(self, tx_hash: str) -> str:
        return self.explorer_tx_url.replace("{tx}", tx_hash)


@dataclass(frozen=True)
class PayoutSettingsDTO:
    approval_threshold: Decimal  # a request above it needs a finance approval
    dual_approval_threshold: Decimal  # above it, two different approvers
    address_cooldown_hours: int
    admins_can_approve: bool
    internal_limit_24h: Decimal
    internal_limit_72h: Decimal
    internal_min_amount: Decimal

    def approvals_needed(self, amount: Decimal) -> int:
        if amount > self.dual_approval_threshold:
            return 2
        return 1 if amount > self.approval_threshold else 0


def _d(value: str) -> Decimal:
    return Decimal(value)


# Defaults from seed 002 §6.3 (min/max, fee % with floor and cap, 24 h and 72 h limits per
# trader) with amounts a small service starts with. BTC is configured but off: balances are in
# USDT, and paying BTC needs a conversion at a recorded rate that the engine does not do yet.
SEED_NETWORKS: tuple[dict[str, Any], ...] = (
    {"id": "USDT-TRC20", "asset": "USDT", "network": "TRC20", "name": "USDT · Tron (TRC20)",
     "enabled": True, "position": 1, "payout_exchange_id": "okx", "min_amount": _d("10"),
     "max_amount": _d("10000"), "fee_percent": _d("0"), "fee_min": _d("1"), "fee_max": _d("1"),
     "limit_24h": _d("10000"), "limit_72h": _d("25000"),
     "explorer_tx_url": "https://tronscan.org/#/transaction/{tx}"},
    {"id": "USDT-BEP20", "asset": "USDT", "network": "BEP20",
     "name": "USDT · BNB Smart Chain (BEP20)", "enabled": True, "position": 2,
     "payout_exchange_id": "bitget", "min_amount": _d("10"), "max_amount": _d("10000"),
     "fee_percent": _d("0"), "fee_min": _d("0.5"), "fee_max": _d("0.5"),
     "limit_24h": _d("10000"), "limit_72h": _d("25000"),
     "explorer_tx_url": "https://bscscan.com/tx/{tx}"},
    {"id": "USDT-ERC20", "asset": "USDT", "network": "ERC20", "name": "USDT · Ethereum (ERC20)",
     "enabled": True, "position": 3, "payout_exchange_id": "okx", "min_amount": _d("50"),
     "max_amount": _d("10000"), "fee_percent": _d("0.001"), "fee_min": _d("5"),
     "fee_max": _d("20"), "limit_24h": _d("10000"), "limit_72h": _d("25000"),
     "explorer_tx_url": "https://etherscan.io/tx/{tx}"},
    {"id": "BTC", "asset": "BTC", "network": "BTC", "name": "Bitcoin (BTC)", "enabled": False,
     "position": 4, "payout_exchange_id": "okx", "min_amount": _d("50"),
     "max_amount": _d("10000"), "fee_percent": _d("0.001"), "fee_min": _d("5"),
     "fee_max": _d("30"), "limit_24h": _d("10000"), "limit_72h": _d("25000"),
     "explorer_tx_url": "https://mempool.space/tx/{tx}"},
)
SEED_SETTINGS: dict[str, Any] = {
    "approval_threshold": _d("500"), "dual_approval_threshold": _d("5000"),
    "address_cooldown_hours": 24, "admins_can_approve": True,
    "internal_limit_24h": _d("10000"), "internal_limit_72h": _d("25000"),
    "internal_min_amount": _d("1"),
}
_NETWORK_COLUMNS = tuple(SEED_NETWORKS[0])
_SETTINGS_COLUMNS = tuple(SEED_SETTINGS)


async def seed_payout_config() -> int:
    """Insert the default networks and settings that are missing; returns how many rows."""
    connection = Tortoise.get_connection("default")
    inserted = 0
    columns = ", ".join(_NETWORK_COLUMNS)
    marks = ", ".join(f"${i}" for i in range(1, len(_NETWORK_COLUMNS) + 1))
    for network in SEED_NETWORKS:
        rows = await connection.execute_query_dict(
            f"INSERT INTO payout_networks ({columns}, updated_at) VALUES ({marks}, now()) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            [network[c] for c in _NETWORK_COLUMNS])
        inserted += len(rows)
    columns = ", ".join(_SETTINGS_COLUMNS)
    marks = ", ".join(f"${i}" for i in range(1, len(_SETTINGS_COLUMNS) + 1))
    rows = await connection.execute_query_dict(
        f"INSERT INTO payout_settings (id, {columns}, updated_at) VALUES (1, {marks}, now()) "
        "ON CONFLICT (id) DO NOTHING RETURNING id",
        [SEED_SETTINGS[c] for c in _SETTINGS_COLUMNS])
    return inserted + len(rows)


def _network(row: Any) -> NetworkDTO:
    return NetworkDTO(**{name: row[name] for name in NetworkDTO.__dataclass_fields__})


class PayoutConfig:
    """Reads the configuration (a few rows: read each time, so an operator's change applies
    to the next request at once)."""

    async def networks(self, *, enabled_only: bool = True) -> list[NetworkDTO]:
        rows = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT * FROM payout_networks" + (" WHERE enabled" if enabled_only else "")
            + " ORDER BY position, id")
        return [_network(row) for row in rows]

    async def network(self, network_id: str) -> NetworkDTO | None:
        rows = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT * FROM payout_networks WHERE id = $1", [network_id])
        return _network(rows[0]) if rows else None

    async def settings(self) -> PayoutSettingsDTO:
        rows = await Tortoise.get_connection("default").execute_query_dict(
            "SELECT * FROM payout_settings WHERE id = 1")
        source = rows[0] if rows else SEED_SETTINGS
        return PayoutSettingsDTO(**{name: source[name]
                                    for name in PayoutSettingsDTO.__dataclass_fields__})
