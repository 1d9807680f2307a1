"""The command line: a bad or missing setting stops a command with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.processes import ROOT, free_port


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={"PATH": "", **env},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("args", "env", "named"), [
    (["run"], {"WEB_PORT": "eighty"}, "WEB_PORT"),
    (["run"], {"DATABASE_URL": "mysql://x/y", "REDIS_URL": "redis://127.0.0.1:6379/0"},
     "DATABASE_URL"),
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
