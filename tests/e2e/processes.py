"""Starting the product's real processes (python -m bot …) for end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def product_env(token: str, telegram_url: str, database_url: str, redis_url: str,
                redis_prefix: str, web_port: int, data_dir: str,
                **more: str) -> dict[str, str]:
    """The settings the product's processes run with against the stand-ins in these tests."""
    return {
        "BOT_TOKEN": token, "TELEGRAM_API_URL": telegram_url,
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix,
        "WEB_PORT": str(web_port), "WORKER_METRICS_PORT": "0", "SECRET_KEY": "e2e-secret",
        "FLOOD_LIMIT": "1000", "DATA_DIR": data_dir, **more,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(url: str, process: asyncio.subprocess.Process, within: float) -> dict:  # type: ignore[type-arg]
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the process exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return await response.json()  # type: ignore[no-any-return]
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {within} s")


@contextlib.asynccontextmanager
async def bot_process(
    command: list[str], env: Mapping[str, str], health_url: str, log_file: Path,
    within: float = 60,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``python -m bot <command>`` with exactly ``env`` (plus PATH), wait for /healthz."""
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env}
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *command, cwd=ROOT, env=full_env,
            stdout=log, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            try:
                await wait_healthy(health_url, process, within)
            except (RuntimeError, TimeoutError) as exc:
                log_text = log_file.read_text()  # noqa: ASYNC240 (a failing test, once)
                raise AssertionError(f"{exc}\n--- log ---\n{log_text}") from exc
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def spawn_bot(
    command: list[str], env: Mapping[str, str], log_file: Path,
) -> asyncio.subprocess.Process:
    """Start ``python -m bot <command>`` with exactly ``env`` (plus PATH), its output appended
    to ``log_file``, without waiting for anything (the worker has no HTTP endpoint)."""
    full_env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env}
    with log_file.open("ab") as log:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *command, cwd=ROOT, env=full_env,
            stdout=log, stderr=asyncio.subprocess.STDOUT,
        )


async def stop_process(process: asyncio.subprocess.Process, within: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``within`` seconds."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), within)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    await process.wait()
