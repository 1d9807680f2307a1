"""python -m bot run | worker | migrate | demo"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bot.lifecycle import wait_for_signal
from bot.settings import Settings, SettingsError, load_settings, require_for_command
from bot.stores import StoreUnreachable
from bot.supervisor import WorkerLoopFailed


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="CryptoRebate")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="the web process (webhook if PUBLIC_URL is set, else polling)")
    commands.add_parser("worker", help="the arq worker (sync, payouts, notifications)")
    commands.add_parser("migrate", help="apply database migrations and seed reference data")
    demo = commands.add_parser("demo", help="the whole product locally, no token, no network")
    demo.add_argument("--port", type=int, default=None, help="web port (default WEB_PORT)")
    return parser.parse_args(argv)


async def _run(_: argparse.Namespace, settings: Settings) -> None:
    from bot.app import open_infrastructure
    from bot.web_process import WebProcess, check_listen_address

    # Everything that can be checked is, before the stores start (the embedded ones take
    # seconds and print their own lines): the settings in main, the port here.
    check_listen_address(settings)
    infra = await open_infrastructure(settings)
    process = WebProcess(settings, infra)
    try:
        await process.start()
        await wait_for_signal()
    finally:
        await process.stop()
        await infra.close()


async def _migrate(_: argparse.Namespace, settings: Settings) -> None:
    from bot.app import open_infrastructure
    from services.exchange_catalog import ExchangeCatalog
    from services.seed import seed_reference_data

    infra = await open_infrastructure(settings, migrate=True)
    try:
        added = await seed_reference_data(ExchangeCatalog())
        print(f"migrations applied; {added.exchanges} exchanges added"  # noqa: T201
              + (f", {added.payout_rows} payout settings added" if added.payout_rows else ""))
    finally:
        await infra.close()


async def _demo(args: argparse.Namespace, _: Settings) -> None:
    from bot.demo import run_demo

    # The demo reads the same settings again itself (bot/demo.py) and points them at its
    # stand-ins; they were validated here, before anything started.
    await run_demo(port=args.port, wait=wait_for_signal)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    runners: dict[str, Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, None]]] = {
        "run": _run, "migrate": _migrate, "demo": _demo,
    }
    try:
        settings = load_settings()
        require_for_command(settings, args.command)
        logging.basicConfig(level=settings.log_level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "worker":
            from bot.worker import run_worker

            run_worker(settings)
        else:
            asyncio.run(runners[args.command](args, settings))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except StoreUnreachable as exc:
        print(f"cannot start: {exc}", file=sys.stderr)  # noqa: T201
        return 3
    except WorkerLoopFailed as exc:
        logging.getLogger("bot").exception("stopping: %s", exc)
        return 4
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
