"""Exchange API credentials entered in the admin screens: stored encrypted
(services/credentials.py), read by the adapter factories of every process.

The factories are synchronous (SyncService and PayoutEngine call them where they need an
adapter), so this keeps a decrypted snapshot of the current rows in memory and the services
call ``refresh`` (async, one indexed query) before they build an adapter: a credential set in
the web process is used by the worker's next sync or payout, without a restart. ``refresh``
re-reads at most every ``max_age`` seconds and decrypts only when a current row changed;
``version`` tells a cache of adapters which exchanges to rebuild.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise import Tortoise

from services.credentials import ApiSecret, CredentialCipher, CredentialError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown of a stored credential: never the secret itself."""

    id: int
    exchange_id: str
    hint: str
    expires_on: date | None
    set_by: int | None
    set_at: datetime


def info_of(row: Any) -> CredentialInfo:
    return CredentialInfo(id=row["id"], exchange_id=row["exchange_id"], hint=row["hint"],
                          expires_on=row["expires_on"], set_by=row["set_by"],
                          set_at=row["created_at"])


_CURRENT = ("SELECT id, exchange_id, ciphertext, hint, expires_on, set_by, created_at "
            "FROM exchange_credentials WHERE revoked_at IS NULL")


def _version(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class CredentialBook:
    def __init__(self, cipher: CredentialCipher, *, env_keys: frozenset[str] = frozenset(),
                 max_age: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._cipher = cipher
        self.env_keys = env_keys  # exchanges with an EXCHANGE_<ID>_API_KEY setting
        self._max_age = max_age
        self._clock = clock
        self._read_at = float("-inf")
        self._versions: dict[str, str] = {}  # exchange → a digest of its current token
        self._secrets: dict[str, ApiSecret] = {}
        self._unreadable: set[str] = set()
        self.generation = 0  # +1 whenever the current rows change

    # --- the snapshot the factories read --------------------------------------------------

    async def refresh(self, *, force: bool = False) -> bool:
        """Re-read the current rows if the snapshot is older than ``max_age``; True if they
        changed (a credential was set, replaced or removed anywhere)."""
        now = self._clock()
        if not force and now - self._read_at < self._max_age:
            return False
        rows = await Tortoise.get_connection("default").execute_query_dict(_CURRENT, [])
        self._read_at = now
        # By the token itself, not the row id: ids may repeat after a restore (and in tests).
        versions = {row["exchange_id"]: _version(row["ciphertext"]) for row in rows}
        if versions == self._versions:
            return False
        secrets: dict[str, ApiSecret] = {}
        unreadable: set[str] = set()
        for row in rows:
            try:
                secrets[row["exchange_id"]] = self._cipher.decrypt(row["ciphertext"])
            except CredentialError as exc:
                unreadable.add(row["exchange_id"])
                log.error("exchange %s: stored API credentials: %s", row["exchange_id"], exc)
        self._versions, self._secrets, self._unreadable = versions, secrets, unreadable
        self.generation += 1
        return True

    def forget(self) -> None:
        """The next ``refresh`` reads the database (after this process changed a row)."""
        self._read_at = float("-inf")

    def lookup(self, exchange_id: str) -> ApiSecret | None:
        return self._secrets.get(exchange_id)

    def has_row(self, exchange_id: str) -> bool:
        """A current row exists, readable or not: it wins over the environment either way
        (an unreadable one must not silently fall back to an older environment key)."""
        return exchange_id in self._versions

    def unreadable(self, exchange_id: str) -> bool:
        return exchange_id in self._unreadable

    def version(self, exchange_id: str) -> str | None:
        """Changes whenever the exchange's stored credential does (None: none stored)."""
        return self._versions.get(exchange_id)

    # --- writes (in the caller's transaction, with its audit row) ------------------------

    async def replace(self, conn: Any, exchange_id: str, secret: ApiSecret,
                      expires_on: date | None, actor_id: int | None) -> CredentialInfo:
        await self.revoke(conn, exchange_id, actor_id)
        row = await conn.fetchrow(
            "INSERT INTO exchange_credentials (exchange_id, ciphertext, hint, expires_on, "
            "set_by, created_at) VALUES ($1, $2, $3, $4, $5, now()) "
            "RETURNING id, exchange_id, hint, expires_on, set_by, created_at",
            exchange_id, self._cipher.encrypt(secret), secret.hint, expires_on, actor_id)
        self.forget()
        return info_of(row)

    async def revoke(self, conn: Any, exchange_id: str, actor_id: int | None) -> bool:
        result = await conn.execute(
            "UPDATE exchange_credentials SET revoked_at = now(), revoked_by = $2 "
            "WHERE exchange_id = $1 AND revoked_at IS NULL", exchange_id, actor_id)
        self.forget()
        return bool(int(result.split()[-1]))

    async def rotate_all(self) -> tuple[int, int]:
        """Re-encrypt under the current key every stored token that needs it (revoked ones
        too: they are history, and history must stay readable). (rotated, unreadable)."""
        conn = Tortoise.get_connection("default")
        rows = await conn.execute_query_dict(
            "SELECT id, exchange_id, ciphertext FROM exchange_credentials ORDER BY id", [])
        rotated = unreadable = 0
        for row in rows:
            if self._cipher.is_current(row["ciphertext"]):
                continue
            try:
                token = self._cipher.rotate(row["ciphertext"])
            except CredentialError:
                unreadable += 1
                log.error("exchange %s: credential %s cannot be decrypted to re-encrypt it",
                          row["exchange_id"], row["id"])
                continue
            # Compare-and-set: a replacement written meanwhile is not overwritten.
            await conn.execute_query(
                "UPDATE exchange_credentials SET ciphertext = $2 WHERE id = $1 "
                "AND ciphertext = $3", [row["id"], token, row["ciphertext"]])
            rotated += 1
        if rotated:
            log.info("re-encrypted %d stored exchange credentials under the current key",
                     rotated)
        return rotated, unreadable
