"""python -m bot.healthcheck web | worker: exit 0 when healthy, 1 when not (one line on stderr).

The containers' HEALTHCHECK (the slim image has no curl):

- ``web``: GET /healthz on WEB_PORT answers 200 (``"degraded"`` - a stale worker - is still
  200: restarting the web process would not help the worker);
- ``worker``: the worker's heartbeat in Redis is younger than STALE_AFTER_SECONDS (the worker has
  no HTTP; the heartbeat is written by its job loop, so a living but idle worker fails too).

Cheap on purpose: no aiogram, no Tortoise, no ccxt; one request, then exit.
"""

from __future__ import annotations

import asyncio
import sys
import urllib.error
import urllib.request

from bot.settings import Settings, SettingsError, load_settings

TIMEOUT_SECONDS = 5.0
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def healthz_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.web_host in _ANY_ADDRESS else settings.web_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.web_port}/healthz"


def check_web(settings: Settings) -> str | None:
    """None when /healthz answers 200, else why not."""
    url = healthz_url(settings)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except urllib.error.URLError as exc:
        return f"{url}: {exc.reason}"
    except (OSError, ValueError) as exc:
        return f"{url}: {type(exc).__name__}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


async def check_worker(settings: Settings) -> str | None:
    """None when the worker's heartbeat is fresh, else why not."""
    from redis.asyncio import Redis

    from services.health import STALE_AFTER_SECONDS, heartbeat_age, is_stale

    if settings.redis_url is None:
        return "REDIS_URL is not set: the embedded Redis of another process cannot be probed"
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=TIMEOUT_SECONDS,
                           socket_timeout=TIMEOUT_SECONDS)
    try:
        age = await heartbeat_age(redis, settings.redis_prefix)
    except Exception as exc:  # any failure to read it is "unhealthy", said in one line
        return f"redis: {type(exc).__name__}: {exc}"
    finally:
        await redis.aclose()
    if is_stale(age):
        return ("no worker heartbeat recorded" if age is None
                else f"worker heartbeat is {age:.0f} s old (stale after {STALE_AFTER_SECONDS} s)")
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["web"], ["worker"]):
        print("usage: python -m bot.healthcheck web|worker", file=sys.stderr)  # noqa: T201
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    problem = check_web(settings) if args == ["web"] else asyncio.run(check_worker(settings))
    if problem is not None:
        print(f"unhealthy: {problem}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
