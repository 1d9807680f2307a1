"""The sample CSV files the README and the demo banner point at import cleanly, each in the
format its name says."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from exchanges.csv_import import parse_csv

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "csv"
FORMATS = {  # file → (exchange, format), as the demo banner's captions say
    "generic-binance.csv": ("binance", "generic"),
    "binance-export.csv": ("binance", "binance"),
    "bitmart-export.csv": ("bitmart", "bitmart"),
}


def test_every_sample_is_listed() -> None:
    assert sorted(path.name for path in SAMPLES.glob("*.csv")) == sorted(FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_sample_parses_without_errors(name: str) -> None:
    exchange, fmt = FORMATS[name]
    result = parse_csv((SAMPLES / name).read_text(), fmt=fmt,  # type: ignore[arg-type]
                       exchange=exchange, today=date(2026, 12, 2))
    assert result.errors == []
    assert len(result.rows) >= 20
    assert {row.exchange for row in result.rows} == {exchange}
