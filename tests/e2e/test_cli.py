"""The command line: a bad or missing setting stops a command with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.processes import ROOT


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
