"""The books check (services/rebates/audit.py): the ledger against the records it was booked
from — unbooked records, commission stored vs booked, receivable vs accruals — and the worker's
ledger check alerting on it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tortoise import Tortoise

from bot.worker import BOOKING_GRACE, check_ledger
from services.ledger import AccountRef, Ledger, Leg
from services.models import Notification
from services.rebates import RebateEngine
from services.rebates.audit import check_books
from tests.ledger.helpers import D, make_trader, put_record, scalar

DAY = date(2026, 3, 2)
LATER = datetime.now(UTC) + timedelta(hours=1)  # past every record's grace period


def books_of(report, exchange_id):  # type: ignore[no-untyped-def]
    return next(b for b in report.exchanges if b.exchange_id == exchange_id)


async def test_unbooked_records_are_counted_and_booking_clears_them(db: str) -> None:
    _, uid = await make_trader("okx")
    _, other = await make_trader("okx")
    _, pending = await make_trader("okx", verified=False)
    await put_record("okx", uid, DAY, commission=D("10"))
    await put_record("okx", other, DAY, commission=D("2.5"))
    await put_record("okx", pending, DAY, commission=D("7"))  # not ours to book yet
    await put_record("okx", uid, DAY + timedelta(days=1), commission=None, volume=D("900"))

    report = await check_books(now=LATER)
    okx = books_of(report, "okx")
    assert (okx.unbooked, okx.waiting) == (2, 1)
    assert not report.ok and "2 records not booked" in report.describe()
    # Within the grace period a fresh record is not yet "unbooked".
    assert books_of(await check_books(now=datetime.now(UTC)), "okx").unbooked == 0

    await RebateEngine().accrue_all()
    report = await check_books(now=LATER)
    okx = books_of(report, "okx")
    assert report.ok, report.describe()
    assert okx.stored_final == okx.booked_final == okx.received == D("12.5")
    # A revision not booked yet is unbooked again; booking books the difference.
    await put_record("okx", uid, DAY, commission=D("9"))
    assert books_of(await check_books(now=LATER), "okx").unbooked == 1
    await RebateEngine().accrue_all()
    okx = books_of(await check_books(now=LATER), "okx")
    assert okx.unbooked == 0 and okx.received == D("11.5") == okx.stored_final


async def test_a_wrong_booking_and_a_stray_receivable_entry_are_seen(db: str) -> None:
    _, uid = await make_trader("bitget")
    record = await put_record("bitget", uid, DAY, commission=D("4"))
    await RebateEngine().accrue_all()
    assert (await check_books(now=LATER)).ok
    # An accrual row that no longer says what the record said (edited behind our back).
    fix = "UPDATE rebate_accruals SET gross = $2, service_amount = $3 WHERE record_id = $1"
    await scalar(fix, record.id, D(5), D("2.6"))
    bitget = books_of(await check_books(now=LATER), "bitget")
    assert "final commission stored 4" in "; ".join(bitget.problems)
    assert any("receivable 4" in p for p in bitget.problems)  # accruals now say 5
    await scalar(fix, record.id, D(4), D("1.6"))
    # An accrual entry with no record behind it credits the receivable.
    await Ledger().post_entry("accrual:stray", "accrual", [
        Leg(AccountRef.receivable("bitget"), D("-1")), Leg(AccountRef.service_revenue(), D("1")),
    ])
    bitget = books_of(await check_books(now=LATER), "bitget")
    assert bitget.problems == ["receivable 5.00000000 ≠ accruals 4.00000000"]


async def test_the_ledger_check_alerts_on_unbooked_records(db: str, services, settings) -> None:  # type: ignore[no-untyped-def]
    _, uid = await make_trader("okx")
    record = await put_record("okx", uid, DAY, commission=D("3"))
    old = datetime.now(UTC) - BOOKING_GRACE - timedelta(minutes=1)
    await scalar("UPDATE commission_records SET updated_at = $2 WHERE id = $1", record.id, old)
    result = await check_ledger({"services": services, "settings": settings})
    assert result.startswith("FAILED") and "okx: 1 records not booked" in result
    alert = await Notification.get(text_key="admin.ledger_alert")
    assert "okx: 1 records not booked" in alert.params["failing"]


async def test_a_report_without_the_commission_never_erases_it(db: str) -> None:
    """Bybit's volume-only fallback after a read with commissionsVol: the known commission stays
    (else the day would be re-estimated from its volume beside its coin rows: counted twice)."""
    from exchanges.base import make_row
    from services.commission_store import upsert_rows
    from services.models import CommissionRecord, RecordOrigin

    client = Tortoise.get_connection("default")
    real = make_row("bybit", "123456789", DAY, "all", volume=D("1000"), fee=None,
                    commission=D("0.4"))
    fallback = make_row("bybit", "123456789", DAY, "all", volume=D("1000"), fee=None,
                        commission=None)
    async with client.acquire_connection() as conn, conn.transaction():
        await upsert_rows([real], RecordOrigin.API, connection=conn)
    async with client.acquire_connection() as conn, conn.transaction():
        counts = await upsert_rows([fallback], RecordOrigin.API, connection=conn)
    assert counts.changed == 0
    record = await CommissionRecord.get(source_key=real.source_key)
    assert (record.commission_usdt, record.revision) == (D("0.4"), 1)
    louder = make_row("bybit", "123456789", DAY, "all", volume=D("1500"), fee=None,
                      commission=None)
    async with client.acquire_connection() as conn, conn.transaction():
        assert (await upsert_rows([louder], RecordOrigin.API, connection=conn)).changed == 1
    record = await CommissionRecord.get(source_key=real.source_key)
    assert (record.volume, record.commission_usdt, record.revision) == (D("1500"), D("0.4"), 2)


async def test_a_commission_without_its_usdt_value_is_a_problem(db: str) -> None:
    _, uid = await make_trader("bybit")
    record = await put_record("bybit", uid, DAY, commission=D("0.001"), product="all")
    await scalar("UPDATE commission_records SET currency = 'BTC', rate_to_usdt = NULL, "
                 "commission_usdt = NULL WHERE id = $1", record.id)
    bybit = books_of(await check_books(now=LATER), "bybit")
    assert (bybit.unpriced, bybit.waiting) == (1, 0)
    assert "1 records without a USDT rate" in bybit.problems
