"""Bybit accruals estimated from volume (before the adapter read commissionsVol, or on a day the
response had none) are trued up when the real commission arrives: the same record gets a new
revision and only the difference is booked."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from services.events import EventService
from services.ledger import AccountRef, Ledger
from services.models import AccountStatus, CommissionRecord, EstimateBasis, ExchangeAccount, User
from services.models.rates import RebateAccrual
from services.notifications import NotificationService
from services.rebates import RateService, RebateEngine
from services.rebates.audit import check_books
from services.sync import SyncService
from tests.sync.test_sync import Sim, sources_for

_ids = itertools.count(880_000)
RATE = Decimal("0.00016")
SHARE = Decimal("0.6")


def cut(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00000001"), rounding=ROUND_DOWN)


async def test_estimated_bybit_accruals_are_trued_up(db: str, sim: Sim) -> None:
    from sandbox.exchanges.venues.bybit import paid_usdt, payouts

    dataset = sim.dataset
    uid = next(a.uid for a in dataset.activity["bybit"])
    user_id = next(_ids)
    await User.create(id=user_id, first_name="T")
    await ExchangeAccount.create(user_id=user_id, exchange_id="bybit", uid=uid,
                                 status=AccountStatus.VERIFIED)
    await RateService().set_estimate_rate("bybit", EstimateBasis.VOLUME, RATE,
                                          valid_from=date(2020, 1, 1))
    sync = SyncService(sources_for(sim), NotificationService(), EventService(),
                       first_lookback=timedelta(days=dataset.days + 1))
    trader = AccountRef.trader_available(user_id)

    # 1. The response carries no commissionsVol: volume-only rows, estimated.
    dataset.no_commission_field["bybit"] = {uid}
    assert (await sync.run("bybit")).status == "ok"
    await RebateEngine().accrue_all()
    volume: dict[date, Decimal] = {}
    for a in dataset.activity["bybit"]:
        if a.uid == uid:
            volume[a.day] = volume.get(a.day, Decimal(0)) + a.volume
    estimated = sum((cut(cut(v * RATE) * SHARE) for v in volume.values()), Decimal(0))
    assert await Ledger().balance(trader) == estimated
    assert {a.estimated for a in await RebateAccrual.filter(user_id=user_id)} == {True}

    # 2. The real commission arrives (the deep re-read reads the whole range again).
    dataset.no_commission_field["bybit"] = set()
    outcome = await sync.run("bybit", "deep")
    assert outcome.records_changed == len(volume)  # each estimated day gets a new revision
    await RebateEngine().accrue_all()
    paid = payouts(dataset, dataset.first_day, dataset.end_day)
    expected = Decimal(0)
    for (who, day), amounts in paid.items():
        if who != uid:
            continue
        # One record per coin paid, each valued at its day's close and cut to 8 decimals on
        # its own (the record's USDT value), then the trader's share of that, cut again.
        for coin, amount in amounts.items():
            expected += cut(cut(paid_usdt({coin: amount}, day)) * SHARE)
    assert await Ledger().balance(trader) == expected
    accruals = await RebateAccrual.filter(user_id=user_id)
    assert {a.estimated for a in accruals} == {False}
    usdt_rows = await CommissionRecord.filter(exchange_id="bybit", uid=uid, currency="USDT")
    assert {r.revision for r in usdt_rows} == {2}
    report = await check_books(now=datetime.now(UTC) + timedelta(hours=1))
    assert report.ok, report.describe()
