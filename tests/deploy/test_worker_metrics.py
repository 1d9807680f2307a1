"""The worker serves its own metrics (its jobs run there: the web process's /metrics cannot
see them), and a busy port does not stop it."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from bot.settings import load_settings
from bot.worker import serve_metrics
from tests.e2e.processes import free_port


def test_the_worker_metrics_show_the_payout_and_ledger_series() -> None:
    port = free_port()
    serve_metrics(load_settings({"WORKER_METRICS_PORT": str(port)}))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        body = response.read().decode()
    for series in ("payout_queue_size", "payout_requests_total",
                   "payout_processing_duration_seconds", "ledger_payouts_frozen"):
        assert series in body


def test_a_busy_metrics_port_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        serve_metrics(load_settings({"WORKER_METRICS_PORT": str(port)}))
    assert "worker metrics not served" in caplog.text
