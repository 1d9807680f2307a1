"""The two ways an imported CSV is parsed - in a thread (small files) and in the worker process
(large ones, services.sync.csv_imports) - give the same outcome, packing rows for the trip
back from the worker loses nothing, and the worker does not outlive a killed web process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exchanges.csv_import import CsvFormat, parse_csv, parse_csv_packed, unpack_errors, unpack_rows
from services.events import EventService
from services.models import CommissionRecord
from services.notifications import NotificationService
from services.sync import SyncService, csv_imports

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "csv"
HEADER = "exchange,uid,date,product,volume,fee,commission,currency,rate_to_usdt\n"
BAD = HEADER + "\n".join([
    "binance,123456789,2026-11-20,spot,1,0.1,0.04,USDT,1",
    "binance,12ab,2026-11-20,spot,1,0.1,0.04,USDT,1",
    "binance,123456789,2099-11-20,spot,1,0.1,0.04,USDT,1",
    "binance,123456789,2026-11-20,spot,1,0.123456789,0.04,USDT,1",
    "binance,123456789,2026-11-20,spot,1,0.1,0.04,USDT,1",
]) + "\n"
FILES: list[tuple[str, CsvFormat, str]] = [  # (exchange, format, text)
    ("binance", "generic", (SAMPLES / "generic-binance.csv").read_text()),
    ("binance", "binance", (SAMPLES / "binance-export.csv").read_text()),
    ("bitmart", "bitmart", (SAMPLES / "bitmart-export.csv").read_text()),
    ("binance", "generic", BAD),
]


@pytest.mark.parametrize(("exchange", "fmt", "text"), FILES)
def test_packing_loses_nothing(exchange: str, fmt: CsvFormat, text: str) -> None:
    today = datetime.now(UTC).date()
    result = parse_csv(text, fmt=fmt, exchange=exchange, today=today)
    packed = parse_csv_packed(text, fmt=fmt, exchange=exchange, today=today, batch_rows=7)
    assert (packed.fmt, packed.rows, packed.errors) == (fmt, len(result.rows),
                                                        len(result.errors))
    assert [e for batch in packed.error_batches for e in unpack_errors(batch)] == result.errors
    rows = [row for batch in packed.row_batches for row in unpack_rows(batch)]
    assert rows == ([] if result.errors else result.rows)  # a bad file brings no rows back


def _service() -> SyncService:
    return SyncService(lambda _: None, NotificationService(), EventService())


@pytest.mark.parametrize(("exchange", "fmt", "text"), FILES)
async def test_the_worker_process_and_a_thread_give_the_same_outcome(
    db: str, monkeypatch: pytest.MonkeyPatch, exchange: str, fmt: CsvFormat, text: str
) -> None:
    in_thread = await _service().import_csv(exchange, text, fmt, dry_run=True)
    monkeypatch.setattr(csv_imports, "IN_THREAD_CHARS", 0)  # every file to the worker
    in_worker = await _service().import_csv(exchange, text, fmt, dry_run=True)
    assert in_worker == in_thread
    assert await CommissionRecord.all().count() == 0
    imported = await _service().import_csv(exchange, text, fmt, dry_run=False)
    assert (imported.rows, imported.new, imported.errors) == (
        in_thread.rows, in_thread.new, in_thread.errors)
    assert await CommissionRecord.all().count() == (0 if imported.errors else imported.rows)


async def test_a_wrong_call_raises_from_the_worker_too(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_imports, "IN_THREAD_CHARS", 0)
    with pytest.raises(ValueError, match="unknown CSV format"):
        await _service().import_csv("binance", HEADER, "nope", dry_run=True)


_STARTS_A_WORKER = """
import os, sys, time
from pathlib import Path
from services.sync import csv_imports
Path(sys.argv[1]).write_text(str(csv_imports._parser_pool().submit(os.getpid).result()))
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")  # exited, not yet reaped


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
async def test_the_worker_of_a_killed_process_exits(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _STARTS_A_WORKER, str(pid_file), cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            await asyncio.sleep(0.1)
        worker = int(pid_file.read_text())
    finally:
        process.kill()  # SIGKILL: no atexit, no shutdown hook
        await process.wait()
    for _ in range(50):
        if _gone(worker):
            return
        await asyncio.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the parse worker outlived the process that started it")
