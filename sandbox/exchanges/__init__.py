"""A local HTTP server that speaks the exchanges' affiliate APIs, for tests and the demo.

    python -m sandbox.exchanges --port 8900 --traders 50 --days 30 --seed 1

In tests: `create_app(Dataset.build([...]), Faults())` with aiohttp's test server.
"""

from sandbox.exchanges.app import SIMULATED_EXCHANGES, create_app
from sandbox.exchanges.dataset import Dataset
from sandbox.exchanges.faults import ExchangeFaults, Faults

__all__ = ["SIMULATED_EXCHANGES", "Dataset", "ExchangeFaults", "Faults", "create_app"]
