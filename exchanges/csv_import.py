"""Commission data from CSV files: our generic format and exchange portal exports.

Generic format (`fmt="generic"`), one row per invitee, UTC day and product, header required,
column order free, UTF-8 (a BOM is fine), comma separated:

    exchange,uid,date,product,volume,fee,commission,currency,rate_to_usdt
    okx,123456789012345678,2026-11-20,spot,1500.5,1.5005,0.6002,USDT,1

* exchange - registry id (okx, binance, ...); uid - digits in that exchange's UID format
* date - YYYY-MM-DD (UTC); product - spot | futures | margin | ... (lower-case word, at most 16
  characters)
* volume, fee, commission - plain decimals (dot, no thousands separators); empty = not reported;
  at least one must be present; negative values are refused
* currency - the coin of volume/fee/commission (default USDT)
* rate_to_usdt - USDT per 1 unit of currency; may be empty for USDT/USDC/USD/FDUSD (= 1),
  required for any other coin
A (exchange, uid, date, product, currency) may appear only once.

Bounds (both formats, see the constants below): a day must lie from `EARLIEST_DAY` to yesterday
(UTC): exchanges report a day after it ended, so today's numbers are not final and a later day
never happened. An amount must fit its database column exactly (numeric(30, 8): below 10^22, at
most 8 decimals; rate_to_usdt numeric(30, 12)) - more decimals are refused, never cut - and so
must every USDT value computed from it. NaN, Infinity and negative numbers are refused (a CSV
carries no clawbacks: a later, lower file revises a record instead). A cell holds at most
`MAX_FIELD_CHARS` characters, a file at most `MAX_ROWS` data lines and `MAX_FILE_CHARS`
characters. Whatever is wrong with a file ends as a `CsvRowError`, never as an exception.

Exchange exports (`fmt="binance"`, `fmt="bitmart"`) hold one line per commission event; lines
are summed per uid, UTC day, product and coin. THEIR COLUMN NAMES ARE ASSUMPTIONS: no export
sample was available, so each column accepts several plausible header spellings (see
`_BINANCE` / `_BITMART`); check against a real file and extend the aliases before relying on it.

The result lists every good row and every bad line (1-based line number, reason code). The
caller must import nothing when `errors` is not empty. Source keys equal the API adapters' for
the same (exchange, uid, day, product[, coin]), so a CSV overlapping API data never counts twice.

`parse_csv_packed` is `parse_csv` for another process: the same result as pickled batches of
plain tuples, which cross a process boundary cheaply and are unpacked a batch at a time
(`unpack_rows`, `unpack_errors`); `exit_with_parent` is that process's initializer.
"""

from __future__ import annotations

import csv
import io
import operator
import os
import pickle
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from typing import Literal

from exchanges.base import USD_STABLES, CommissionRow, make_row, source_key, validate_uid
from exchanges.registry import EXCHANGES

CsvFormat = Literal["generic", "binance", "bitmart"]

GENERIC_COLUMNS = (
    "exchange", "uid", "date", "product", "volume", "fee", "commission", "currency",
    "rate_to_usdt",
)

# --- What a file may claim (issue 9 item 6). ---------------------------------------------------
# The earliest day a row may report. The registry knows no launch dates; every exchange of the
# product started (and with it its affiliate programme) after this day: Binance and OKX in 2017,
# BitMart and Bybit in 2018, the others later.
EARLIEST_DAY = date(2017, 1, 1)
# The latest day is yesterday (UTC), relative to `today` of parse_csv: see `_bounded_day`.
# The commission_records columns (migrations/0002_sync_and_outbox.py): volume, fee, commission
# and the *_usdt amounts are numeric(30, 8), rate_to_usdt is numeric(30, 12).
AMOUNT_DIGITS, AMOUNT_SCALE = 30, 8
RATE_DIGITS, RATE_SCALE = 30, 12
PRODUCT_CHARS = 16  # commission_records.product varchar(16)
MAX_FIELD_CHARS = 256  # a real cell is far shorter: a 20-digit UID, a timestamp, a number
MAX_ROWS = 500_000  # data lines of one file
MAX_FILE_CHARS = 20 * 1024 * 1024  # the admin chat downloads 20 MB at most
# Arithmetic on the file's numbers (sums, USDT values) is exact: two 30-digit numbers multiply to
# 60 digits, more than Python's default 28, which would cut a large amount silently.
_PRECISION = 64

# Every reason code a CsvRowError can carry; the admin chat has a text for each
# (admin.csv.reason.<code>).
REASONS = (
    "missing_columns", "bad_exchange", "exchange_mismatch", "bad_uid", "bad_date",
    "date_in_future", "date_not_final", "date_too_early", "bad_product", "bad_number",
    "negative_number", "number_too_large", "too_many_decimals", "no_amounts", "bad_currency",
    "missing_rate", "duplicate_row", "empty_file", "field_too_long", "bad_csv", "too_many_rows",
    "file_too_big", "rejected_by_database",
)


@dataclass(frozen=True, slots=True)
class CsvRowError:
    line: int  # 1-based line in the file (1 = header) where the bad row starts
    reason: str  # one of REASONS
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CsvImportResult:
    fmt: str
    rows: list[CommissionRow] = field(default_factory=list)
    errors: list[CsvRowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


class _LineError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# Header aliases of the exchange exports (lower-cased, spaces collapsed) - assumptions.
_BINANCE: dict[str, tuple[str, ...]] = {
    "uid": ("friend's id", "friend id", "friend's uid", "invitee uid", "referee uid",
            "user id", "uid"),
    "date": ("date(utc)", "date (utc)", "time(utc)", "commission time(utc)", "time", "date"),
    "product": ("order type", "trade type", "account type", "type", "product"),
    "currency": ("commission asset", "asset", "coin", "currency"),
    "commission": ("commission earned", "commission amount", "commission", "amount"),
    "commission_usdt": ("commission earned (usdt)", "commission earned(usdt)",
                        "commission (usdt)", "commission(usdt)", "value (usdt)"),
    "volume": ("trading volume (usdt)", "trading volume", "volume"),
    "fee": ("trading fee", "fee"),
}
_BITMART: dict[str, tuple[str, ...]] = {
    "uid": ("uid", "invitee uid", "user id", "friend uid"),
    "date": ("date", "time", "date(utc)", "rebate time", "trade time"),
    "product": ("type", "product", "trade type", "business type"),
    "currency": ("currency", "coin", "rebate currency", "asset"),
    "commission": ("commission", "rebate", "rebate amount", "commission amount"),
    "commission_usdt": ("commission (usdt)", "rebate (usdt)", "commission(usdt)"),
    "volume": ("trading volume", "volume", "trade volume", "trading amount"),
    "fee": ("trading fee", "fee", "fees"),
}
_EXPORTS = {"binance": _BINANCE, "bitmart": _BITMART}
_REQUIRED_EXPORT = ("uid", "date", "product", "commission")


def normalise_product(text: str) -> str:
    word = text.strip().lower()
    if word == "spot":
        return "spot"
    if any(k in word for k in ("future", "perp", "swap", "contract", "usdⓈ-m", "coin-m", "usd-m")):
        return "futures"
    if "margin" in word:
        return "margin"
    if not word or not word.replace("_", "").replace(" ", "").isalnum():
        raise _LineError("bad_product", text)
    word = word.replace(" ", "_")
    if len(word) > PRODUCT_CHARS:
        raise _LineError("bad_product", text)
    return word


def _column_limit(digits: int, scale: int) -> Decimal:
    """The smallest magnitude a numeric(digits, scale) column cannot store even rounded to its
    scale (PostgreSQL rounds half away from zero): 99…9.99…95."""
    return Decimal("9" * (digits - scale) + "." + "9" * scale + "5")


_AMOUNT_LIMIT = _column_limit(AMOUNT_DIGITS, AMOUNT_SCALE)
_RATE_LIMIT = _column_limit(RATE_DIGITS, RATE_SCALE)


def _decimals(value: Decimal) -> int:
    """The decimal places a finite `value` needs, trailing zeros not counted (exact)."""
    if not value:
        return 0
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        return 0
    if digits[-1]:  # the common case, no trailing zero: the exponent says it all
        return -exponent
    text = "".join(map(str, digits))
    return max(0, len(text.rstrip("0")) - len(text) - exponent)


def _decimal(text: str | None, *, loose: bool, name: str, rate: bool = False) -> Decimal | None:
    raw = (text or "").strip()
    if loose:  # exports may carry thousands separators or a trailing coin
        raw = raw.replace(",", "").split(" ")[0]
    if raw in ("", "-", "--"):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise _LineError("bad_number", f"{name}={raw}") from exc
    if not value.is_finite():
        raise _LineError("bad_number", f"{name}={raw}")
    if value < 0:
        raise _LineError("negative_number", f"{name}={raw}")
    scale, limit = (RATE_SCALE, _RATE_LIMIT) if rate else (AMOUNT_SCALE, _AMOUNT_LIMIT)
    if _decimals(value) > scale:
        raise _LineError("too_many_decimals", f"{name}={raw} (> {scale})")
    if value >= limit:
        raise _LineError("number_too_large", f"{name}={raw}")
    return value


def _checked(row: CommissionRow) -> CommissionRow:
    """The values computed from the file's numbers (USDT amounts, a rate) fit their columns."""
    values = {"volume_usdt": row.volume_usdt, "fee_usdt": row.fee_usdt,
              "commission_usdt": row.commission_usdt}
    for name, value in values.items():
        if value is not None and value.copy_abs() >= _AMOUNT_LIMIT:
            raise _LineError("number_too_large", f"{name}={value:.6E}")
    if row.rate_to_usdt is not None and row.rate_to_usdt.copy_abs() >= _RATE_LIMIT:
        raise _LineError("number_too_large", f"rate_to_usdt={row.rate_to_usdt:.6E}")
    return row


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)


def _day(text: str, *, loose: bool, today: date) -> date:
    raw = text.strip()
    if loose and raw.isascii() and raw.isdigit() and len(raw) >= 12:  # epoch milliseconds
        ms = int(raw)  # at most MAX_FIELD_CHARS digits
        if ms > _MAX_EPOCH_MS:  # past any calendar: certainly in the future
            raise _LineError("date_in_future", raw)
        day = (_EPOCH + timedelta(milliseconds=ms)).date()
    else:
        try:
            day = date.fromisoformat(raw.replace("/", "-")[:10] if loose else raw)
        except ValueError as exc:
            raise _LineError("bad_date", raw) from exc
    return _bounded_day(day, today)


def _bounded_day(day: date, today: date) -> date:
    """A day that happened and is over: EARLIEST_DAY up to yesterday. Today is refused too:
    exchanges report a day after it ended (T+1), so today's numbers are not final - and a
    verified UID would be credited for a partial day."""
    if day < EARLIEST_DAY:
        raise _LineError("date_too_early", f"{day.isoformat()} < {EARLIEST_DAY.isoformat()}")
    if day > today:
        raise _LineError("date_in_future", f"{day.isoformat()} > {today.isoformat()}")
    if day == today:
        raise _LineError("date_not_final", day.isoformat())
    return day


def _currency(text: str | None) -> str:
    currency = (text or "").strip().upper() or "USDT"
    if not currency.isalnum() or len(currency) > 12:
        raise _LineError("bad_currency", currency)
    return currency


def _rate(currency: str, rate: Decimal | None) -> Decimal:
    if rate is not None and rate > 0:
        return rate
    if currency in USD_STABLES:
        return Decimal(1)
    raise _LineError("missing_rate", currency)


def _csv_error(error: csv.Error) -> _LineError:
    if "field larger than field limit" in str(error):
        return _LineError("field_too_long", f"> {csv.field_size_limit()}")
    return _LineError("bad_csv", str(error)[:200])


Line = tuple[int, dict[str, str] | _LineError]  # start line, the cells by header name or why not


def _reader(text: str) -> tuple[list[str], Iterator[Line]]:
    """The header and the data lines (blank ones skipped). A header that cannot be read raises
    _LineError; a line that cannot be read comes as its _LineError, and reading goes on."""
    # newline="": quoted line breaks stay in their field, and a file with bare CR endings reads.
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        first = next(reader)
    except StopIteration:
        return [], iter(())
    except csv.Error as exc:
        raise _csv_error(exc) from exc
    if any(len(h) > MAX_FIELD_CHARS for h in first):
        raise _LineError("field_too_long", f"> {MAX_FIELD_CHARS}")
    header = [" ".join(h.strip().lower().split()) for h in first]

    def lines() -> Iterator[Line]:
        count = 0
        while True:
            start = reader.line_num + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, _csv_error(exc)
                if reader.line_num < start:  # nothing consumed: never loop on the same spot
                    return
                continue
            if not any(v.strip() for v in values):
                continue  # blank lines carry nothing
            count += 1
            if count > MAX_ROWS:
                yield start, _LineError("too_many_rows", f"> {MAX_ROWS}")
                return
            for index, value in enumerate(values):
                if len(value) > MAX_FIELD_CHARS:
                    name = header[index] if index < len(header) else f"#{index + 1}"
                    yield start, _LineError(
                        "field_too_long", f"{name[:40]}: {len(value)} > {MAX_FIELD_CHARS}"
                    )
                    break
            else:
                yield start, dict(zip(header, values, strict=False))

    return header, lines()


def parse_csv(
    text: str, *, fmt: CsvFormat = "generic", exchange: str | None = None,
    today: date | None = None,
) -> CsvImportResult:
    """Parse a CSV file's text. `exchange` is required for exports, optional for generic
    (then every row must name that exchange). `today` is the UTC day the bounds are taken from
    (default: the current one). A bad file comes back with its errors; only a wrong call
    (unknown format or exchange) raises ValueError."""
    if fmt != "generic" and fmt not in _EXPORTS:
        raise ValueError(f"unknown CSV format {fmt!r}")
    if fmt != "generic" and exchange is None:
        raise ValueError("exchange is required for exchange exports")
    if len(text) > MAX_FILE_CHARS:
        return CsvImportResult(fmt, errors=[CsvRowError(1, "file_too_big", f"> {MAX_FILE_CHARS}")])
    today = today or datetime.now(UTC).date()
    with localcontext() as context:
        context.prec = _PRECISION
        if fmt == "generic":
            return _parse_generic(text, exchange, today)
        assert exchange is not None
        return _parse_export(text, fmt, exchange, today)


def _parse_generic(text: str, expected: str | None, today: date) -> CsvImportResult:
    result = CsvImportResult("generic")
    try:
        header, lines = _reader(text)
    except _LineError as exc:
        result.errors.append(CsvRowError(1, exc.reason, exc.detail))
        return result
    if not header:
        result.errors.append(CsvRowError(1, "empty_file"))
        return result
    missing = [c for c in GENERIC_COLUMNS[:4] if c not in header]
    if missing:
        result.errors.append(CsvRowError(1, "missing_columns", ",".join(missing)))
        return result
    seen: dict[str, int] = {}
    for line, cells in lines:
        if isinstance(cells, _LineError):
            result.errors.append(CsvRowError(line, cells.reason, cells.detail))
            continue
        try:
            exchange = cells.get("exchange", "").strip().lower()
            if exchange not in EXCHANGES:
                raise _LineError("bad_exchange", exchange)
            if expected is not None and exchange != expected:
                raise _LineError("exchange_mismatch", exchange)
            try:
                uid = validate_uid(exchange, cells.get("uid", ""))
            except ValueError as exc:
                raise _LineError("bad_uid", str(exc)) from exc
            day = _day(cells.get("date", ""), loose=False, today=today)
            product = normalise_product(cells.get("product", ""))
            volume = _decimal(cells.get("volume"), loose=False, name="volume")
            fee = _decimal(cells.get("fee"), loose=False, name="fee")
            commission = _decimal(cells.get("commission"), loose=False, name="commission")
            if volume is None and fee is None and commission is None:
                raise _LineError("no_amounts")
            currency = _currency(cells.get("currency"))
            rate = _rate(currency, _decimal(cells.get("rate_to_usdt"), loose=False,
                                            name="rate_to_usdt", rate=True))
            key = source_key(exchange, uid, day, product, currency)
            if key in seen:
                raise _LineError("duplicate_row", f"same as line {seen[key]}")
            row = _checked(make_row(exchange, uid, day, product, volume=volume, fee=fee,
                                    commission=commission, currency=currency, rate_to_usdt=rate))
            seen[key] = line
            result.rows.append(row)
        except _LineError as exc:
            result.errors.append(CsvRowError(line, exc.reason, exc.detail))
    if not result.rows and not result.errors:
        result.errors.append(CsvRowError(1, "empty_file"))
    return result


def _pick(header: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map our field names to the file's header names, first alias found wins."""
    found: dict[str, str] = {}
    for name, options in aliases.items():
        for option in options:
            if option in header and option not in found.values():
                found[name] = option
                break
    return found


def _parse_export(text: str, fmt: str, exchange: str, today: date) -> CsvImportResult:
    if exchange not in EXCHANGES:
        raise ValueError(f"unknown exchange {exchange!r}")
    result = CsvImportResult(fmt)
    try:
        header, lines = _reader(text)
    except _LineError as exc:
        result.errors.append(CsvRowError(1, exc.reason, exc.detail))
        return result
    if not header:
        result.errors.append(CsvRowError(1, "empty_file"))
        return result
    columns = _pick(header, _EXPORTS[fmt])
    missing = [c for c in _REQUIRED_EXPORT if c not in columns]
    if missing:
        result.errors.append(CsvRowError(1, "missing_columns", ",".join(missing)))
        return result

    # (uid, day, product, currency) -> [volume, fee, commission, commission_usdt] and whether
    # each was ever reported (None stays None: an export without fees reports no fee).
    sums: dict[tuple[str, date, str, str], list[Decimal | None]] = {}
    first_lines: dict[tuple[str, date, str, str], int] = {}  # where each sum's lines start

    def add(slot: list[Decimal | None], index: int, value: Decimal | None, name: str) -> None:
        if value is not None:
            total = (slot[index] or Decimal(0)) + value
            if total >= _AMOUNT_LIMIT:
                raise _LineError("number_too_large", f"{name} (sum)={total}")
            slot[index] = total

    for line, cells in lines:
        if isinstance(cells, _LineError):
            result.errors.append(CsvRowError(line, cells.reason, cells.detail))
            continue

        def cell(name: str, cells: dict[str, str] = cells) -> str:
            return cells.get(columns[name], "") if name in columns else ""

        try:
            try:
                uid = validate_uid(exchange, cell("uid"))
            except ValueError as exc:
                raise _LineError("bad_uid", str(exc)) from exc
            day = _day(cell("date"), loose=True, today=today)
            product = normalise_product(cell("product"))
            currency = _currency(cell("currency"))
            commission = _decimal(cell("commission"), loose=True, name="commission")
            commission_usdt = _decimal(cell("commission_usdt"), loose=True,
                                       name="commission_usdt")
            volume = _decimal(cell("volume"), loose=True, name="volume")
            fee = _decimal(cell("fee"), loose=True, name="fee")
            if commission is None and volume is None:
                raise _LineError("no_amounts")
            if currency not in USD_STABLES and commission is not None and commission_usdt is None:
                raise _LineError("missing_rate", currency)
            key = (uid, day, product, currency)
            slot = sums.setdefault(key, [None] * 4)
            first_lines.setdefault(key, line)
            add(slot, 0, volume, "volume")
            add(slot, 1, fee, "fee")
            add(slot, 2, commission, "commission")
            add(slot, 3, commission_usdt, "commission_usdt")
        except _LineError as exc:
            result.errors.append(CsvRowError(line, exc.reason, exc.detail))
    for key, (volume, fee, commission, commission_usdt) in sorted(sums.items()):
        uid, day, product, currency = key
        try:
            if currency in USD_STABLES:
                row = make_row(exchange, uid, day, product, volume=volume, fee=fee,
                               commission=commission, currency=currency)
            else:
                # Commission in a coin: the export states each line's USDT value, so the day's
                # average rate follows. Volume and fee columns are taken to be USDT
                # (assumption), so they only fill the *_usdt fields.
                rate = commission_usdt / commission if commission and commission_usdt else None
                row = make_row(exchange, uid, day, product, volume=None, fee=None,
                               commission=commission, currency=currency, rate_to_usdt=rate)
                row = replace(row, volume_usdt=volume, fee_usdt=fee)
            result.rows.append(_checked(row))
        except _LineError as exc:
            result.errors.append(CsvRowError(first_lines[key], exc.reason, exc.detail))
    result.errors.sort(key=lambda error: error.line)
    if not result.rows and not result.errors:
        result.errors.append(CsvRowError(1, "empty_file"))
    return result


# --- Across a process boundary (services.sync.csv_imports parses in a worker process). ---------
# A CommissionRow's fields in declaration order, so CommissionRow(*values) rebuilds it.
_ROW_VALUES = operator.attrgetter(*(f.name for f in fields(CommissionRow)))


@dataclass(frozen=True, slots=True)
class PackedCsvImport:
    """A CsvImportResult as pickled batches of plain tuples. Unpickling a whole result of a
    large file in one go would hold the interpreter for seconds (a slotted dataclass unpickles
    slowly) and keep every row alive at once; a batch at a time does neither. A file with errors
    carries no row batches: the caller imports nothing from it."""

    fmt: str
    rows: int  # good rows in the file
    errors: int  # bad lines
    row_batches: list[bytes]
    error_batches: list[bytes]


def _packed(items: Sequence[tuple[object, ...]], size: int) -> list[bytes]:
    return [pickle.dumps(items[start:start + size], protocol=pickle.HIGHEST_PROTOCOL)
            for start in range(0, len(items), size)]


def parse_csv_packed(
    text: str, *, fmt: CsvFormat = "generic", exchange: str | None = None,
    today: date | None = None, batch_rows: int = 1000,
) -> PackedCsvImport:
    """`parse_csv`, packed in batches of `batch_rows` rows (and errors)."""
    result = parse_csv(text, fmt=fmt, exchange=exchange, today=today)
    rows = [] if result.errors else [_ROW_VALUES(row) for row in result.rows]
    errors = [(error.line, error.reason, error.detail) for error in result.errors]
    return PackedCsvImport(result.fmt, len(result.rows), len(result.errors),
                           _packed(rows, batch_rows), _packed(errors, batch_rows))


def unpack_rows(batch: bytes) -> Iterator[CommissionRow]:
    """One batch of `PackedCsvImport.row_batches` (pickled by this module: trusted), each row
    built as it is asked for: a row consumed at once never outlives its step, so rows never
    pile up in the collector's old generation (whose full passes stop every thread)."""
    for values in pickle.loads(batch):
        yield CommissionRow(*values)


def unpack_errors(batch: bytes) -> list[CsvRowError]:
    """One batch of `PackedCsvImport.error_batches` (pickled by this module: trusted)."""
    return [CsvRowError(*values) for values in pickle.loads(batch)]


def exit_with_parent() -> None:
    """A worker process's initializer: exit once the process that started it is gone. The
    worker of a killed web process (SIGKILL, out of memory) would otherwise wait for work
    forever - it holds its own queue's write end too, so it never reads an end of file."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
