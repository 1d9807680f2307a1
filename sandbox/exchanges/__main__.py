"""Run the exchange simulator: python -m sandbox.exchanges --port 8900."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from sandbox.exchanges.app import SIMULATED_EXCHANGES, create_app
from sandbox.exchanges.dataset import Dataset
from sandbox.exchanges.faults import Faults


def main() -> None:
    parser = argparse.ArgumentParser(description="Local exchange affiliate-API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--traders", type=int, default=50, help="traders per exchange")
    parser.add_argument("--days", type=int, default=30, help="days of activity up to yesterday")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default="sim-key", help="the only API key accepted")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    dataset = Dataset.build(
        SIMULATED_EXCHANGES, traders=args.traders, days=args.days, seed=args.seed
    )
    dataset.api_key = args.api_key
    logging.getLogger(__name__).info(
        "simulating %s; adapters use api_url=http://%s:%d/<exchange>",
        ", ".join(SIMULATED_EXCHANGES), args.host, args.port,
    )
    web.run_app(create_app(dataset, Faults()), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
