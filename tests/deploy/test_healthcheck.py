"""python -m bot.healthcheck web|worker: 0 when healthy, 1 with one line when not."""

from __future__ import annotations

import subprocess
import sys
import time

from redis.asyncio import Redis

from bot.healthcheck import check_web, check_worker, healthz_url, main
from bot.settings import load_settings
from services.health import STALE_AFTER_SECONDS, heartbeat_key, write_heartbeat
from tests.conftest import TEST_REDIS_URL
from tests.e2e.processes import ROOT, free_port


def test_the_web_probe_asks_localhost_when_the_process_listens_on_every_interface() -> None:
    assert healthz_url(load_settings({"WEB_HOST": "0.0.0.0", "WEB_PORT": "8080"})) == (
        "http://127.0.0.1:8080/healthz")
    assert healthz_url(load_settings({"WEB_HOST": "10.1.2.3", "WEB_PORT": "81"})) == (
        "http://10.1.2.3:81/healthz")


def test_the_web_probe_fails_when_nothing_listens() -> None:
    problem = check_web(load_settings({"WEB_PORT": str(free_port())}))
    assert problem is not None and "Connection refused" in problem


async def test_the_worker_probe_follows_the_heartbeat(redis: Redis, redis_prefix: str) -> None:
    settings = load_settings({"REDIS_URL": TEST_REDIS_URL, "REDIS_PREFIX": redis_prefix})
    assert await check_worker(settings) == "no worker heartbeat recorded"
    await write_heartbeat(redis, redis_prefix)
    assert await check_worker(settings) is None
    await redis.set(heartbeat_key(redis_prefix), f"{time.time() - STALE_AFTER_SECONDS - 5:.3f}")
    problem = await check_worker(settings)
    assert problem is not None and "stale" in problem


async def test_the_worker_probe_fails_when_redis_does_not_answer() -> None:
    settings = load_settings({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    problem = await check_worker(settings)
    assert problem is not None and problem.startswith("redis: ")


async def test_the_worker_probe_needs_an_external_redis() -> None:
    problem = await check_worker(load_settings({}))
    assert problem is not None and problem.startswith("REDIS_URL is not set")


def test_an_unknown_probe_is_a_usage_error() -> None:
    assert main(["nonsense"]) == 2


def test_the_command_line_is_one_line_and_exit_1() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.healthcheck", "web"], cwd=ROOT,
        env={"PATH": "", "WEB_PORT": str(free_port())},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("unhealthy: http://")
    assert result.stdout == ""
