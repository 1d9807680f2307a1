"""Export the simulator's data set as CSV, to check the CSV path gives the API path's totals.

* `to_generic_csv` - the generic format of `exchanges.csv_import` (one row per uid/day/product).
* `to_binance_csv` - a Binance-affiliate-export-like file (our assumed column names, see
  `exchanges.csv_import`): each day's commission split over two timed lines, so the importer's
  summing is exercised.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from exchanges.csv_import import GENERIC_COLUMNS
from sandbox.exchanges.dataset import Dataset, q8
from sandbox.exchanges.venues.common import money

BINANCE_COLUMNS = (
    "Friend's ID", "Date(UTC)", "Order Type", "Commission Asset", "Commission Earned",
    "Commission Earned (USDT)", "Trading Volume (USDT)", "Trading Fee",
)


def to_generic_csv(
    dataset: Dataset, exchanges: list[str], first: date | None = None, last: date | None = None
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(GENERIC_COLUMNS)
    for exchange in exchanges:
        for (uid, day, product), total in sorted(dataset.totals(exchange, first, last).items()):
            writer.writerow([
                exchange, uid, day.isoformat(), product, money(total.volume), money(total.fee),
                money(total.commission), "USDT", "1",
            ])
    return out.getvalue()


def to_binance_csv(
    dataset: Dataset, exchange: str = "binance", first: date | None = None,
    last: date | None = None,
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BINANCE_COLUMNS)
    order_type = {"spot": "Spot", "futures": "USDⓈ-M Futures"}
    for (uid, day, product), total in sorted(dataset.totals(exchange, first, last).items()):
        parts = [
            (q8(total.volume / 3), q8(total.fee / 3), q8(total.commission / 3)),
        ]
        parts.append(
            (total.volume - parts[0][0], total.fee - parts[0][1], total.commission - parts[0][2])
        )
        for hour, (volume, fee, commission) in zip(("03:15:00", "17:40:12"), parts, strict=True):
            writer.writerow([
                uid, f"{day.isoformat()} {hour}", order_type.get(product, product), "USDT",
                money(commission), money(commission), f"{volume:,.8f}", money(fee),
            ])
    return out.getvalue()
