"""The command line: a bad or missing setting stops a command with one line naming it, before
anything starts; a copied .env.example is a configuration that starts (or says what is missing).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from bot import db as bot_db
from sandbox.telegram import StubState, run_stub
from tests.conftest import ADMIN_DATABASE_URL, RUN_ID, TEST_REDIS_URL, _with_database
from tests.e2e.processes import ROOT, free_port, stop_process, wait_healthy

STRONG_KEY = "s" * 32


def run(args: list[str], env: dict[str, str],
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m bot <args>`` with exactly ``env``, in ``cwd`` (by default an empty directory:
    a developer's ./.env in the project must not change what the tests see)."""
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd or empty,
                              env={"PATH": "", **env}, capture_output=True, text=True,
                              timeout=60, check=False)


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line(result: subprocess.CompletedProcess[str], starts: str) -> None:
    """Exit 2 and nothing on stderr but that one line: nothing was started before."""
    assert result.returncode == 2, result.stderr
    assert stderr_lines(result) == [line for line in stderr_lines(result)
                                    if line.startswith(starts)], result.stderr
    assert len(stderr_lines(result)) == 1, result.stderr
    assert result.stdout == ""


@pytest.fixture
def copied_env_example(tmp_path: Path) -> Path:
    """A working directory with .env.example copied to .env as it is shipped (README)."""
    workdir = tmp_path / "deploy"
    workdir.mkdir()
    shutil.copy(ROOT / ".env.example", workdir / ".env")
    return workdir


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """The URL of a database that does not exist yet (migrate creates it); dropped after."""
    name = f"cr_test_cli_{RUN_ID}"
    yield _with_database(ADMIN_DATABASE_URL, name)
    creds = bot_db.parse_database_url(ADMIN_DATABASE_URL)
    admin = await asyncpg.connect(host=creds["host"], port=creds["port"], user=creds["user"],
                                  password=creds["password"] or None,
                                  database=creds["database"])
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize(("args", "env", "named"), [
    (["run"], {"WEB_PORT": "eighty"}, "WEB_PORT"),
    (["run"], {"BOT_TOKEN": "42:TEST", "DATABASE_URL": "mysql://x/y",
               "REDIS_URL": "redis://127.0.0.1:6379/0"}, "DATABASE_URL"),
    # Before an embedded Redis is started for nothing:
    (["migrate"], {"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
    (["migrate"], {"PUBLIC_URL": "example.com"}, "PUBLIC_URL"),
])
def test_a_bad_setting_is_one_line(args: list[str], env: dict[str, str], named: str) -> None:
    result = run(args, env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"configuration error: {named}")
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands() -> None:
    result = run(["--help"], {})
    assert result.returncode == 0
    for command in ("run", "worker", "migrate", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["run", "worker"])
def test_stores_that_never_come_are_waited_for_then_one_line(command: str) -> None:
    """Nothing listens on either port: the process waits (logging each attempt) for its
    bound, then exits 3 with one line, so that a supervisor restarts it."""
    closed = free_port()
    result = run([command], {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/cr",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0", "STARTUP_WAIT_SECONDS": "2",
        "BOT_TOKEN": "42:TEST", "SECRET_KEY": "x",
    })
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("cannot start: PostgreSQL did not answer within 2 s")
    assert "PostgreSQL is not reachable yet" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_bot_token_stops_before_starting_anything(tmp_path: Path) -> None:
    """Regression: `run` started an embedded PostgreSQL and Redis (about 40 lines), then failed
    on the missing token 33 s later."""
    started = time.monotonic()
    result = run(["run"], {"DATA_DIR": str(tmp_path / "data")})
    assert_one_line(result, "configuration error: BOT_TOKEN: required by `python -m bot run`")
    assert not (tmp_path / "data").exists()  # no embedded store was started
    assert time.monotonic() - started < 20


def test_a_busy_port_is_one_line_naming_the_setting(tmp_path: Path, busy_port: int) -> None:
    """Regression: a raw 79-line traceback (after the stores had started)."""
    result = run(["run"], {"BOT_TOKEN": "42:TEST", "WEB_PORT": str(busy_port),
                           "DATA_DIR": str(tmp_path / "data")})
    assert_one_line(result, f"configuration error: WEB_PORT: 127.0.0.1:{busy_port} is "
                            "already in use by another process; set WEB_PORT (or WEB_HOST)")
    assert not (tmp_path / "data").exists()


def test_a_host_that_is_not_ours_is_one_line_naming_web_host(tmp_path: Path) -> None:
    result = run(["run"], {"BOT_TOKEN": "42:TEST", "WEB_HOST": "192.0.2.1",
                           "DATA_DIR": str(tmp_path / "data")})
    assert_one_line(result, "configuration error: WEB_HOST: 192.0.2.1 is not an address")


def test_the_env_example_as_copied_says_what_is_missing(copied_env_example: Path) -> None:
    """Regression: `cp .env.example .env && python -m bot run` died with a 60-line traceback
    on the empty ADMIN_IDS= (PUBLIC_URL=, ADMIN_CHAT_ID= alike)."""
    result = run(["run"], {}, cwd=copied_env_example)
    assert_one_line(result, "configuration error: BOT_TOKEN: required")
    assert not (copied_env_example / ".data").exists()


def test_the_env_example_as_copied_migrates(copied_env_example: Path,
                                            fresh_database: str) -> None:
    """The stores as docker compose gives them, in the environment (which wins over .env)."""
    result = run(["migrate"], {"DATABASE_URL": fresh_database, "REDIS_URL": TEST_REDIS_URL},
                 cwd=copied_env_example)
    assert result.returncode == 0, result.stderr
    assert "migrations applied; 11 exchanges added" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["run", "migrate", "worker"])
@pytest.mark.parametrize(("env", "named"), [
    ({"PUBLIC_URL": "https://rebates.example.com"}, "SECRET_KEY"),
    ({"PUBLIC_URL": "https://rebates.example.com", "SECRET_KEY": "tiny-key-123"}, "SECRET_KEY"),
    ({"PUBLIC_URL": "https://rebates.example.com", "SECRET_KEY": STRONG_KEY}, "WEBHOOK_SECRET"),
    ({"PUBLIC_URL": "https://rebates.example.com", "SECRET_KEY": STRONG_KEY,
      "WEBHOOK_SECRET": "bad secret!"}, "WEBHOOK_SECRET"),
])
def test_production_without_real_secrets_stops_with_one_line(
    copied_env_example: Path, command: str, env: dict[str, str], named: str,
) -> None:
    """Regression: an empty SECRET_KEY= was taken as the master key, an empty WEBHOOK_SECRET=
    left the webhook route out without a word."""
    result = run([command], {"BOT_TOKEN": "42:TEST", **env}, cwd=copied_env_example)
    assert_one_line(result, f"configuration error: {named}: ")
    assert "tiny-key-123" not in result.stderr and STRONG_KEY not in result.stderr


def test_log_level_sets_the_level(tmp_path: Path) -> None:
    """Regression: the level was INFO whatever LOG_LEVEL said."""
    closed = free_port()
    env = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed}/cr",
           "REDIS_URL": f"redis://127.0.0.1:{closed}/0", "STARTUP_WAIT_SECONDS": "1"}
    quiet = run(["migrate"], {**env, "LOG_LEVEL": "error"})
    assert quiet.returncode == 3, quiet.stderr
    assert stderr_lines(quiet) == [line for line in stderr_lines(quiet)
                                   if line.startswith("cannot start: ")]
    loud = run(["migrate"], {**env, "LOG_LEVEL": "WARNING"})
    assert "PostgreSQL is not reachable yet" in loud.stderr


async def test_run_from_the_env_example_warns_where_tracked_links_point(
    copied_env_example: Path, database_url: str,
) -> None:
    """Without LINK_BASE_URL and PUBLIC_URL, `run` (long polling) starts and says at once that
    traders' links point at the local address; with LINK_BASE_URL in .env it does not."""
    state = StubState()
    port = free_port()
    async with run_stub(state, "127.0.0.1", 0) as telegram_url:
        env = {"PATH": "", "PYTHONUNBUFFERED": "1", "BOT_TOKEN": state.token,
               "TELEGRAM_API_URL": telegram_url, "DATABASE_URL": database_url,
               "REDIS_URL": TEST_REDIS_URL, "REDIS_PREFIX": f"test-{RUN_ID}-cli",
               "WEB_PORT": str(port)}
        for link_base, warned in ((None, True), ("https://go.example.com", False)):
            if link_base is not None:
                with (copied_env_example / ".env").open("a") as env_file:
                    env_file.write(f"LINK_BASE_URL={link_base}\n")
            log_file = copied_env_example / f"run-{warned}.log"
            with log_file.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=copied_env_example, env=env,
                    stdout=log, stderr=asyncio.subprocess.STDOUT)
            try:
                await wait_healthy(f"http://127.0.0.1:{port}/healthz", process, within=60)
            finally:
                await stop_process(process)
            output = log_file.read_text()  # noqa: ASYNC240 (a small log, once)
            expected = (f"traders' tracked links will be http://127.0.0.1:{port}/r/…, which "
                        "opens only where this process runs; set LINK_BASE_URL")
            assert (expected in output) == warned, output
            assert "Traceback" not in output
