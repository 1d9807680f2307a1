"""All benchmarks, one after the other, each printing its ratio against a baseline measured in
the same run:

    .venv/bin/python -m bench            # full sizes (the issues' goals): a few minutes
    .venv/bin/python -m bench --quick    # small sizes, to see that they run

Each one also runs alone: python -m bench.bench_dispatcher | bench_ingest | bench_ledger |
bench_startup | bench_payouts | bench_miniapp.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

FULL = [
    ["bench.bench_dispatcher"],
    ["bench.bench_ingest", "--rows", "500000"],
    ["bench.bench_ledger", "--records", "1000000"],
    ["bench.bench_startup", "--rounds", "3"],
    # Stops waiting after 10 minutes and reports what was sent by then.
    ["bench.bench_payouts", "--requests", "10000", "--within", "600"],
    ["bench.bench_miniapp"],
]
QUICK = [
    ["bench.bench_dispatcher", "--users", "10", "--rounds", "5"],
    ["bench.bench_ingest", "--rows", "20000", "--rounds", "1"],
    ["bench.bench_ledger", "--records", "20000"],
    ["bench.bench_startup", "--rounds", "1"],
    ["bench.bench_payouts", "--requests", "200"],
    ["bench.bench_miniapp", "--records", "50000", "--traders", "1000", "--duration", "3",
     "--rounds", "1"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    runs = QUICK if parser.parse_args().quick else FULL
    failed = 0
    for module, *args in runs:
        print(f"\n=== python -m {module} {' '.join(args)}", flush=True)
        # One process each: a benchmark's caches and pools never help the next one.
        failed += subprocess.call([sys.executable, "-m", module, *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
