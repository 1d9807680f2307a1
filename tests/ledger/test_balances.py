"""What the trader sees equals an independent recomputation from the raw commission records."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from services.balances import BalanceService
from services.ledger import Ledger
from services.models import EstimateBasis
from services.rebates import RateService, RebateEngine
from tests.ledger.helpers import make_trader, put_record

D = Decimal
EIGHT = D("0.00000001")


async def test_totals_equal_an_independent_recomputation(db: str) -> None:
    rng = random.Random(42)
    user_id, binance_uid = await make_trader("binance")
    account = await make_trader("bybit")
    bybit_uid = account[1]
    from services.models import ExchangeAccount
    await ExchangeAccount.filter(uid=bybit_uid).update(user_id=user_id)
    await RateService().set_estimate_rate("bybit", EstimateBasis.FEE, D("0.25"),
                                          valid_from=date(2025, 1, 1))
    start = date(2025, 5, 1)
    for n in range(40):
        day = start + timedelta(days=n % 20)
        volume = D(rng.randrange(1000, 10**7)) / 100
        fee = (volume * D("0.0005")).quantize(EIGHT)
        if n % 2:
            await put_record("binance", binance_uid, day, commission=(fee * D("0.4")).quantize(
                EIGHT), volume=volume, fee=fee, product=f"p{n // 20}")
        else:
            await put_record("bybit", bybit_uid, day, commission=None, volume=volume, fee=fee,
                             product=f"p{n // 20}")
    # One bybit settlement arrives for a day: a true-up of an estimate.
    await put_record("bybit", bybit_uid, start, commission=D("1.23456789"), volume=D(1), fee=D(1),
                     product="p0")
    await RebateEngine().accrue_all(batch_size=7)
    ledger = Ledger()
    hold = await ledger.hold("wd-balances", user_id, D("0.5"))
    await ledger.post_hold(hold.hold_id, fee=D("0.1"))

    # Independent: straight from commission_records with the documented rules.
    from services.models import CommissionRecord
    expected: dict[tuple[date, str], list[Decimal]] = defaultdict(lambda: [D(0)] * 4)
    estimated: set[tuple[date, str]] = set()
    for record in await CommissionRecord.all():
        gross = record.commission_usdt
        if gross is None:
            estimated.add((record.day, record.exchange_id))
            gross = (record.fee_usdt * D("0.25")).quantize(EIGHT, rounding=ROUND_DOWN)
        rebate = (gross * D("0.6")).quantize(EIGHT, rounding=ROUND_DOWN)
        line = expected[(record.day, record.exchange_id)]
        for i, value in enumerate((record.volume_usdt, record.fee_usdt, gross, rebate)):
            line[i] += value
    total_rebate = sum((line[3] for line in expected.values()), D(0))

    balances = BalanceService()
    summary = await balances.summary(user_id)
    assert summary.total_earned == total_rebate
    assert summary.paid_out == D("0.5")
    assert summary.held == 0
    assert summary.available == total_rebate - D("0.5")
    assert {e.exchange_id for e in summary.per_exchange} == {"binance", "bybit"}
    assert sum((e.earned for e in summary.per_exchange), D(0)) == summary.total_earned

    lines = []
    page = 1
    while True:
        history = await balances.history(user_id, page=page, page_size=7)
        lines.extend(history.lines)
        if page >= history.pages:
            break
        page += 1
    assert len(lines) == len(expected) == history.totals.lines
    for line in lines:
        volume, fee, gross, rebate = expected[(line.day, line.exchange_id)]
        assert (line.volume, line.fee, line.gross, line.rebate) == (volume, fee, gross, rebate)
        assert line.share_percent == D("60.00")
        assert line.estimated == ((line.day, line.exchange_id) in estimated)
    assert history.totals.rebate == sum((line.rebate for line in lines), D(0)) == total_rebate
    assert history.totals.gross == sum((line.gross for line in lines), D(0))
    assert (start, "bybit") in estimated  # the true-up left p1 of that day estimated
    assert [line.day for line in lines] == sorted((line.day for line in lines), reverse=True)


async def test_empty_trader(db: str) -> None:
    user_id, _ = await make_trader()
    summary = await BalanceService().summary(user_id)
    assert (summary.available, summary.total_earned, summary.per_exchange) == (0, 0, ())
    history = await BalanceService().history(user_id)
    assert (history.lines, history.totals.lines, history.pages) == ((), 0, 1)
