"""CSV import: generic and export formats, bad lines, and equality with the API path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from exchange_checks import END_DAY, Sim

from exchanges.base import AffiliateSource, source_key
from exchanges.csv_import import EARLIEST_DAY, REASONS, CsvRowError, parse_csv
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


# --- Bounds (issue 9 item 6): days that never happened, numbers no column keeps, hostile files.

TODAY = date(2026, 11, 22)  # the tests' "today" (UTC): 2026-11-21 is the latest day allowed
GOOD = "okx,123456789012345678,2026-11-20,spot,1500.5,1.5005,0.6002,USDT,1"
BIG_FIELD = "9" * 200_000  # 200 kB, beyond the csv module's own field limit


def _row(date_: str = "2026-11-20", volume: str = "1", fee: str = "0.1",
         commission: str = "0.04", currency: str = "USDT", rate: str = "1",
         product: str = "spot") -> str:
    return ",".join(["okx", "123456789012345678", date_, product, volume, fee, commission,
                     currency, rate])


BAD_GENERIC_ROWS = [
    pytest.param(_row("2026-11-23"), "date_in_future", id="tomorrow"),
    pytest.param(_row("2026-11-22"), "date_not_final", id="today"),
    pytest.param(_row("2099-01-01"), "date_in_future", id="2099"),
    pytest.param(_row("0001-01-01"), "date_too_early", id="year-1"),
    pytest.param(_row("2016-12-31"), "date_too_early", id="before-horizon"),
    pytest.param(_row(volume="1e400"), "number_too_large", id="1e400"),
    pytest.param(_row(commission="1e25"), "number_too_large", id="1e25"),
    pytest.param(_row(volume="10000000000000000000000"), "number_too_large", id="10^22"),
    pytest.param(_row(fee="NaN"), "bad_number", id="nan"),
    pytest.param(_row(fee="-Infinity"), "bad_number", id="-inf"),
    pytest.param(_row(fee="sNaN"), "bad_number", id="snan"),
    pytest.param(_row(fee="-0.5"), "negative_number", id="negative"),
    pytest.param(_row(commission="0.123456789"), "too_many_decimals", id="9-decimals"),
    pytest.param(_row(commission="1e-400"), "too_many_decimals", id="1e-400"),
    pytest.param(_row(currency="BNB", rate="600.1234567890123"), "too_many_decimals",
                 id="rate-13-decimals"),
    pytest.param(_row(currency="BNB", rate="1e18"), "number_too_large", id="rate-1e18"),
    # Each number fits, the USDT value computed from them does not.
    pytest.param(_row(volume="9000000000000000000000", currency="BNB", rate="2"),
                 "number_too_large", id="usdt-overflow"),
    pytest.param(_row(product="a_very_long_product_name"), "bad_product", id="long-product"),
    pytest.param(_row(volume="1" * 300), "field_too_long", id="300-char-field"),
    pytest.param(_row(volume=BIG_FIELD), "field_too_long", id="200kB-field"),
    pytest.param(_row(volume=f'"{BIG_FIELD}"'), "field_too_long", id="200kB-quoted-field"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_GENERIC_ROWS)
def test_generic_out_of_bounds_row_is_reported_and_nothing_passes(bad: str, reason: str) -> None:
    text = HEADER + GOOD + "\n" + bad + "\n" + _row("2026-11-19") + "\n"
    result = parse_csv(text, exchange="okx", today=TODAY)
    assert [(e.line, e.reason) for e in result.errors] == [(3, reason)]
    assert not result.ok  # the caller imports nothing
    assert [r.day for r in result.rows] == [date(2026, 11, 20), date(2026, 11, 19)]


def test_generic_bounds_themselves_are_accepted() -> None:
    text = HEADER + "\n".join([
        _row("2026-11-21"),  # yesterday: the latest day
        _row("2017-01-01", product="futures"),  # the earliest day
        _row("2026-11-20", volume="9999999999999999999999.99999999", fee="0.00000001",
             commission="1.5000000000000"),  # the largest amount; trailing zeros are no decimals
        _row("2026-11-19", volume="0.00000001", currency="BNB",
             rate="999999999999999999.999999999999"),  # the largest rate, 12 decimals
        _row("2026-11-18", volume="1E+3", fee="0E-20", commission="-0"),
    ]) + "\n"
    result = parse_csv(text, exchange="okx", today=TODAY)
    assert result.errors == [] and result.ok
    top = result.rows[2]
    # Exact: Python's default 28 digits would have cut this 30-digit amount.
    assert top.volume_usdt == Decimal("9999999999999999999999.99999999")
    assert result.rows[3].volume_usdt == Decimal("9999999999.99999999999999999999")
    assert result.rows[1].day == EARLIEST_DAY


def test_default_today_is_the_current_utc_day() -> None:
    today = datetime.now(UTC).date()
    text = HEADER + _row(today.isoformat()) + "\n" + _row((today + timedelta(1)).isoformat())
    result = parse_csv(text)
    assert [e.reason for e in result.errors] == ["date_not_final", "date_in_future"]


BINANCE_HEADER = "Friend's ID,Date(UTC),Order Type,Commission Asset,Commission Earned\n"


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        pytest.param("99999999999999999999", "date_in_future", id="epoch-past-any-calendar"),
        pytest.param("9" * 250, "date_in_future", id="epoch-250-digits"),
        pytest.param("253402300800000", "date_in_future", id="epoch-year-10000"),
        pytest.param("4102444800000", "date_in_future", id="epoch-2100"),
        pytest.param("1795392000000", "date_not_final", id="epoch-today"),  # 2026-11-23 00:00
        pytest.param("100000000000", "date_too_early", id="epoch-1973"),
        pytest.param("2099-01-01 00:00:00", "date_in_future", id="text-2099"),
        pytest.param("0001/01/01", "date_too_early", id="text-year-1"),
        pytest.param("٢٠٢٦٠١٠١٠٠٠٠٠", "bad_date", id="non-ascii-digits"),
    ],
)
def test_export_dates_out_of_range_are_row_errors(when: str, reason: str) -> None:
    text = BINANCE_HEADER + f"123456789,{when},Spot,USDT,1\n123456789,2026-11-20,Spot,USDT,1\n"
    result = parse_csv(text, fmt="binance", exchange="binance", today=date(2026, 11, 23))
    assert [(e.line, e.reason) for e in result.errors] == [(2, reason)]
    assert [r.day for r in result.rows] == [date(2026, 11, 20)]


def test_export_epoch_of_yesterday_is_accepted() -> None:
    text = BINANCE_HEADER + "123456789,1795391999999,Spot,USDT,1\n"  # 2026-11-22 23:59:59.999
    result = parse_csv(text, fmt="binance", exchange="binance", today=date(2026, 11, 23))
    assert result.ok and result.rows[0].day == date(2026, 11, 22)


def test_export_amounts_out_of_bounds() -> None:
    text = (
        "Friend's ID,Date(UTC),Order Type,Commission Asset,Commission Earned,"
        "Commission Earned (USDT)\n"
        "123456789,2026-11-20,Spot,USDT,1e400,\n"  # 2
        "123456789,2026-11-20,Spot,USDT,NaN,\n"  # 3
        "123456789,2026-11-20,Spot,USDT,0.000000001,\n"  # 4
        "123456789,2026-11-19,Spot,USDT,6000000000000000000000,\n"  # 5: fits alone
        "123456789,2026-11-19,Spot,USDT,6000000000000000000000,\n"  # 6: the day's sum does not
        "123456789,2026-11-18,Spot,BNB,0.00000001,100000000000\n"  # 7: rate 1e19 > numeric(30,12)
    )
    result = parse_csv(text, fmt="binance", exchange="binance", today=TODAY)
    assert [(e.line, e.reason) for e in result.errors] == [
        (2, "number_too_large"), (3, "bad_number"), (4, "too_many_decimals"),
        (6, "number_too_large"), (7, "number_too_large"),
    ]
    assert not result.ok


def test_hostile_csv_syntax_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from exchanges import csv_import

    # A 200 kB header cell, beyond the csv module's field limit or only beyond ours.
    for header in (f"{BIG_FIELD},uid\n", f'"{BIG_FIELD}",uid\n', "x" * 300 + ",uid\n"):
        result = parse_csv(header + GOOD + "\n", today=TODAY)
        assert [(e.line, e.reason) for e in result.errors] == [(1, "field_too_long")]
    # An unterminated quote swallows the rest of the file: one bad row, where it starts.
    result = parse_csv(HEADER + GOOD + '\nokx,"123\n' + GOOD + "\n", today=TODAY)
    assert [(e.line, e.reason) for e in result.errors] == [(3, "bad_uid")]
    # Bare CR line endings read as lines.
    result = parse_csv((HEADER + GOOD + "\n").replace("\n", "\r"), today=TODAY)
    assert result.ok and len(result.rows) == 1
    # NUL characters are just bad cells.
    result = parse_csv(HEADER + GOOD.replace("spot", "sp\x00ot") + "\n", today=TODAY)
    assert [e.reason for e in result.errors] == ["bad_product"]
    # Too many rows, too big a file: one file-level answer.
    monkeypatch.setattr(csv_import, "MAX_ROWS", 2)
    rows = [_row(f"2026-11-{day}") for day in (10, 11, 12, 13)]
    result = parse_csv(HEADER + "\n".join(rows) + "\n", today=TODAY)
    assert [(e.line, e.reason) for e in result.errors] == [(4, "too_many_rows")]
    monkeypatch.setattr(csv_import, "MAX_FILE_CHARS", 100)
    result = parse_csv(HEADER + "\n".join(rows) + "\n", today=TODAY)
    assert [(e.line, e.reason) for e in result.errors] == [(1, "file_too_big")]
    assert result.rows == []


def test_unknown_format_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="unknown CSV format"):
        parse_csv(HEADER, fmt="nope", exchange="okx")  # type: ignore[arg-type]


def test_every_reason_code_has_words_for_the_operator() -> None:
    from handlers.admin.exchanges import render_import
    from services.i18n import Catalog
    from services.sync import CsvImportOutcome

    catalog = Catalog.load()
    assert {f"admin.csv.reason.{code}" for code in REASONS} <= catalog.keys("en")
    errors = [CsvRowError(3, "date_in_future", "2099-01-01 > 2026-11-22"),
              CsvRowError(4, "too_many_decimals", "fee=0.123456789 (> 8)"),
              CsvRowError(5, "empty_file")]
    outcome = CsvImportOutcome("okx", True, 1, errors)
    text = render_import(catalog.translator("en"), outcome, "OKX")
    assert "line 3: the date is in the future (date_in_future): 2099-01-01 &gt; 2026-11-22" in text
    assert ("line 4: too many decimal places (amounts keep 8, rates 12) (too_many_decimals): "
            "fee=0.123456789 (&gt; 8)") in text
    assert "line 5: the file has no data rows (empty_file)" in text
    text = render_import(catalog.translator("ru"), outcome, "OKX")
    assert "строка 3: дата в будущем (date_in_future): 2099-01-01" in text


# --- Through the service: a hostile file gets an outcome with its errors, never a traceback.

HOSTILE = HEADER + "\n".join(
    [GOOD] + [str(p.values[0]) for p in BAD_GENERIC_ROWS]  # lines 3.. in BAD_GENERIC_ROWS order
) + "\n"


def _sync_service() -> Any:
    from services.events import EventService
    from services.notifications import NotificationService
    from services.sync import SyncService

    return SyncService(lambda _: None, NotificationService(), EventService(),
                       clock=lambda: datetime(2026, 11, 22, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize("dry_run", [True, False])
async def test_service_import_of_a_hostile_file_returns_errors(db: str, dry_run: bool) -> None:
    from services.models import CommissionRecord

    outcome = await _sync_service().import_csv("okx", HOSTILE, dry_run=dry_run)
    assert [(e.line, e.reason) for e in outcome.errors] == [
        (line, str(p.values[1])) for line, p in enumerate(BAD_GENERIC_ROWS, start=3)
    ]
    assert outcome.dry_run is dry_run
    assert await CommissionRecord.all().count() == 0
    # The export path too: out-of-range epochs and amounts.
    text = BINANCE_HEADER + "123456789,99999999999999999999,Spot,USDT,1e400\n"
    outcome = await _sync_service().import_csv("binance", text, "binance", dry_run=dry_run)
    assert [(e.line, e.reason) for e in outcome.errors] == [(2, "date_in_future")]
    assert await CommissionRecord.all().count() == 0


async def test_service_dry_run_of_values_at_the_bounds_fits_the_columns(db: str) -> None:
    # The same upsert as a real import, rolled back: PostgreSQL accepts the largest values.
    text = HEADER + "\n".join([
        _row("2026-11-21", volume="9999999999999999999999.99999999",
             fee="9999999999999999999999.99999999", commission="0.00000001"),
        _row("2017-01-01", volume="0.00000001", currency="BNB",
             rate="999999999999999999.999999999999"),
    ]) + "\n"
    outcome = await _sync_service().import_csv("okx", text, dry_run=True)
    assert outcome.errors == [] and outcome.new == 2
    outcome = await _sync_service().import_csv("okx", text, dry_run=False)
    assert outcome.errors == [] and outcome.new == 2
    from services.models import CommissionRecord

    top = await CommissionRecord.get(day=date(2026, 11, 21))
    assert top.volume_usdt == Decimal("9999999999999999999999.99999999")


@pytest.mark.parametrize("dry_run", [True, False])
async def test_service_turns_a_database_refusal_into_an_error_outcome(
    db: str, dry_run: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Should a value ever slip past the parser, the operator still gets an answer.
    from exchanges.base import make_row
    from exchanges.csv_import import CsvImportResult
    from services.models import CommissionRecord, SyncRun
    from services.sync import csv_imports as sync_module

    row = make_row("okx", "123456789012", date(2026, 11, 20), "spot", volume=Decimal("1e30"),
                   fee=None, commission=None)
    monkeypatch.setattr(sync_module, "parse_csv",
                        lambda *args, **kwargs: CsvImportResult("generic", rows=[row]))
    outcome = await _sync_service().import_csv("okx", HEADER, dry_run=dry_run)
    assert [e.reason for e in outcome.errors] == ["rejected_by_database"]
    assert await CommissionRecord.all().count() == 0
    runs = await SyncRun.filter(exchange_id="okx", trigger="csv")
    assert [r.status.value for r in runs] == ([] if dry_run else ["failed"])
