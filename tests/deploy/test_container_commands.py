"""The containers' commands run the way docker compose would run them: the environment is
.env.example (the README: ``cp .env.example .env``) overlaid with docker-compose.yml's
``environment``, the working directory the project root (the image's /app), the command and the
healthcheck exactly as the compose file says. What Docker adds and this cannot check: the image
build itself, the unprivileged ``app`` user, the service hostnames ``postgres`` / ``redis``
(the stores here are the test run's), and the port mapping."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.telegram import StubState, run_stub
from tests.conftest import RUN_ID, TEST_REDIS_URL
from tests.e2e.processes import ROOT, free_port, stop_process

yaml = pytest.importorskip("yaml")


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as compose's env_file reads them (no quotes in ours)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def compose_service(name: str) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][name]  # type: ignore[no-any-return]


def container_env(name: str, overrides: dict[str, str]) -> dict[str, str]:
    """What the container of service ``name`` sees: PATH, the env_file, then `environment`."""
    service = compose_service(name)
    env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}
    env.update(env_file(ROOT / ".env.example"))
    env.update({key: str(value) for key, value in service["environment"].items()})
    env.update(overrides)
    return env


def filled_in(database: str, telegram_url: str, token: str, data_dir: Path) -> dict[str, str]:
    """What the operator sets (the README's comment), plus the test's stand-ins for the hosts
    `postgres` and `redis` and for Telegram; the settings left empty are dropped (see below)."""
    return {
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": telegram_url,
        "SECRET_KEY": "deploy-test-secret",
        "DATABASE_URL": database,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_PREFIX": f"test-{RUN_ID}-deploy",
        "WEB_PORT": str(free_port()),
        "DATA_DIR": str(data_dir),
    }


def without_empty(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if value != ""}


async def run_command(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


def as_exec(command: list[str]) -> list[str]:
    """The image's `python` is this interpreter."""
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


async def healthy_within(probe: list[str], env: dict[str, str],
                         process: asyncio.subprocess.Process, within: float) -> str:
    """Run the healthcheck until it passes, as Docker does; its last output."""
    deadline = asyncio.get_running_loop().time() + within
    output = ""
    while asyncio.get_running_loop().time() < deadline:
        assert process.returncode is None, f"the service exited with {process.returncode}"
        code, output = await run_command(probe, env)
        if code == 0:
            return output
        await asyncio.sleep(0.5)
    raise AssertionError(f"{probe} never passed: {output}")


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[StubState, str]]:
    state = StubState()
    async with run_stub(state, "127.0.0.1", 0) as url:
        yield state, url


def test_env_example_as_copied_is_a_valid_configuration() -> None:
    env = container_env("web", {"BOT_TOKEN": "1:x", "SECRET_KEY": "s"})
    result = subprocess.run(
        [sys.executable, "-c", "from bot.settings import load_settings; load_settings()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.splitlines()[-1:]


async def test_migrate_web_and_worker_run_and_pass_their_healthchecks(
    db: str, telegram: tuple[StubState, str], tmp_path: Path,
) -> None:
    state, telegram_url = telegram
    overrides = filled_in(db, telegram_url, state.token, tmp_path)
    env = {name: without_empty(container_env(name, overrides))
           for name in ("migrate", "web", "worker")}
    # The web process listens on every interface inside the container; the probe must still
    # find it (it asks 127.0.0.1 for WEB_HOST=0.0.0.0).
    assert env["web"]["WEB_HOST"] == "0.0.0.0"

    code, output = await run_command(as_exec(compose_service("migrate")["command"]),
                                     env["migrate"])
    assert code == 0, output
    assert "migrations applied" in output

    started: list[asyncio.subprocess.Process] = []
    try:
        for name in ("web", "worker"):
            with (tmp_path / f"{name}.log").open("wb") as log:
                started.append(await asyncio.create_subprocess_exec(
                    *as_exec(compose_service(name)["command"]), cwd=ROOT, env=env[name],
                    stdout=log, stderr=asyncio.subprocess.STDOUT))
        web, worker = started
        probe_web = as_exec(compose_service("web")["healthcheck"]["test"][1:])
        probe_worker = as_exec(compose_service("worker")["healthcheck"]["test"][1:])
        await healthy_within(probe_web, env["web"], web, within=60)
        await healthy_within(probe_worker, env["worker"], worker, within=60)
    finally:
        for process in started:
            await stop_process(process)
    # Stopped: both probes now fail (the worker's heartbeat stays fresh for STALE_AFTER_SECONDS,
    # so only the web probe is checked here; the stale case is tested in test_healthcheck.py).
    code, output = await run_command(probe_web, env["web"])
    assert code == 1 and output.startswith("unhealthy:"), output
