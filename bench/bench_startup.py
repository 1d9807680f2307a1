"""Start-up time of the product's processes vs a bare Python process with aiohttp.

(a) ``python -m bot run`` (long polling against the in-repo Telegram stand-in, on the machine's
PostgreSQL and Redis): from the process start to the first 200 from /healthz;
(b) ``python -m bot migrate`` on an already migrated database (a no-op), start to exit.
Baseline: ``python -c "import aiohttp"``, start to exit, measured in the same run. Each is the
best of ``--rounds`` runs; the goal on the development machine is under 3 s each.

    .venv/bin/python -m bench.bench_startup [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.common import REDIS_URL, bench_database
from sandbox.telegram import StubState, run_stub
from tests.e2e.processes import ROOT, free_port, stop_process

GOAL_SECONDS = 3.0


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **extra}


async def time_baseline() -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import aiohttp", cwd=ROOT, env=_env({}))
    if await process.wait() != 0:
        raise RuntimeError("the baseline process failed")
    return time.perf_counter() - started


async def time_migrate(env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "migrate", cwd=ROOT, env=_env(env),
            stdout=out, stderr=asyncio.subprocess.STDOUT)
        code = await process.wait()
    if code != 0:
        raise RuntimeError(f"python -m bot migrate exited {code}; see {log}")
    return time.perf_counter() - started


async def time_run_to_healthy(env: dict[str, str], log: Path, within: float = 60) -> float:
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with log.open("ab") as out:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=_env({**env, "WEB_PORT": str(port)}),
            stdout=out, stderr=asyncio.subprocess.STDOUT)
        try:
            async with aiohttp.ClientSession() as session:
                while time.perf_counter() - started < within:
                    if process.returncode is not None:
                        raise RuntimeError(f"python -m bot run exited {process.returncode}; "
                                           f"see {log}")
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(url) as response:
                            if response.status == 200:
                                return time.perf_counter() - started
                    await asyncio.sleep(0.05)
            raise TimeoutError(f"{url} not healthy within {within} s; see {log}")
        finally:
            await stop_process(process)


def _report(name: str, seconds: float, baseline: float) -> None:
    verdict = "ok" if seconds < GOAL_SECONDS else "over the goal"
    print(f"{name:>22}: {seconds:.2f} s = {seconds / baseline:.1f}x baseline "
          f"(goal < {GOAL_SECONDS:.0f} s: {verdict})", flush=True)


async def main(rounds: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="cr-bench-startup-"))
    log = work / "processes.log"
    state = StubState()
    async with bench_database("startup") as database_url, \
            run_stub(state, "127.0.0.1", 0) as telegram_url:
        env = {
            "BOT_TOKEN": state.token,
            "TELEGRAM_API_URL": telegram_url,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": f"bench-startup-{uuid.uuid4().hex[:6]}",
            "SECRET_KEY": "bench-startup",
            "DATA_DIR": str(work),
        }
        await time_migrate(env, log)  # seeds the exchanges: every later run is a no-op
        baseline = min([await time_baseline() for _ in range(rounds)])
        migrate = min([await time_migrate(env, log) for _ in range(rounds)])
        run = min([await time_run_to_healthy(env, log) for _ in range(rounds)])
    print(f"{'baseline (aiohttp)':>22}: {baseline:.2f} s  (python -c 'import aiohttp')")
    _report("migrate (no-op)", migrate, baseline)
    _report("run → healthy /healthz", run, baseline)
    return {"baseline_s": baseline, "migrate_s": migrate, "run_healthy_s": run}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    asyncio.run(main(args.rounds))
