"""Seed 000's business and sync alerts, as conditions over the database at a moment. Each rule
returns what fires now (subject → the params of its message); services/alerts.py turns that
into "started" and "resolved" messages. The payout, ledger and audit rules live with their
checks (bot/payout_jobs.py, bot/worker.py, bot/audit_jobs.py) and report the same way.

Where the seed leaves a reading open, the one taken:
- sync failed > 1 h: an exchange synced through its API, with credentials, enabled, whose last
  run failed and whose last good sync is more than an hour ago (or never happened).
- activation < 25 % over 7 days: of the traders who signed up in the last 7 days, the share
  with a verified exchange account; only once at least MIN_SIGNUPS signed up (3 of 5 is noise).
- revenue down > 30 % week on week: our share of the commission (the accruals' service amount)
  over the 7 UTC days ending two days ago, against the 7 before; two days back because
  exchanges report a day late, so yesterday is rarely complete.
- an exchange API key expiring within 7 days: a key stored in the admin screens with an expiry
  date (services/credential_store.py) at most KEY_WARNING_DAYS days away, one alert per
  exchange (``key_expiry``); on its expiry day it counts as expired (``key_expired``, told
  too). Replacing or removing the key resolves both. Keys from the environment have no date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from tortoise import Tortoise

from services.alerts import Params
from services.formatting import money
from services.sync import ExchangeStatus, SyncService

SYNC_FAILED_AFTER = timedelta(hours=1)
ACTIVATION_FLOOR = Decimal("0.25")
MIN_SIGNUPS = 20
REVENUE_DROP = Decimal("0.30")
KEY_WARNING_DAYS = 7


async def sync_failed(sync: SyncService, now: datetime) -> dict[str, Params]:
    firing: dict[str, Params] = {}
    for status in await sync.statuses():
        if status.data_source != "api" or status.status not in (ExchangeStatus.LAG,
                                                                 ExchangeStatus.ERROR):
            continue
        last = status.last_success_at
        if status.last_error and (last is None or now - last > SYNC_FAILED_AFTER):
            firing[status.exchange_id] = {
                "name": status.name, "error": status.last_error[:200],
                "since": f"{last:%Y-%m-%d %H:%M} UTC" if last else "—"}
    return firing


async def activation_low(now: datetime) -> dict[str, Params]:
    [row] = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS signups, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM "
        "exchange_accounts a WHERE a.user_id = u.id AND a.status = 'verified')) AS active "
        "FROM users u WHERE u.role = 'trader' AND u.created_at > $1",
        [now - timedelta(days=7)])
    signups, active = row["signups"], row["active"]
    if signups < MIN_SIGNUPS or Decimal(active) / signups >= ACTIVATION_FLOOR:
        return {}
    return {"": {"percent": f"{Decimal(active) * 100 / signups:.1f}", "active": active,
                 "signups": signups}}


async def revenue_drop(now: datetime) -> dict[str, Params]:
    end = now.date() - timedelta(days=2)
    [row] = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT coalesce(sum(service_amount) FILTER (WHERE day > $1), 0) AS week, "
        " coalesce(sum(service_amount) FILTER (WHERE day <= $1), 0) AS previous "
        "FROM rebate_accruals WHERE day > $2 AND day <= $3",
        [end - timedelta(days=7), end - timedelta(days=14), end])
    week, previous = Decimal(row["week"]), Decimal(row["previous"])
    if previous <= 0 or (previous - week) / previous <= REVENUE_DROP:
        return {}
    return {"": {"percent": f"{(previous - week) * 100 / previous:.1f}",
                 "week": money(week), "previous": money(previous),
                 "until": end.isoformat()}}


async def _stored_keys_expiring_by(day: date) -> list[dict[str, object]]:
    return await Tortoise.get_connection("default").execute_query_dict(
        "SELECT c.exchange_id, c.hint, c.expires_on, e.name FROM exchange_credentials c "
        "JOIN exchanges e ON e.id = c.exchange_id WHERE c.revoked_at IS NULL "
        "AND c.expires_on <= $1 ORDER BY c.exchange_id", [day])


async def key_expiry(now: datetime) -> dict[str, Params]:
    """Stored keys that expire within KEY_WARNING_DAYS days (or have expired)."""
    rows = await _stored_keys_expiring_by(now.date() + timedelta(days=KEY_WARNING_DAYS))
    return {str(r["exchange_id"]): {"name": r["name"], "hint": r["hint"],
                                    "day": str(r["expires_on"])} for r in rows}


async def key_expired(now: datetime) -> dict[str, Params]:
    """Stored keys whose expiry day has come."""
    rows = await _stored_keys_expiring_by(now.date())
    return {str(r["exchange_id"]): {"name": r["name"], "hint": r["hint"],
                                    "day": str(r["expires_on"])} for r in rows}
