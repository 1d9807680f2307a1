"""The admin screen's side of the payout configuration: the networks (on or off, minimum and
maximum, fee percent with its floor and cap, a trader's 24 h and 72 h limits, the explorer's
link) and the payout-wide settings (approval thresholds, the new-address cooldown, internal
transfers' limits), read and changed with validation, each change audited with the row before
and after.

There is no cache to invalidate: PayoutConfig reads these few rows on every use (in every
process: the bot, the web process and the worker), so a change committed here applies to the
next quote, request and payout everywhere at once. A change is one transaction on the row's
lock, so two admins saving at once give two consecutive changes, each audited against the row
it really replaced.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from services.audit import audit
from services.ledger.entries import ledger_transaction
from services.payouts.config import NetworkDTO, PayoutConfig, PayoutSettingsDTO

MONEY_PLACES = 8  # the columns' scale
PERCENT_PLACES = 6  # payout_networks.fee_percent is NUMERIC(9, 6)
MAX_MONEY = Decimal(10) ** 12  # far above any payout; well inside NUMERIC(30, 8)
MAX_COOLDOWN_HOURS = 720  # 30 days
MAX_URL = 255
_PLAIN_NUMBER = re.compile(r"[0-9]{1,24}(\.[0-9]{1,24})?")

NETWORK_MONEY = ("min_amount", "max_amount", "fee_min", "fee_max", "limit_24h", "limit_72h")
NETWORK_FIELDS = ("enabled", *NETWORK_MONEY, "fee_percent", "explorer_tx_url")
SETTINGS_MONEY = ("approval_threshold", "dual_approval_threshold", "internal_limit_24h",
                  "internal_limit_72h", "internal_min_amount")
SETTINGS_FIELDS = (*SETTINGS_MONEY, "address_cooldown_hours", "admins_can_approve")


class SettingsRefusal(Exception):
    """A change that is not made: ``code`` is stable (the message key's last part), ``field``
    the form field it is about, ``params`` what its message shows."""

    def __init__(self, code: str, field: str | None = None,
                 params: dict[str, object] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params or {}


def _decimal(name: str, raw: object, places: int) -> Decimal:
    # JSON numbers are refused on purpose: a float has already lost the exact value.
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise SettingsRefusal("bad_number", name)
    text = str(raw).strip()
    if not _PLAIN_NUMBER.fullmatch(text):  # no exponents, signs other than "-", or spaces
        raise SettingsRefusal("negative" if text.startswith("-") and
                              _PLAIN_NUMBER.fullmatch(text[1:]) else "bad_number", name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SettingsRefusal("bad_number", name) from None
    if not value.is_finite() or not text or len(text) > 32:
        raise SettingsRefusal("bad_number", name)
    if value.as_tuple().exponent < -places:  # type: ignore[operator]
        raise SettingsRefusal("too_many_decimals", name, {"places": places})
    if value < 0:
        raise SettingsRefusal("negative", name)
    if value >= MAX_MONEY:
        raise SettingsRefusal("too_large", name, {"max": str(MAX_MONEY)})
    return value


def _flag(name: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise SettingsRefusal("bad_flag", name)
    return raw


def explorer_template_problem(template: str) -> str | None:
    """Why an explorer link template is refused, or None: https, a host, and ``{tx}`` exactly
    once (it is where the transaction's hash goes), no other braces, no spaces."""
    if len(template) > MAX_URL or any(c.isspace() for c in template):
        return "bad_explorer"
    if template.count("{tx}") != 1 or template.replace("{tx}", "").count("{") or \
            template.replace("{tx}", "").count("}"):
        return "explorer_placeholder"
    parts = urlsplit(template.replace("{tx}", "0"))
    if parts.scheme != "https" or not parts.hostname or "." not in parts.hostname:
        return "explorer_https"
    return None


def _parse(changes: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise SettingsRefusal("unknown_field", unknown[0])
    parsed: dict[str, Any] = {}
    for name, raw in changes.items():
        if name in ("enabled", "admins_can_approve"):
            parsed[name] = _flag(name, raw)
        elif name == "fee_percent":
            parsed[name] = _decimal(name, raw, PERCENT_PLACES)
            if parsed[name] >= 1:
                raise SettingsRefusal("percent_range", name)
        elif name == "address_cooldown_hours":
            if isinstance(raw, bool) or not isinstance(raw, int) or \
                    not 0 <= raw <= MAX_COOLDOWN_HOURS:
                raise SettingsRefusal("cooldown_range", name, {"max": MAX_COOLDOWN_HOURS})
            parsed[name] = raw
        elif name == "explorer_tx_url":
            if not isinstance(raw, str):
                raise SettingsRefusal("bad_explorer", name)
            problem = explorer_template_problem(raw.strip())
            if problem:
                raise SettingsRefusal(problem, name)
            parsed[name] = raw.strip()
        else:
            parsed[name] = _decimal(name, raw, MONEY_PLACES)
    return parsed


def check_network(n: NetworkDTO) -> None:
    """The rules between a network's fields, on the row as it would be."""
    if n.min_amount <= 0:
        raise SettingsRefusal("min_positive", "min_amount")
    if n.min_amount > n.max_amount:
        raise SettingsRefusal("min_above_max", "min_amount")
    if n.fee_min > n.fee_max:
        raise SettingsRefusal("fee_floor_above_cap", "fee_min")
    if n.limit_24h > n.limit_72h:
        raise SettingsRefusal("limit_24h_above_72h", "limit_24h")
    if n.fee_for(n.min_amount) >= n.min_amount:  # the smallest payout would send nothing
        raise SettingsRefusal("fee_eats_minimum", "fee_min")


def check_settings(s: PayoutSettingsDTO) -> None:
    if s.dual_approval_threshold < s.approval_threshold:
        raise SettingsRefusal("dual_below_single", "dual_approval_threshold")
    if s.internal_limit_24h > s.internal_limit_72h:
        raise SettingsRefusal("limit_24h_above_72h", "internal_limit_24h")


def _settings_dto(row: Any) -> PayoutSettingsDTO:
    names = PayoutSettingsDTO.__dataclass_fields__
    return PayoutSettingsDTO(**{name: row[name] for name in names})


def _network_dto(row: Any) -> NetworkDTO:
    return NetworkDTO(**{name: row[name] for name in NetworkDTO.__dataclass_fields__})


def _changed(before: Any, after: Any, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if getattr(before, name) != getattr(after, name)]


class PayoutSettingsAdmin:
    def __init__(self, config: PayoutConfig | None = None) -> None:
        self.config = config or PayoutConfig()

    async def read(self) -> tuple[list[NetworkDTO], PayoutSettingsDTO]:
        return await self.config.networks(enabled_only=False), await self.config.settings()

    async def change_network(self, actor_id: int, network_id: str,
                             changes: dict[str, Any]) -> NetworkDTO:
        parsed = _parse(changes, NETWORK_FIELDS)
        if not parsed:
            raise SettingsRefusal("nothing_to_change")
        async with ledger_transaction() as conn:
            row = await conn.fetchrow("SELECT * FROM payout_networks WHERE id = $1 FOR UPDATE",
                                      network_id)
            if row is None:
                raise SettingsRefusal("unknown_network")
            before = _network_dto(row)
            after = NetworkDTO(**{**asdict(before), **parsed})
            check_network(after)
            names = _changed(before, after, NETWORK_FIELDS)
            if not names:
                raise SettingsRefusal("unchanged")
            sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
            # The row as stored (at the columns' scale) is what the audit shows and returns.
            after = _network_dto(await conn.fetchrow(
                f"UPDATE payout_networks SET {sets}, updated_at = now() WHERE id = $1 "
                "RETURNING *", network_id, *(getattr(after, n) for n in names)))
            await audit(conn, actor_id, "payout.network_change", "payout_network", network_id,
                        before={n: getattr(before, n) for n in NETWORK_FIELDS},
                        after={n: getattr(after, n) for n in NETWORK_FIELDS})
        return after

    async def change_settings(self, actor_id: int, changes: dict[str, Any]) -> PayoutSettingsDTO:
        parsed = _parse(changes, SETTINGS_FIELDS)
        if not parsed:
            raise SettingsRefusal("nothing_to_change")
        async with ledger_transaction() as conn:
            row = await conn.fetchrow("SELECT * FROM payout_settings WHERE id = 1 FOR UPDATE")
            if row is None:  # not seeded (a database migrated without seeding)
                raise SettingsRefusal("not_seeded")
            before = _settings_dto(row)
            after = PayoutSettingsDTO(**{**asdict(before), **parsed})
            check_settings(after)
            names = _changed(before, after, SETTINGS_FIELDS)
            if not names:
                raise SettingsRefusal("unchanged")
            sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=1))
            after = _settings_dto(await conn.fetchrow(
                f"UPDATE payout_settings SET {sets}, updated_at = now() WHERE id = 1 "
                "RETURNING *", *(getattr(after, n) for n in names)))
            await audit(conn, actor_id, "payout.settings_change", "payout_settings", 1,
                        before={n: getattr(before, n) for n in SETTINGS_FIELDS},
                        after={n: getattr(after, n) for n in SETTINGS_FIELDS})
        return after
