"""Commission data from CSV files: our generic format and exchange portal exports.

Generic format (`fmt="generic"`), one row per invitee, UTC day and product, header required,
column order free, UTF-8 (a BOM is fine), comma separated:

    exchange,uid,date,product,volume,fee,commission,currency,rate_to_usdt
    okx,123456789012345678,2026-11-20,spot,1500.5,1.5005,0.6002,USDT,1

* exchange - registry id (okx, binance, ...); uid - digits in that exchange's UID format
* date - YYYY-MM-DD (UTC); product - spot | futures | margin | ... (lower-case word)
* volume, fee, commission - plain decimals (dot, no thousands separators); empty = not reported;
  at least one must be present; negative values are refused
* currency - the coin of volume/fee/commission (default USDT)
* rate_to_usdt - USDT per 1 unit of currency; may be empty for USDT/USDC/USD/FDUSD (= 1),
  required for any other coin
A (exchange, uid, date, product, currency) may appear only once.

Exchange exports (`fmt="binance"`, `fmt="bitmart"`) hold one line per commission event; lines
are summed per uid, UTC day, product and coin. THEIR COLUMN NAMES ARE ASSUMPTIONS: no export
sample was available, so each column accepts several plausible header spellings (see
`_BINANCE` / `_BITMART`); check against a real file and extend the aliases before relying on it.

The result lists every good row and every bad line (1-based line number, reason code). The
caller must import nothing when `errors` is not empty. Source keys equal the API adapters' for
the same (exchange, uid, day, product[, coin]), so a CSV overlapping API data never counts twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from exchanges.base import USD_STABLES, CommissionRow, make_row, source_key, validate_uid
from exchanges.registry import EXCHANGES

CsvFormat = Literal["generic", "binance", "bitmart"]

GENERIC_COLUMNS = (
    "exchange", "uid", "date", "product", "volume", "fee", "commission", "currency",
    "rate_to_usdt",
)


@dataclass(frozen=True, slots=True)
class CsvRowError:
    line: int  # 1-based line in the file (1 = header)
    reason: str  # missing_columns, bad_exchange, exchange_mismatch, bad_uid, bad_date,
    # bad_product, bad_number, negative_number, no_amounts, bad_currency, missing_rate,
    # duplicate_row, empty_file
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
    return word.replace(" ", "_")


def _decimal(text: str | None, *, loose: bool) -> Decimal | None:
    raw = (text or "").strip()
    if loose:  # exports may carry thousands separators or a trailing coin
        raw = raw.replace(",", "").split(" ")[0]
    if raw in ("", "-", "--"):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise _LineError("bad_number", raw) from exc
    if not value.is_finite():
        raise _LineError("bad_number", raw)
    if value < 0:
        raise _LineError("negative_number", raw)
    return value


def _day(text: str, *, loose: bool) -> date:
    raw = text.strip()
    try:
        if not loose:
            return date.fromisoformat(raw)
        if raw.isdigit() and len(raw) >= 12:  # epoch milliseconds
            return datetime.fromtimestamp(int(raw) / 1000, tz=UTC).date()
        return date.fromisoformat(raw.replace("/", "-")[:10])
    except (ValueError, OverflowError) as exc:
        raise _LineError("bad_date", raw) from exc


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


def _reader(text: str) -> tuple[list[str], Iterable[tuple[int, dict[str, str]]]]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [" ".join(h.strip().lower().split()) for h in next(reader)]
    except StopIteration:
        return [], []

    def lines() -> Iterable[tuple[int, dict[str, str]]]:
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines carry nothing
            yield reader.line_num, dict(zip(header, values, strict=False))

    return header, lines()


def parse_csv(text: str, *, fmt: CsvFormat = "generic", exchange: str | None = None) -> (
    CsvImportResult
):
    """Parse a CSV file's text. `exchange` is required for exports, optional for generic
    (then every row must name that exchange)."""
    if fmt == "generic":
        return _parse_generic(text, exchange)
    if exchange is None:
        raise ValueError("exchange is required for exchange exports")
    return _parse_export(text, fmt, exchange)


def _parse_generic(text: str, expected: str | None) -> CsvImportResult:
    header, lines = _reader(text)
    result = CsvImportResult("generic")
    if not header:
        result.errors.append(CsvRowError(1, "empty_file"))
        return result
    missing = [c for c in GENERIC_COLUMNS[:4] if c not in header]
    if missing:
        result.errors.append(CsvRowError(1, "missing_columns", ",".join(missing)))
        return result
    seen: dict[str, int] = {}
    for line, cells in lines:
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
            day = _day(cells.get("date", ""), loose=False)
            product = normalise_product(cells.get("product", ""))
            volume = _decimal(cells.get("volume"), loose=False)
            fee = _decimal(cells.get("fee"), loose=False)
            commission = _decimal(cells.get("commission"), loose=False)
            if volume is None and fee is None and commission is None:
                raise _LineError("no_amounts")
            currency = _currency(cells.get("currency"))
            rate = _rate(currency, _decimal(cells.get("rate_to_usdt"), loose=False))
            key = source_key(exchange, uid, day, product, currency)
            if key in seen:
                raise _LineError("duplicate_row", f"same as line {seen[key]}")
            seen[key] = line
            result.rows.append(
                make_row(exchange, uid, day, product, volume=volume, fee=fee,
                         commission=commission, currency=currency, rate_to_usdt=rate)
            )
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


def _parse_export(text: str, fmt: str, exchange: str) -> CsvImportResult:
    if exchange not in EXCHANGES:
        raise ValueError(f"unknown exchange {exchange!r}")
    header, lines = _reader(text)
    result = CsvImportResult(fmt)
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

    def add(slot: list[Decimal | None], index: int, value: Decimal | None) -> None:
        if value is not None:
            slot[index] = (slot[index] or Decimal(0)) + value

    for line, cells in lines:

        def cell(name: str, cells: dict[str, str] = cells) -> str:
            return cells.get(columns[name], "") if name in columns else ""

        try:
            try:
                uid = validate_uid(exchange, cell("uid"))
            except ValueError as exc:
                raise _LineError("bad_uid", str(exc)) from exc
            day = _day(cell("date"), loose=True)
            product = normalise_product(cell("product"))
            currency = _currency(cell("currency"))
            commission = _decimal(cell("commission"), loose=True)
            commission_usdt = _decimal(cell("commission_usdt"), loose=True)
            volume = _decimal(cell("volume"), loose=True)
            fee = _decimal(cell("fee"), loose=True)
            if commission is None and volume is None:
                raise _LineError("no_amounts")
            if currency not in USD_STABLES and commission is not None and commission_usdt is None:
                raise _LineError("missing_rate", currency)
            slot = sums.setdefault((uid, day, product, currency), [None] * 4)
            add(slot, 0, volume)
            add(slot, 1, fee)
            add(slot, 2, commission)
            add(slot, 3, commission_usdt)
        except _LineError as exc:
            result.errors.append(CsvRowError(line, exc.reason, exc.detail))
    for (uid, day, product, currency), (volume, fee, commission, commission_usdt) in sorted(
        sums.items()
    ):
        if currency in USD_STABLES:
            row = make_row(exchange, uid, day, product, volume=volume, fee=fee,
                           commission=commission, currency=currency)
        else:
            # Commission in a coin: the export states each line's USDT value, so the day's
            # average rate follows. Volume and fee columns are taken to be USDT (assumption),
            # so they only fill the *_usdt fields.
            rate = commission_usdt / commission if commission and commission_usdt else None
            row = make_row(exchange, uid, day, product, volume=None, fee=None,
                           commission=commission, currency=currency, rate_to_usdt=rate)
            row = replace(row, volume_usdt=volume, fee_usdt=fee)
        result.rows.append(row)
    if not result.rows and not result.errors:
        result.errors.append(CsvRowError(1, "empty_file"))
    return result
