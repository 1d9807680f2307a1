"""The arq worker: scheduled and queued jobs. Each job owns its resources through ``ctx`` and is
safe to run twice (it acts on the state of a database row, deduplicated by unique keys)."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func

from bot.app import Infrastructure, open_infrastructure
from bot.settings import Settings


def queue_name(redis_prefix: str) -> str:
    return f"{redis_prefix}:queue"


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Proves the worker is alive and can reach Redis; /healthz shows its age."""
    infra: Infrastructure = ctx["infra"]
    await infra.redis.set(f"{ctx['redis_prefix']}:worker:heartbeat", "1", ex=300)
    return "ok"


def worker_functions() -> list[Any]:
    return [func(heartbeat, name="heartbeat")]


def build_worker(settings: Settings, infra: Infrastructure, *, burst: bool = False) -> Worker:
    redis_prefix = settings.redis_prefix

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["infra"] = infra
        ctx["settings"] = settings
        ctx["redis_prefix"] = redis_prefix

    return Worker(
        functions=worker_functions(),
        queue_name=queue_name(redis_prefix),
        redis_settings=RedisSettings.from_dsn(infra.redis_url),
        on_startup=on_startup,
        burst=burst,
        handle_signals=False,
        max_jobs=10,
    )


def run_worker(settings: Settings) -> None:
    async def main() -> None:
        from bot.__main__ import _wait_for_signal

        infra = await open_infrastructure(settings)
        worker = build_worker(settings, infra)
        task = asyncio.create_task(worker.async_run())
        try:
            await _wait_for_signal()
        finally:
            await worker.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await infra.close()

    asyncio.run(main())
