"""The product dashboard (seed 000 §2) for the admin screens: new traders, activation, D30
retention and exchanges per trader against the period before, the activation funnel, weekly
cohorts' retention, feature use, platforms, signup sources and the time to a first trade.

Readings where the seed leaves one open (each said once, here):
- A trader is a user with the role ``trader`` (operators are not the product's users).
- Activation: of the traders who signed up in the period, the share with a first trade (a
  rebate accrual on any exchange) by now. The funnel's steps are the same cohort's: signed up
  → opened a tracked link (``link_opened``) → linked a UID (any account, verified or not) →
  traded.
- Active on or after day N (the cohort table's D1/D7/D30, and the KPI's D30): the trader did
  something N days or more after signing up — a bot or Mini App event of their own, or a
  trading day with an accrual (a rebate service's trader who only trades is still retained).
  A cohort not yet N days old shows no figure rather than a low one.
- Feature use: of the traders active in the period (an event of their own), the share who
  opened each bot screen (``screen_viewed``). Platforms: those traders by where they acted
  (one trader may use both).
- D30 retention (the KPI): of the traders who signed up in the ``days`` days ending 30 days
  before the period's end, the share active 30 days or more after signing up, by its end.
- Time to first trade: for the traders whose first trade (the earliest first trade seen on
  any of their accounts) was in the period, from signup to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from services.stats import Compared, Share, histogram, percent

COHORT_WEEKS = 4
RETENTION_DAYS = (1, 7, 30)
# (label, upper bound in hours) of the time-to-first-trade histogram; the last is open.
FIRST_TRADE_BUCKETS = (("lt_1h", 1), ("1h_24h", 24), ("1d_3d", 72), ("3d_7d", 168),
                       ("gt_7d", None))
_TENTH = Decimal("0.1")

# $1 start, $2 end (exclusive), both timestamps: the cohort of the traders who signed up.
_COHORT = """
WITH cohort AS (
    SELECT id FROM users WHERE role = 'trader' AND created_at >= $1 AND created_at < $2
)
SELECT count(*) AS signups,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM events e WHERE e.user_id = c.id
                                      AND e.name = 'link_opened')) AS opened_link,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM exchange_accounts a
                                      WHERE a.user_id = c.id)) AS linked,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM rebate_accruals r
                                      WHERE r.user_id = c.id)) AS traded
FROM cohort c
"""
# Signed up in [$1, $2) and active $3 days or more after signing up, by $4.
_RETAINED = """
SELECT count(*) AS cohort,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM events e WHERE e.user_id = u.id AND e.platform <> 'system'
           AND e.created_at >= u.created_at + make_interval(days => $3) AND e.created_at < $4)
         OR EXISTS (
           SELECT 1 FROM rebate_accruals r WHERE r.user_id = u.id
           AND r.day >= (u.created_at + make_interval(days => $3))::date
           AND r.day < $4::date)) AS retained
FROM users u WHERE u.role = 'trader' AND u.created_at >= $1 AND u.created_at < $2
"""
_EXCHANGES_PER_TRADER = """
SELECT count(*) AS accounts, count(DISTINCT a.user_id) AS traders
FROM exchange_accounts a JOIN users u ON u.id = a.user_id
WHERE u.role = 'trader' AND a.status = 'verified' AND a.verified_at < $1
"""
# The traders active in [$1, $2): per platform, and per bot screen opened.
_ACTIVE = """
SELECT e.platform, count(DISTINCT e.user_id) AS traders
FROM events e JOIN users u ON u.id = e.user_id
WHERE u.role = 'trader' AND e.platform <> 'system' AND e.created_at >= $1 AND e.created_at < $2
GROUP BY ROLLUP (e.platform)
"""
_SCREENS = """
SELECT e.properties->>'screen' AS screen, count(DISTINCT e.user_id) AS traders
FROM events e JOIN users u ON u.id = e.user_id
WHERE u.role = 'trader' AND e.name = 'screen_viewed' AND e.created_at >= $1
  AND e.created_at < $2
GROUP BY 1 ORDER BY 2 DESC, 1
"""
_SOURCES = """
SELECT signup_source AS source, count(*) AS traders FROM users
WHERE role = 'trader' AND created_at >= $1 AND created_at < $2
GROUP BY 1 ORDER BY 2 DESC, 1
"""
_FIRST_TRADES = """
SELECT extract(epoch FROM f.first_at - u.created_at) / 3600 AS hours
FROM (SELECT user_id, min(first_trade_at) AS first_at FROM exchange_accounts
      WHERE first_trade_at IS NOT NULL GROUP BY user_id) f
JOIN users u ON u.id = f.user_id
WHERE u.role = 'trader' AND f.first_at >= $1 AND f.first_at < $2
"""


@dataclass(frozen=True)
class FunnelStep:
    key: str  # signup | opened_link | linked | traded
    count: int
    conversion: Decimal | None  # percent of the signups; None for the signups themselves


@dataclass(frozen=True)
class Cohort:
    week_start: date  # a Monday
    signups: int
    retention: tuple[Decimal | None, ...]  # per RETENTION_DAYS; None: not that old yet


@dataclass(frozen=True)
class ProductSnapshot:
    start: date
    end: date
    new_traders: Compared
    activation: Compared  # percent
    retention_d30: Compared  # percent
    exchanges_per_trader: Compared  # verified accounts per trader with one, to 0.1
    funnel: tuple[FunnelStep, ...]
    cohorts: tuple[Cohort, ...]  # oldest first
    features: tuple[Share, ...]  # percent of the period's active traders
    platforms: tuple[Share, ...]  # percent of the period's active traders
    sources: tuple[Share, ...]  # percent of the period's new traders
    first_trade: tuple[Share, ...]  # FIRST_TRADE_BUCKETS, percent of the period's first trades
    active_traders: int


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class ProductStats:
    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    async def snapshot(self, today: date, days: int = 30) -> ProductSnapshot:
        """The ``days`` UTC days ending ``today``, against the ``days`` before them."""
        conn = Tortoise.get_connection(self._connection_name)
        start = today - timedelta(days=days - 1)
        before = start - timedelta(days=days)
        t_start, t_end, t_before = _midnight(start), _midnight(today + timedelta(days=1)), \
            _midnight(before)
        [now] = await conn.execute_query_dict(_COHORT, [t_start, t_end])
        [then] = await conn.execute_query_dict(_COHORT, [t_before, t_start])
        retention = [await self._retained(conn, t_end - timedelta(days=days + 30),
                                          t_end - timedelta(days=30), 30, t_end),
                     await self._retained(conn, t_start - timedelta(days=days + 30),
                                          t_start - timedelta(days=30), 30, t_start)]
        per_trader = [await conn.execute_query_dict(_EXCHANGES_PER_TRADER, [moment])
                      for moment in (t_end, t_start)]
        active = {row["platform"]: row["traders"]
                  for row in await conn.execute_query_dict(_ACTIVE, [t_start, t_end])}
        active_total = active.pop(None, 0)
        screens = await conn.execute_query_dict(_SCREENS, [t_start, t_end])
        sources = await conn.execute_query_dict(_SOURCES, [t_start, t_end])
        hours = [Decimal(row["hours"]) for row in
                 await conn.execute_query_dict(_FIRST_TRADES, [t_start, t_end])]
        return ProductSnapshot(
            start=start, end=today,
            new_traders=Compared(Decimal(now["signups"]), Decimal(then["signups"])),
            activation=Compared(percent(now["traded"], now["signups"]),
                                percent(then["traded"], then["signups"])),
            retention_d30=Compared(*(percent(retained, cohort)
                                     for cohort, retained in retention)),
            exchanges_per_trader=Compared(*(_per_trader(rows[0]) for rows in per_trader)),
            funnel=_funnel(now),
            cohorts=await self._cohorts(conn, today),
            features=tuple(Share(str(row["screen"]), row["traders"],
                                 percent(row["traders"], active_total)) for row in screens),
            platforms=tuple(Share(str(platform), count, percent(count, active_total))
                            for platform, count in sorted(active.items(),
                                                          key=lambda kv: -kv[1])),
            sources=tuple(Share(str(row["source"]), row["traders"],
                                percent(row["traders"], now["signups"])) for row in sources),
            first_trade=histogram(hours, FIRST_TRADE_BUCKETS),
            active_traders=active_total,
        )

    @staticmethod
    async def _retained(conn: BaseDBAsyncClient, since: datetime, until: datetime,
                        after_days: int, by: datetime) -> tuple[int, int]:
        [row] = await conn.execute_query_dict(_RETAINED, [since, until, after_days, by])
        return row["cohort"], row["retained"]

    async def _cohorts(self, conn: BaseDBAsyncClient, today: date) -> tuple[Cohort, ...]:
        """The last COHORT_WEEKS whole ISO weeks before this one, oldest first."""
        this_monday = today - timedelta(days=today.weekday())
        end = _midnight(today + timedelta(days=1))
        cohorts = []
        for weeks_back in range(COHORT_WEEKS, 0, -1):
            monday = this_monday - timedelta(weeks=weeks_back)
            since, until = _midnight(monday), _midnight(monday + timedelta(days=7))
            figures: list[Decimal | None] = []
            signups = 0
            for after in RETENTION_DAYS:
                signups, retained = await self._retained(conn, since, until, after, end)
                # The cohort's last signup must have had ``after`` whole days to come back.
                grown = until + timedelta(days=after) <= end
                figures.append(percent(retained, signups) if grown and signups else None)
            cohorts.append(Cohort(monday, signups, tuple(figures)))
        return tuple(cohorts)


def _per_trader(row: dict[str, int]) -> Decimal:
    if not row["traders"]:
        return Decimal(0)
    return (Decimal(row["accounts"]) / row["traders"]).quantize(_TENTH)


def _funnel(row: dict[str, int]) -> tuple[FunnelStep, ...]:
    """Each step as a share of the signups (not of the step before: a trader may link an
    account they already had without opening our link, so the steps are not nested)."""
    steps = [FunnelStep("signup", row["signups"], None)]
    for key in ("opened_link", "linked", "traded"):
        steps.append(FunnelStep(key, row[key], percent(row[key], row["signups"])))
    return tuple(steps)
