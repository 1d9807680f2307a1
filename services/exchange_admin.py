"""The admin screens' Exchanges (issue 14): each exchange's settings and status, its sync
history, and the changes an admin makes — enabled, affiliate link, sync interval, trader share
(through RateService, with its history), API credentials (write-only, encrypted).

Every change re-reads the actor's role from the database (services/permissions.py) and is
written with its audit row in one transaction; a refusal for the role is audited too. No
answer and no audit row carries a secret: a credential is its hint and expiry date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise

from services.audit import audit
from services.credential_store import CredentialBook, CredentialInfo, info_of
from services.credentials import ApiSecret
from services.exchange_catalog import ExchangeCatalog
from services.ledger.entries import ledger_transaction
from services.models import Role
from services.permissions import Permission, allowed
from services.rebates import RateService
from services.rebates.rate_views import exchange_shares
from services.sync import ExchangeStatusDTO, SyncService

INTERVAL_MINUTES = (5, 1440)  # a sync at most every 5 min, at least once a day
SHARE_AHEAD = timedelta(days=366)
EXPIRY_AHEAD = timedelta(days=5 * 366)
HISTORY_RUNS = 20
LINK_MAX = 512
_PRINTABLE = frozenset(chr(c) for c in range(0x21, 0x7F))  # ASCII without space


class ExchangeRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    UNKNOWN_EXCHANGE = "unknown_exchange"
    BAD_LINK = "bad_link"
    BAD_INTERVAL = "bad_interval"
    BAD_SHARE = "bad_share"
    BAD_DATE = "bad_date"
    BAD_KEY = "bad_key"
    UNCHANGED = "unchanged"
    NO_CREDENTIALS = "no_credentials"


class ExchangeAdminError(Exception):
    def __init__(self, refusal: ExchangeRefusal, field: str | None = None) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.field = field


@dataclass(frozen=True)
class ExchangeCard:
    id: str
    name: str
    enabled: bool
    data_source: str
    api_verified: bool
    link_template: str
    share: Decimal  # in force today
    share_since: date | None
    share_upcoming: tuple[tuple[date, Decimal], ...]
    sync_interval_minutes: int
    sync: ExchangeStatusDTO
    credential: CredentialInfo | None  # stored in the screens (the current one)
    credential_source: str  # db | env | none
    credential_unreadable: bool


@dataclass(frozen=True)
class RunLine:
    id: int
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seen: int
    new: int
    changed: int
    error_class: str | None
    error: str | None


@dataclass(frozen=True)
class Changes:
    """What an admin asked to change; None: leave it."""

    enabled: bool | None = None
    link_template: str | None = None
    sync_interval_minutes: int | None = None


def check_link(template: str) -> str:
    """An https:// URL with a host; ``{sub}`` (the trader's sub-id) the only placeholder."""
    text = template.strip()
    probe = text.replace("{sub}", "x")
    if not text or len(text) > LINK_MAX or "{" in probe or "}" in probe or any(
            c.isspace() for c in text):
        raise ExchangeAdminError(ExchangeRefusal.BAD_LINK, "link_template")
    try:
        parts = urlsplit(probe)
    except ValueError:
        raise ExchangeAdminError(ExchangeRefusal.BAD_LINK, "link_template") from None
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise ExchangeAdminError(ExchangeRefusal.BAD_LINK, "link_template")
    return text


def check_interval(minutes: int) -> int:
    low, high = INTERVAL_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not low <= minutes <= high:
        raise ExchangeAdminError(ExchangeRefusal.BAD_INTERVAL, "sync_interval_minutes")
    return minutes


def share_from_percent(text: str) -> Decimal:
    """"60" or "62.5" (per cent, at most two decimals) → 0.6, 0.625."""
    try:
        percent = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ExchangeAdminError(ExchangeRefusal.BAD_SHARE, "share_percent") from None
    if not percent.is_finite() or not 0 <= percent <= 100 or percent != percent.quantize(
            Decimal("0.01")):
        raise ExchangeAdminError(ExchangeRefusal.BAD_SHARE, "share_percent")
    return (percent / 100).quantize(Decimal("0.0001"))


def check_secret(api_key: str, api_secret: str, api_password: str | None) -> ApiSecret:
    for name, value, low, high in (("api_key", api_key, 8, 256),
                                   ("api_secret", api_secret, 8, 512),
                                   ("api_password", api_password, 1, 128)):
        if value is None and name == "api_password":
            continue
        if not isinstance(value, str) or not low <= len(value) <= high or not set(
                value) <= _PRINTABLE:
            raise ExchangeAdminError(ExchangeRefusal.BAD_KEY, name)
    return ApiSecret(api_key, api_secret, api_password or None)


class ExchangeAdmin:
    def __init__(self, catalog: ExchangeCatalog, sync: SyncService, rates: RateService,
                 credentials: CredentialBook, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._catalog = catalog
        self._sync = sync
        self._rates = rates
        self._credentials = credentials
        self._env_keys = credentials.env_keys
        self._now = clock

    # --- reading ------------------------------------------------------------------------

    async def cards(self) -> list[ExchangeCard]:
        await self._credentials.refresh(force=True)
        today = self._now().date()
        shares = {line.exchange_id: line for line in await exchange_shares(today)}
        statuses = {s.exchange_id: s for s in await self._sync.statuses()}
        stored = {row["exchange_id"]: info_of(row) for row in await _rows(
            "SELECT id, exchange_id, hint, expires_on, set_by, created_at "
            "FROM exchange_credentials WHERE revoked_at IS NULL")}
        cards = []
        for row in await _rows("SELECT id, name, enabled, data_source, api_verified, "
                               "link_template, sync_interval_minutes FROM exchanges "
                               "ORDER BY position, id"):
            share = shares[row["id"]]
            credential = stored.get(row["id"])
            cards.append(ExchangeCard(
                id=row["id"], name=row["name"], enabled=row["enabled"],
                data_source=row["data_source"], api_verified=row["api_verified"],
                link_template=row["link_template"], share=share.share,
                share_since=share.since, share_upcoming=share.upcoming,
                sync_interval_minutes=row["sync_interval_minutes"], sync=statuses[row["id"]],
                credential=credential,
                credential_source="db" if credential else "env" if row["id"] in self._env_keys
                else "none",
                credential_unreadable=self._credentials.unreadable(row["id"])))
        return cards

    async def card(self, exchange_id: str) -> ExchangeCard:
        found = next((c for c in await self.cards() if c.id == exchange_id), None)
        if found is None:
            raise ExchangeAdminError(ExchangeRefusal.UNKNOWN_EXCHANGE)
        return found

    async def history(self, exchange_id: str, limit: int = HISTORY_RUNS) -> list[RunLine]:
        rows = await _rows(
            "SELECT id, trigger, status, started_at, finished_at, records_seen, records_new, "
            "records_changed, error_class, error FROM sync_runs WHERE exchange_id = $1 "
            "ORDER BY id DESC LIMIT $2", exchange_id, limit)
        return [RunLine(id=r["id"], trigger=r["trigger"], status=r["status"],
                        started_at=r["started_at"], finished_at=r["finished_at"],
                        seen=r["records_seen"], new=r["records_new"],
                        changed=r["records_changed"], error_class=r["error_class"],
                        error=r["error"]) for r in rows]

    # --- changing -----------------------------------------------------------------------

    async def _check_actor(self, conn: Any, actor_id: int, permission: Permission,
                           exchange_id: str) -> None:
        row = await conn.fetchrow("SELECT role, is_banned FROM users WHERE id = $1", actor_id)
        if row is None or row["is_banned"] or not allowed(Role(row["role"]), permission):
            raise ExchangeAdminError(ExchangeRefusal.NOT_ALLOWED)
        if not await conn.fetchval("SELECT true FROM exchanges WHERE id = $1 FOR UPDATE",
                                   exchange_id):
            raise ExchangeAdminError(ExchangeRefusal.UNKNOWN_EXCHANGE)

    async def _refused(self, actor_id: int, action: str, exchange_id: str,
                       refused: ExchangeAdminError) -> None:
        if refused.refusal is ExchangeRefusal.NOT_ALLOWED:
            async with ledger_transaction() as conn:
                await audit(conn, actor_id, f"{action}_refused", "exchange", exchange_id,
                            after={"reason": refused.refusal.value})

    async def update(self, actor_id: int, exchange_id: str, changes: Changes) -> ExchangeCard:
        """Enabled, link template, sync interval: one audit row with what changed."""
        wanted: dict[str, Any] = {}
        if changes.enabled is not None:
            wanted["enabled"] = changes.enabled
        if changes.link_template is not None:
            wanted["link_template"] = check_link(changes.link_template)
        if changes.sync_interval_minutes is not None:
            wanted["sync_interval_minutes"] = check_interval(changes.sync_interval_minutes)
        try:
            async with ledger_transaction() as conn:
                await self._check_actor(conn, actor_id, Permission.EXCHANGES_EDIT, exchange_id)
                current = await conn.fetchrow(
                    "SELECT enabled, link_template, sync_interval_minutes FROM exchanges "
                    "WHERE id = $1", exchange_id)
                changed = {k: v for k, v in wanted.items() if current[k] != v}
                if not changed:
                    raise ExchangeAdminError(ExchangeRefusal.UNCHANGED)
                for column, value in changed.items():  # column names from `wanted` only
                    await conn.execute(f"UPDATE exchanges SET {column} = $2, updated_at = now() "
                                       "WHERE id = $1", exchange_id, value)
                if "sync_interval_minutes" in changed:
                    # A shorter interval applies now; a longer one from the next run on.
                    await conn.execute(
                        "UPDATE sync_state SET next_due_at = least(next_due_at, now() + "
                        "make_interval(mins => $2)) WHERE exchange_id = $1", exchange_id,
                        changed["sync_interval_minutes"])
                await audit(conn, actor_id, "exchange.update", "exchange", exchange_id,
                            {k: current[k] for k in changed}, changed)
        except ExchangeAdminError as refused:
            await self._refused(actor_id, "exchange.update", exchange_id, refused)
            raise
        self._catalog.forget_cache()
        return await self.card(exchange_id)

    async def set_share(self, actor_id: int, exchange_id: str, share_percent: str,
                        valid_from: date | None) -> ExchangeCard:
        """The exchange's default trader share from a day on (today or later), through
        RateService (its history and its audit row)."""
        share = share_from_percent(share_percent)
        today = self._now().date()
        day = valid_from or today
        if not today <= day <= today + SHARE_AHEAD:
            raise ExchangeAdminError(ExchangeRefusal.BAD_DATE, "valid_from")
        try:
            async with ledger_transaction() as conn:
                await self._check_actor(conn, actor_id, Permission.RATES, exchange_id)
        except ExchangeAdminError as refused:
            await self._refused(actor_id, "rate.exchange_share", exchange_id, refused)
            raise
        try:
            await self._rates.set_exchange_share(exchange_id, share, day, actor_id=actor_id)
        except ValueError:
            raise ExchangeAdminError(ExchangeRefusal.BAD_SHARE, "share_percent") from None
        self._catalog.forget_cache()
        return await self.card(exchange_id)

    async def set_credentials(self, actor_id: int, exchange_id: str, secret: ApiSecret,
                              expires_on: date | None) -> ExchangeCard:
        today = self._now().date()
        if expires_on is not None and not today < expires_on <= today + EXPIRY_AHEAD:
            raise ExchangeAdminError(ExchangeRefusal.BAD_DATE, "expires_on")
        if not secret.hint:
            raise ExchangeAdminError(ExchangeRefusal.BAD_KEY, "api_key")
        try:
            async with ledger_transaction() as conn:
                await self._check_actor(conn, actor_id, Permission.EXCHANGES_EDIT, exchange_id)
                before = await self._described(conn, exchange_id)
                info = await self._credentials.replace(conn, exchange_id, secret, expires_on,
                                                       actor_id)
                await audit(conn, actor_id, "exchange.credentials", "exchange", exchange_id,
                            before, {"source": "db", "hint": info.hint,
                                     "expires_on": info.expires_on})
        except ExchangeAdminError as refused:
            await self._refused(actor_id, "exchange.credentials", exchange_id, refused)
            raise
        self._credentials.forget()
        return await self.card(exchange_id)

    async def remove_credentials(self, actor_id: int, exchange_id: str) -> ExchangeCard:
        """Back to the environment's key, if any (or none: the exchange is not configured)."""
        try:
            async with ledger_transaction() as conn:
                await self._check_actor(conn, actor_id, Permission.EXCHANGES_EDIT, exchange_id)
                before = await self._described(conn, exchange_id)
                if not await self._credentials.revoke(conn, exchange_id, actor_id):
                    raise ExchangeAdminError(ExchangeRefusal.NO_CREDENTIALS)
                await audit(conn, actor_id, "exchange.credentials_removed", "exchange",
                            exchange_id, before, {"source": "env" if exchange_id in
                                                  self._env_keys else "none"})
        except ExchangeAdminError as refused:
            await self._refused(actor_id, "exchange.credentials_removed", exchange_id, refused)
            raise
        self._credentials.forget()
        return await self.card(exchange_id)

    async def rotate(self, actor_id: int) -> tuple[int, int]:
        """Re-encrypt every stored credential under the current SECRET_KEY (admin)."""
        async with ledger_transaction() as conn:
            row = await conn.fetchrow("SELECT role, is_banned FROM users WHERE id = $1",
                                      actor_id)
            if row is None or row["is_banned"] or not allowed(Role(row["role"]),
                                                              Permission.EXCHANGES_EDIT):
                await audit(conn, actor_id, "exchange.credentials_rotate_refused", "exchange",
                            "*", after={"reason": ExchangeRefusal.NOT_ALLOWED.value})
                refused = True
            else:
                refused = False
        if refused:
            raise ExchangeAdminError(ExchangeRefusal.NOT_ALLOWED)
        rotated, unreadable = await self._credentials.rotate_all()
        async with ledger_transaction() as conn:
            await audit(conn, actor_id, "exchange.credentials_rotate", "exchange", "*",
                        after={"rotated": rotated, "unreadable": unreadable})
        return rotated, unreadable

    async def _described(self, conn: Any, exchange_id: str) -> dict[str, Any]:
        """The credential in force, for an audit row: where from, its hint and expiry."""
        row = await conn.fetchrow(
            "SELECT hint, expires_on FROM exchange_credentials WHERE exchange_id = $1 "
            "AND revoked_at IS NULL", exchange_id)
        if row is not None:
            return {"source": "db", "hint": row["hint"], "expires_on": row["expires_on"]}
        return {"source": "env" if exchange_id in self._env_keys else "none"}


async def _rows(sql: str, *values: Any) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(values))
