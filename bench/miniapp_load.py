"""bench_miniapp's load: wrk with a Lua script that signs each request as a random trader, or,
where wrk is missing, an aiohttp client with as many connections in its own process; both
report requests, errors and latency percentiles. See bench/bench_miniapp.py."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# --- the load -------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int  # connection errors, timeouts and answers other than 200
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


WRK_SCRIPT = r"""
local ids, datas = {}, {}
local kind = os.getenv("BENCH_KIND")
local path = os.getenv("BENCH_PATH")
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", os.time() + threads * 7919)
end
init = function(args)
  math.randomseed(seed)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local id, data = line:match("^(%d+)\t(.*)$")
    ids[#ids + 1] = id
    datas[#datas + 1] = data
  end
end
request = function()
  local i = math.random(#ids)
  if kind == "bare" then
    return wrk.format("GET", path .. "?user=" .. ids[i])
  end
  return wrk.format("GET", path, {["Authorization"] = "tma " .. datas[i]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %d %d %d\n", summary.requests,
    summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


async def run_wrk(url: str, path: str, kind: str, tokens: Path, connections: int,
                  threads: int, seconds: float) -> Load:
    wrk = shutil.which("wrk")
    assert wrk is not None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = {**os.environ, "BENCH_KIND": kind, "BENCH_PATH": path, "BENCH_TOKENS": str(tokens)}
    process = await asyncio.create_subprocess_exec(
        wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", script.name, url, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    os.unlink(script.name)
    text = out.decode()
    line = next((x for x in text.splitlines() if x.startswith("BENCH_RESULT")), None)
    assert line is not None, text
    requests, duration_us, errors, p50, p99, worst = (int(x) for x in line.split()[1:])
    return Load(requests, duration_us / 1e6, errors, p50 / 1000, p99 / 1000, worst / 1000)


def generate_load(url: str, path: str, kind: str, tokens: Path, connections: int,
                  seconds: float) -> None:
    """The aiohttp load generator's process: ``connections`` clients, each sending its next
    request when the last one is answered, for ``seconds``; prints one JSON line."""
    import aiohttp

    traders = [line.rstrip("\n").split("\t", 1) for line in tokens.open()]

    async def main() -> None:
        latencies: list[float] = []
        errors = 0
        connector = aiohttp.TCPConnector(limit=connections, force_close=False)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
            deadline = time.perf_counter() + seconds

            async def client() -> None:
                nonlocal errors
                rng = random.Random()
                while time.perf_counter() < deadline:
                    user_id, data = traders[rng.randrange(len(traders))]
                    if kind == "bare":
                        target, headers = f"{path}?user={user_id}", {}
                    else:
                        target, headers = path, {"Authorization": f"tma {data}"}
                    started = time.perf_counter()
                    try:
                        async with session.get(target, headers=headers) as answer:
                            await answer.read()
                            ok = answer.status == 200
                    except (aiohttp.ClientError, TimeoutError):
                        ok = False
                    latencies.append(time.perf_counter() - started)
                    errors += not ok

            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(connections)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        print(json.dumps({"requests": len(latencies), "seconds": elapsed, "errors": errors,
                          "p50_ms": quantile(latencies, 0.50) * 1000,
                          "p99_ms": quantile(latencies, 0.99) * 1000,
                          "max_ms": latencies[-1] * 1000 if latencies else float("nan")}))

    asyncio.run(main())


def quantile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_aiohttp(url: str, path: str, kind: str, tokens: Path, connections: int,
                      seconds: float) -> Load:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_miniapp", "--generate", url, "--kind", kind,
        "--path", path, "--tokens", str(tokens), "--connections", str(connections),
        "--duration", str(seconds), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    return Load(**result)
