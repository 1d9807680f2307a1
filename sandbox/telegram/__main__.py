"""``python -m sandbox.telegram --port 8081``: run the stub standalone."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from .demo import seed_demo_people
from .server import create_stub_app
from .state import DEFAULT_TOKEN, StubState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the only token accepted")
    parser.add_argument(
        "--no-demo-people", action="store_true", help="start without the sample users/chats"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = StubState(args.token)
    if not args.no_demo_people:
        seed_demo_people(state)
    base = f"http://{args.host}:{args.port}"
    logging.getLogger("telegram_stub").info(
        "chat page: %s/stub/  bot API base: %s  token: %s", base, base, args.token
    )
    web.run_app(
        create_stub_app(state),
        host=args.host,
        port=args.port,
        shutdown_timeout=2.0,
        print=None,
    )


if __name__ == "__main__":
    main()
