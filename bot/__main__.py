"""python -m bot run | worker | migrate | demo"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.lifecycle import wait_for_signal
from bot.settings import SettingsError, load_settings
from bot.stores import StoreUnreachable


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="CryptoRebate")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="the web process (webhook if PUBLIC_URL is set, else polling)")
    commands.add_parser("worker", help="the arq worker (sync, payouts, notifications)")
    commands.add_parser("migrate", help="apply database migrations and seed reference data")
    demo = commands.add_parser("demo", help="the whole product locally, no token, no network")
    demo.add_argument("--port", type=int, default=None, help="web port (default WEB_PORT)")
    return parser.parse_args(argv)


async def _run(settings_args: argparse.Namespace) -> None:
    from bot.app import open_infrastructure
    from bot.web_process import WebProcess

    settings = load_settings()
    infra = await open_infrastructure(settings)
    process = WebProcess(settings, infra)
    try:
        await process.start()
        await wait_for_signal()
    finally:
        await process.stop()
        await infra.close()


async def _migrate(_: argparse.Namespace) -> None:
    from bot.app import open_infrastructure
    from services.exchange_catalog import ExchangeCatalog
    from services.seed import seed_reference_data

    infra = await open_infrastructure(load_settings(), migrate=True)
    try:
        added = await seed_reference_data(ExchangeCatalog())
        print(f"migrations applied; {added} exchanges added")  # noqa: T201
    finally:
        await infra.close()


async def _demo(args: argparse.Namespace) -> None:
    from bot.demo import run_demo

    await run_demo(port=args.port, wait=wait_for_signal)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runners = {"run": _run, "migrate": _migrate, "demo": _demo}
    try:
        if args.command == "worker":
            from bot.worker import run_worker

            run_worker(load_settings())
        else:
            asyncio.run(runners[args.command](args))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except StoreUnreachable as exc:
        print(f"cannot start: {exc}", file=sys.stderr)  # noqa: T201
        return 3
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
