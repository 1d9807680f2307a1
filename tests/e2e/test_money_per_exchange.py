"""Money end to end, per exchange (issue 9, "What must hold afterwards"): the simulator's data
set → a real sync through real ccxt → commission records → the rebate engine → the ledger, the
trader's balance and History lines, the books check. Every number is compared with a sum
computed here from the simulator's raw data set, never with another number of the product.

Exchanges covered: every one with an affiliate API adapter that reports our commission, that is
one of the product's exchanges (seeded into the exchanges table) and that the simulator speaks.
Left out:
* HTX: its adapter has no commission endpoint (`capabilities.commission` is False;
  `fetch_commissions` raises PermanentError) - its commission arrives as a CSV export.
* Gate: it has an adapter and a venue, but it is not one of the product's exchanges
  (`in_product=False` in exchanges/registry.py), so services/seed.py does not seed it and
  `SyncService.run("gate")` is skipped as "disabled or unknown".
* Binance, BitMart: CSV only, no API adapter.

Each data set spans more than one of the adapter's paging windows as the sync asks them (from
the run's window start: watermark-less, now - first_lookback - the exchange's re-read days), and
one trader is active on every product on each window's first and last day and the days around
them (the approach of tests/exchanges/test_window_boundaries.py), so a boundary day read twice
or dropped shows in the sums.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import pytest
from aiohttp.test_utils import TestServer

from exchanges.adapters import bingx, bitget, blofin, kucoin, mexc, weex
from exchanges.adapters.ccxt_base import windows
from exchanges.base import AffiliateSource, Capabilities
from exchanges.registry import (
    EXCHANGES,
    PRODUCT_EXCHANGES,
    api_exchanges,
    build_source,
    capabilities,
)
from sandbox.exchanges import SIMULATED_EXCHANGES, Dataset, Faults, create_app
from sandbox.exchanges.dataset import products
from sandbox.exchanges.venues import bybit as bybit_venue
from services.balances import BalanceService
from services.events import EventService
from services.ledger import AccountRef, Ledger
from services.models import AccountStatus, CommissionRecord, Exchange, ExchangeAccount, User
from services.notifications import NotificationService
from services.rebates import RebateEngine
from services.rebates.audit import check_books
from services.seed import exchange_seeds
from services.sync import SyncService

EIGHT_DP = Decimal("0.00000001")
ZERO = Decimal(0)
BOUNDARY_VOLUME = Decimal("1234.56789012")

# Days per request the adapter asks (OKX and Bybit ask one day per request).
WINDOW_DAYS = {
    "bingx": bingx.WINDOW_DAYS,
    "bitget": bitget.WINDOW_DAYS,
    "blofin": blofin.WINDOW_DAYS,
    "bybit": 1,
    "kucoin": kucoin.WINDOW_DAYS,
    "mexc": mexc.WINDOW_DAYS,
    "okx": 1,
    "weex": weex.WINDOW_DAYS,
}
COVERED = sorted(WINDOW_DAYS)
# Days of data: more than one window (BloFin's windows are 90 days), few enough to stay fast.
DATA_DAYS = {"blofin": 93}
DEFAULT_DATA_DAYS = 35
TRADERS = 5
# How an 8-dp record column keeps a longer USDT value (a Bybit coin amount × its daily close):
# A converted coin row keeps amount × close cut toward zero to 8 decimals (the store cuts it,
# services.commission_store.ledger_usdt: the column alone would round half up, and the record
# would say more than the exchange paid). The ledger then books exactly what is stored (its own
# splits cut toward zero too, services.ledger.money.round_money).
RECORD_ROUNDING = ROUND_DOWN

_user_ids = itertools.count(810_000_000)


# --- the independent expectation -----------------------------------------------------------


def cut(value: Decimal) -> Decimal:
    """Toward zero to 8 dp: the trader's part of a commission (computed here on purpose)."""
    return value.quantize(EIGHT_DP, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Expected:
    """One commission record as the exchange's raw data says it must be stored."""

    uid: str
    day: date
    product: str
    currency: str
    volume: Decimal | None  # in USDT; None where the exchange reports none on this row
    fee: Decimal | None
    commission: Decimal  # in `currency`
    rate: Decimal  # to USDT
    commission_usdt: Decimal  # what the 8-dp record holds
    exact_usdt: Decimal  # commission × rate, unrounded

    @property
    def key(self) -> tuple[str, date, str, str]:
        return (self.uid, self.day, self.product, self.currency)


def expected_records(exchange: str, dataset: Dataset, caps: Capabilities) -> list[Expected]:
    if exchange == "bybit":
        return expected_bybit_records(dataset)
    out = []
    for (uid, day, product), total in dataset.totals(exchange).items():
        out.append(Expected(
            uid, day, product, "USDT",
            volume=total.volume if caps.volume else None,
            fee=total.fee if caps.fee else None,
            commission=total.commission, rate=Decimal(1),
            commission_usdt=total.commission, exact_usdt=total.commission,
        ))
    return out


def expected_bybit_records(dataset: Dataset) -> list[Expected]:
    """Bybit pays each invitee's day in up to five coins (the venue's documented `payouts`);
    each non-zero coin is its own record, valued at the venue's `daily_close`. Volume (both
    products together, Bybit's tradeVol) goes on the USDT row only; Bybit reports no fee."""
    volume: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    truth: dict[tuple[str, date], Decimal] = defaultdict(Decimal)  # the data set's USDT
    for a in dataset.activity["bybit"]:
        volume[(a.uid, a.day)] += a.volume
        truth[(a.uid, a.day)] += a.commission
    out = []
    payouts = bybit_venue.payouts(dataset, dataset.first_day, dataset.end_day)
    assert set(payouts) == set(volume)
    for (uid, day), amounts in sorted(payouts.items()):
        rows = []
        for coin, amount in sorted(amounts.items()):
            if coin != "USDT" and not amount:
                continue
            close = bybit_venue.daily_close(coin, day)
            exact = amount * close
            # A coin amount (8 dp) times a close (2-4 dp) has up to 12 dp; the record keeps 8.
            stored = exact.quantize(EIGHT_DP, rounding=RECORD_ROUNDING)
            rows.append(Expected(
                uid, day, "all", coin,
                volume=volume[(uid, day)] if coin == "USDT" else None, fee=None,
                commission=amount, rate=close, commission_usdt=stored, exact_usdt=exact,
            ))
        out += rows
        # The venue's own statement of the day's value, and how close it is to the USDT truth.
        paid = bybit_venue.paid_usdt(amounts, day)
        assert sum((r.exact_usdt for r in rows), ZERO) == paid
        assert abs(paid - truth[(uid, day)]) <= EIGHT_DP / 2
    return out


def total(values: list[Decimal | None]) -> Decimal | None:
    """SQL's sum: None when every value is None."""
    present = [v for v in values if v is not None]
    return sum(present, ZERO) if present else None


# --- the simulator and the sync --------------------------------------------------------------


@dataclass
class World:
    exchange: str
    now: datetime
    start: datetime  # the sync run's window start
    dataset: Dataset
    sync: SyncService
    boundary_days: list[date]


@pytest.fixture
async def world(request: pytest.FixtureRequest, db: str) -> AsyncIterator[World]:
    exchange: str = request.param
    now = datetime.now(UTC)
    yesterday = now.date() - timedelta(days=1)
    days = DATA_DAYS.get(exchange, DEFAULT_DATA_DAYS)
    dataset = Dataset.build([exchange], traders=TRADERS, days=days, seed=19, end_day=yesterday)
    server = TestServer(create_app(dataset, Faults()), host="127.0.0.1", port=0)
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")

    async def no_sleep(seconds: float) -> None:
        return None

    def source(exchange_id: str) -> AffiliateSource:
        # The sync closes each source it gets at the end of its run.
        return build_source(
            exchange_id, api_url=f"{url}/{exchange_id}", api_key=dataset.api_key,
            api_secret="sim-secret", api_password="sim-pass", timeout=5.0, rate_limit=False,
            retry_attempts=1, sleep=no_sleep,
        )

    # first_lookback alone covers the whole data set; the re-read days come on top of it.
    sync = SyncService(source, NotificationService(), EventService(),
                       first_lookback=timedelta(days=days), clock=lambda: now)
    start = now - timedelta(days=days) - sync.reread_window(exchange)
    boundary_days = add_boundary_activity(exchange, dataset, start, now)
    try:
        yield World(exchange, now, start, dataset, sync, boundary_days)
    finally:
        await server.close()


def add_boundary_activity(
    exchange: str, dataset: Dataset, start: datetime, end: datetime
) -> list[date]:
    """The first trader trades every product on each window's first and last day and the days
    either side, within the data set (a second line where the random draw gave one already).
    Returns those days."""
    spans = list(windows(start, end, WINDOW_DAYS[exchange]))
    # The data must reach into more than one of the windows the sync asks.
    touched = [(a, b) for a, b in spans if b >= dataset.first_day and a <= dataset.end_day]
    assert len(touched) >= 2, (exchange, spans)
    edges: set[date] = set()
    for first, last in spans:
        edges |= {first - timedelta(1), first, last, last + timedelta(1)}
    inside = sorted(d for d in edges if dataset.first_day <= d <= dataset.end_day)
    uid = dataset.traders[exchange][0].uid
    for day in inside:
        for product in products(exchange):
            dataset.add_activity(exchange, uid, day, product, BOUNDARY_VOLUME)
    # A day where two windows meet lies inside the data, with activity on both of its sides.
    meeting = [last for (_, last), (first, _) in itertools.pairwise(spans)
               if dataset.first_day <= last and first <= dataset.end_day]
    assert meeting, (exchange, spans)
    return inside


async def link_traders(exchange: str, dataset: Dataset) -> tuple[dict[str, int], str, str]:
    """Users for the simulator's traders: the first one's UID still pending (the sync verifies
    it), the last one with activity never linked (an invitee who is not our user), the others
    verified. Returns ({uid: user_id} of the linked ones, the pending UID, the unlinked UID)."""
    traders = dataset.traders[exchange]
    active = {a.uid for a in dataset.activity[exchange]}
    pending = traders[0].uid
    unlinked = [t.uid for t in traders[1:] if t.uid in active][-1]
    linked: dict[str, int] = {}
    for trader in traders:
        if trader.uid == unlinked:
            continue
        user = await User.create(id=next(_user_ids), first_name="Trader")
        status = AccountStatus.PENDING if trader.uid == pending else AccountStatus.VERIFIED
        await ExchangeAccount.create(user_id=user.id, exchange_id=exchange, uid=trader.uid,
                                     status=status)
        linked[trader.uid] = user.id
    return linked, pending, unlinked


# --- the tests -------------------------------------------------------------------------------


def test_the_covered_exchanges_are_every_seeded_api_exchange_that_reports_commission() -> None:
    seeded = {seed.id for seed in exchange_seeds()}
    reporting = [ex for ex in api_exchanges()
                 if (caps := capabilities(ex)) is not None and caps.commission]
    covered = sorted(ex for ex in reporting if ex in seeded and ex in SIMULATED_EXCHANGES)
    assert covered == COVERED
    # The two left out, for the reasons in the module docstring.
    htx = capabilities("htx")
    assert htx is not None and not htx.commission
    assert "gate" in reporting and "gate" not in seeded and "gate" not in PRODUCT_EXCHANGES


@pytest.mark.parametrize("world", COVERED, indirect=True)
async def test_money_from_exchange_to_trader(world: World) -> None:
    exchange, dataset = world.exchange, world.dataset
    caps = capabilities(exchange)
    assert caps is not None and caps.commission
    share = EXCHANGES[exchange].trader_share
    seeded = await Exchange.get(id=exchange)
    assert seeded.enabled and Decimal(seeded.trader_share) == share

    linked, pending, unlinked = await link_traders(exchange, dataset)
    expected = expected_records(exchange, dataset, caps)
    assert {pending, unlinked} <= {e.uid for e in expected}
    mine = [e for e in expected if e.uid in linked]
    # The invitee who is not our user has commission: their records are stored (step 2) but
    # never booked, which the receivable (step 4) shows.
    assert unlinked not in linked
    assert sum((e.commission_usdt for e in expected if e.uid == unlinked), ZERO) > 0

    # 1. The sync: one run over the whole data set.
    outcome = await world.sync.run(exchange)
    assert outcome.status == "ok", outcome.error
    assert outcome.window_start == world.start
    assert outcome.records_new == outcome.records_seen == len(expected)
    assert outcome.records_changed == 0
    assert outcome.verified_uids == (pending,)
    assert (await ExchangeAccount.get(exchange_id=exchange, uid=pending)).status \
        == AccountStatus.VERIFIED

    # 2. The stored records: one per uid/day/product[/coin], each with the raw data's numbers.
    records = await CommissionRecord.filter(exchange_id=exchange)
    stored = {(r.uid, r.day, r.product, r.currency): r for r in records}
    assert len(stored) == len(records) == len(expected)
    want = {e.key: e for e in expected}
    assert set(stored) == set(want)
    counts: dict[tuple[str, date, str], int] = defaultdict(int)
    for e in expected:
        counts[(e.uid, e.day, e.product)] += 1
    got_counts: dict[tuple[str, date, str], int] = defaultdict(int)
    for r in records:
        got_counts[(r.uid, r.day, r.product)] += 1
    assert got_counts == counts
    for key, e in want.items():
        r = stored[key]
        assert r.revision == 1, key
        assert (r.volume_usdt, r.fee_usdt) == (e.volume, e.fee), key
        assert r.commission == e.commission and r.rate_to_usdt == e.rate, key
        assert r.commission_usdt == e.commission_usdt, key
        assert abs(r.commission_usdt - e.exact_usdt) < EIGHT_DP, key
    assert sum((r.volume_usdt or ZERO for r in records), ZERO) \
        == sum((e.volume or ZERO for e in expected), ZERO)
    assert sum((r.commission_usdt for r in records), ZERO) \
        == sum((e.commission_usdt for e in expected), ZERO)
    if exchange != "bybit":  # the data set's own totals, independently of the records
        truth = dataset.grand_totals(exchange)
        assert sum((r.commission_usdt for r in records), ZERO) == truth.commission
        if caps.volume:
            assert sum((r.volume_usdt or ZERO for r in records), ZERO) == truth.volume
        if caps.fee:
            assert sum((r.fee_usdt or ZERO for r in records), ZERO) == truth.fee
    # The boundary trader's boundary days all came back, once each (the count check above).
    boundary_uid = dataset.traders[exchange][0].uid
    assert {d for (u, d, _, _) in stored if u == boundary_uid} >= set(world.boundary_days)

    # 3. The rebate engine books every record of a linked trader, nothing of the other one.
    accrued = await RebateEngine().accrue_all()
    assert (accrued.booked, accrued.waiting) == (len(mine), 0)
    assert accrued.shortfall == 0

    # 4. The ledger: commission received from the exchange; the service's part.
    ledger = Ledger()
    gross = sum((e.commission_usdt for e in mine), ZERO)
    traders_part = sum((cut(e.commission_usdt * share) for e in mine), ZERO)
    # The receivable is the exchange's debt to us: accruals post −gross to it.
    assert -await ledger.balance(AccountRef.receivable(exchange)) == gross
    assert await ledger.balance(AccountRef.service_revenue()) == gross - traders_part

    # 5. Each trader: available balance, and the History lines of the bot's History screen.
    balances = BalanceService()
    for uid, user_id in linked.items():
        theirs = [e for e in mine if e.uid == uid]
        rebate = sum((cut(e.commission_usdt * share) for e in theirs), ZERO)
        assert await ledger.balance(AccountRef.trader_available(user_id)) == rebate, uid
        summary = await balances.summary(user_id)
        assert (summary.available, summary.held, summary.total_earned) == (rebate, ZERO, rebate)

        by_day: dict[date, list[Expected]] = defaultdict(list)
        for e in theirs:
            by_day[e.day].append(e)
        page = await balances.history(user_id, page=1, page_size=500)
        assert page.totals.lines == len(page.lines) == len(by_day), uid
        assert [line.day for line in page.lines] == sorted(by_day, reverse=True)
        for line in page.lines:
            day_rows = by_day[line.day]
            assert line.exchange_id == exchange and not line.estimated
            assert line.volume == total([e.volume for e in day_rows]), (uid, line.day)
            assert line.fee == total([e.fee for e in day_rows]), (uid, line.day)
            assert line.gross == sum((e.commission_usdt for e in day_rows), ZERO), (uid, line.day)
            assert line.rebate == sum((cut(e.commission_usdt * share) for e in day_rows), ZERO)
            assert line.share_percent == (share * 100).quantize(Decimal("0.01"))
        assert page.totals.gross == sum((e.commission_usdt for e in theirs), ZERO)
        assert page.totals.rebate == rebate

    # 6. The books check and the ledger's invariants.
    report = await check_books(now=datetime.now(UTC) + timedelta(hours=1))
    assert report.ok, report.describe()
    [books] = [b for b in report.exchanges if b.exchange_id == exchange]
    assert (books.unbooked, books.waiting) == (0, 0)
    assert books.received == books.stored_final == books.booked_final == gross
    invariants = await ledger.check_invariants()
    assert invariants.ok, invariants.violations
