"""CSV import: generic and export formats, bad lines, and equality with the API path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from exchange_checks import END_DAY, Sim

from exchanges.base import AffiliateSource, source_key
from exchanges.csv_import import parse_csv
from sandbox.exchanges import Dataset
from sandbox.exchanges.csv_export import to_binance_csv, to_generic_csv

HEADER = "exchange,uid,date,product,volume,fee,commission,currency,rate_to_usdt\n"


def test_generic_good_rows() -> None:
    text = (
        "\ufeff" + HEADER
        + "okx,123456789012345678,2026-11-20,spot,1500.5,1.5005,0.6002,USDT,\n"
        + "okx,123456789012345678,2026-11-20,Futures,100,,0.02,BNB,600\n"
        + "\n"
        + "bybit,123456789,2026-11-19,spot,200,,,USDT,1\n"
    )
    result = parse_csv(text)
    assert result.ok and result.errors == []
    spot, futures, bybit = result.rows
    assert spot.commission_usdt == Decimal("0.6002") and spot.rate_to_usdt == 1
    assert spot.source_key == source_key("okx", "123456789012345678", date(2026, 11, 20), "spot")
    assert futures.product == "futures" and futures.currency == "BNB"
    assert futures.fee is None and futures.fee_usdt is None
    assert futures.commission_usdt == Decimal("12.00")
    assert futures.source_key.endswith(":futures:BNB")
    assert bybit.commission is None and bybit.volume == 200


def test_generic_bad_rows_are_all_reported_with_line_numbers() -> None:
    text = HEADER + "\n".join(
        [
            "okx,123456789012345678,2026-11-20,spot,1,0.1,0.04,USDT,1",  # 2 good
            "nope,123456789012345678,2026-11-20,spot,1,0.1,0.04,USDT,1",  # 3
            "okx,12ab,2026-11-20,spot,1,0.1,0.04,USDT,1",  # 4
            "okx,123456789012345678,20/11/2026,spot,1,0.1,0.04,USDT,1",  # 5
            "okx,123456789012345678,2026-11-20,sp@t,1,0.1,0.04,USDT,1",  # 6
            "okx,123456789012345678,2026-11-21,spot,1x,0.1,0.04,USDT,1",  # 7
            "okx,123456789012345678,2026-11-22,spot,-1,0.1,0.04,USDT,1",  # 8
            "okx,123456789012345678,2026-11-23,spot,,,,USDT,1",  # 9
            "okx,123456789012345678,2026-11-24,spot,1,0.1,0.04,BNB,",  # 10
            "okx,123456789012345678,2026-11-20,spot,1,0.1,0.04,USDT,1",  # 11 duplicate of 2
            "bybit,123456789,2026-11-20,spot,1,0.1,0.04,USDT,1",  # 12 (expected okx)
        ]
    )
    result = parse_csv(text, exchange="okx")
    assert not result.ok
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "bad_exchange"), (4, "bad_uid"), (5, "bad_date"), (6, "bad_product"),
        (7, "bad_number"), (8, "negative_number"), (9, "no_amounts"), (10, "missing_rate"),
        (11, "duplicate_row"), (12, "exchange_mismatch"),
    ]
    assert len(result.rows) == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty_file"), (HEADER, "empty_file"), ("uid,date\n1,2\n", "missing_columns")],
)
def test_file_level_errors(text: str, reason: str) -> None:
    result = parse_csv(text)
    assert [e.reason for e in result.errors] == [reason]


def test_binance_export_sums_lines_to_dataset_totals() -> None:
    dataset = Dataset.build(["binance"], traders=10, days=5, seed=3, end_day=END_DAY)
    result = parse_csv(to_binance_csv(dataset), fmt="binance", exchange="binance")
    assert result.errors == []
    got = {(r.uid, r.day, r.product): r for r in result.rows}
    expected = dataset.totals("binance")
    assert set(got) == set(expected)
    for key, total in expected.items():
        assert got[key].commission == total.commission
        assert got[key].volume == total.volume
        assert got[key].fee == total.fee


def test_binance_export_coin_commission_uses_stated_usdt_value() -> None:
    text = (
        "Friend's ID,Date(UTC),Order Type,Commission Asset,Commission Earned,"
        "Commission Earned (USDT)\n"
        "123456789,2026-11-20 01:00:00,Spot,BNB,0.01,6\n"
        "123456789,2026-11-20 13:00:00,Spot,BNB,0.01,6.2\n"
        "123456789,2026-11-20 14:00:00,Spot,BNB,0.01,\n"
    )
    result = parse_csv(text, fmt="binance", exchange="binance")
    assert [(e.line, e.reason) for e in result.errors] == [(4, "missing_rate")]
    (row,) = result.rows
    assert row.commission == Decimal("0.02") and row.commission_usdt == Decimal("12.2")


def test_bitmart_export_minimal() -> None:
    text = (
        "UID,Date,Type,Coin,Commission,Trading Volume\n"
        "12345678,2026-11-20,Futures,USDT,1.5,900\n"
    )
    result = parse_csv(text, fmt="bitmart", exchange="bitmart")
    assert result.ok
    (row,) = result.rows
    assert row.product == "futures" and row.fee is None and row.volume == 900


@pytest.mark.parametrize("exchange", ["okx", "bitget"])
async def test_csv_totals_equal_api_totals(
    exchange: str, sim: Sim, make_source: Callable[..., AffiliateSource]
) -> None:
    first = END_DAY - timedelta(days=4)
    source = make_source(exchange)
    api_rows = await source.fetch_commissions(
        datetime.combine(first, time.min, tzinfo=UTC), datetime.combine(END_DAY, time.max, UTC)
    )
    csv_rows = parse_csv(to_generic_csv(sim.dataset, [exchange], first, END_DAY)).rows
    assert {r.source_key for r in csv_rows} == {r.source_key for r in api_rows}
    api = {r.source_key: (r.volume_usdt, r.fee_usdt, r.commission_usdt) for r in api_rows}
    assert {r.source_key: (r.volume_usdt, r.fee_usdt, r.commission_usdt) for r in csv_rows} == api
