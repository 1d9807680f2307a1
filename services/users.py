"""Traders and operators as the bot knows them: registration, lookup, language."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from services.dto import UserDTO
from services.events import EventService
from services.models import DigestMode, Platform, Role, SignupSource, User

# /start src-<code>: the code's prefix says what kind of source it is (inf_cryptoguru, ch_news…).
_SOURCE_PREFIXES = {
    "inf": SignupSource.INFLUENCER,
    "ch": SignupSource.CHANNEL,
    "ad": SignupSource.PAID,
    "ref": SignupSource.REFERRAL,
}
_PAYLOAD_RE = re.compile(r"^src-([A-Za-z0-9_-]{1,60})$")
# The columns a UserDTO is made of (user_of_row); the Mini App's dashboard reads them with its
# figures in one statement (services/dashboard.py).
USER_COLUMNS = ("id", "username", "first_name", "telegram_language", "locale", "role",
                "signup_source", "signup_code", "is_banned", "created_at", "digest_mode")
_GET_USER = f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE id = $1"


@dataclass(frozen=True)
class TelegramProfile:
    id: int
    username: str | None
    first_name: str
    language_code: str | None


def parse_signup_payload(payload: str | None) -> tuple[SignupSource, str | None]:
    """The signup source of a /start deep link; anything unrecognised counts as organic."""
    if not payload:
        return SignupSource.ORGANIC, None
    match = _PAYLOAD_RE.match(payload.strip())
    if not match:
        return SignupSource.ORGANIC, None
    code = match.group(1)
    prefix = re.split(r"[_-]", code, maxsplit=1)[0].lower()
    return _SOURCE_PREFIXES.get(prefix, SignupSource.OTHER), code


def to_dto(user: User) -> UserDTO:
    return UserDTO(
        id=user.id,
        username=user.username,
        first_name=user.first_name,
        telegram_language=user.telegram_language,
        locale=user.locale,
        role=Role(user.role),
        signup_source=SignupSource(user.signup_source),
        signup_code=user.signup_code,
        is_banned=user.is_banned,
        created_at=user.created_at,
        digest_mode=DigestMode(user.digest_mode),
    )


# A row's enum columns by their stored value: a dict lookup, not Enum's own call (a fifth of
# user_of_row's time, and the Mini App's dashboard reads a user with every opening).
_ROLES = {role.value: role for role in Role}
_SOURCES = {source.value: source for source in SignupSource}
_DIGESTS = {mode.value: mode for mode in DigestMode}


def user_of_row(row: Any) -> UserDTO:
    """A UserDTO from a row of USER_COLUMNS (a dict or an asyncpg Record)."""
    return UserDTO(
        id=row["id"], username=row["username"], first_name=row["first_name"],
        telegram_language=row["telegram_language"], locale=row["locale"],
        role=_ROLES[row["role"]], signup_source=_SOURCES[row["signup_source"]],
        signup_code=row["signup_code"], is_banned=row["is_banned"],
        created_at=row["created_at"], digest_mode=_DIGESTS[row["digest_mode"]],
    )


class UserService:
    """Users as the bot knows them.

    ``get`` is the lookup done for every update. A user's button presses come in bursts, so the
    result is kept in this process for CACHE_SECONDS (and replaced at once by this process's
    own writes): a ban or a language chosen through another process shows within that time.
    Decisions that must see the database as it is now (operator roles) pass ``fresh=True``.
    """

    CACHE_SECONDS = 2.0
    CACHE_SIZE = 10_000

    def __init__(self, events: EventService, admin_ids: frozenset[int] = frozenset()):
        self._events = events
        self._admin_ids = admin_ids
        self._cache: dict[int, tuple[float, UserDTO]] = {}

    async def get(self, user_id: int, *, fresh: bool = False) -> UserDTO | None:
        if not fresh:
            cached = self._cache.get(user_id)
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
        user = await self._read(user_id)
        if user is not None:
            self._remember(user)
        return user

    def forget_cache(self) -> None:
        self._cache.clear()

    def remember(self, user: UserDTO) -> None:
        """Keep a user read elsewhere as it is in the database now (the dashboard's read), for
        the lookups that follow it (a Mini App opening asks for several screens at once)."""
        self._remember(user)

    def _remember(self, user: UserDTO) -> UserDTO:
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()  # simple and bounded; the next reads refill it
        self._cache[user.id] = (time.monotonic() + self.CACHE_SECONDS, user)
        return user

    async def _read(self, user_id: int) -> UserDTO | None:
        """One primary-key read in plain SQL: on this path the ORM's query building costs more
        than the query itself (bench/bench_dispatcher.py)."""
        rows = await Tortoise.get_connection("default").execute_query_dict(_GET_USER, [user_id])
        return user_of_row(rows[0]) if rows else None

    async def register(
        self, profile: TelegramProfile, payload: str | None, platform: Platform = Platform.BOT
    ) -> tuple[UserDTO, bool]:
        """Register once; a second /start returns the existing user unchanged."""
        existing = await User.get_or_none(id=profile.id)
        if existing is not None:
            return to_dto(existing), False
        source, code = parse_signup_payload(payload)
        role = Role.ADMIN if profile.id in self._admin_ids else Role.TRADER
        try:
            user = await User.create(
                id=profile.id,
                username=profile.username,
                first_name=profile.first_name[:128],
                telegram_language=profile.language_code,
                role=role,
                signup_source=source,
                signup_code=code,
            )
        except IntegrityError:
            # Two updates of a brand-new user raced; the other one registered them.
            return to_dto(await User.get(id=profile.id)), False
        await self._events.record(
            "signup", user.id, platform, source=source.value, code=code,
            language=profile.language_code,
        )
        return self._remember(to_dto(user)), True

    async def promote_bootstrap_admins(self) -> int:
        """ADMIN_IDS who registered before they were listed become admins (at startup)."""
        if not self._admin_ids:
            return 0
        return await User.filter(id__in=self._admin_ids).exclude(role=Role.ADMIN).update(
            role=Role.ADMIN)

    async def set_locale(self, user_id: int, locale: str | None) -> UserDTO:
        await User.filter(id=user_id).update(locale=locale)
        await self._events.record("language_changed", user_id, Platform.BOT, locale=locale)
        return self._remember(to_dto(await User.get(id=user_id)))

    async def set_digest_mode(self, user_id: int, mode: DigestMode) -> UserDTO:
        await User.filter(id=user_id).update(digest_mode=mode)
        await self._events.record("digest_mode_changed", user_id, Platform.BOT, mode=mode.value)
        return self._remember(to_dto(await User.get(id=user_id)))
