"""The Exchanges screen's service (issue 14) on real PostgreSQL: each refusal, each change with
its audit row (before/after, never a secret), the share through RateService with its history,
and stored credentials over the environment's, used by the next sync without a restart (real
ccxt against the exchange simulator)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer
from tortoise import Tortoise

from bot.app import build_credentials, build_source_factory
from bot.settings import load_settings
from sandbox.exchanges import Dataset, Faults, create_app
from services.credentials import ApiSecret
from services.events import EventService
from services.exchange_admin import (
    Changes,
    ExchangeAdmin,
    ExchangeAdminError,
    ExchangeRefusal,
    check_link,
    share_from_percent,
)
from services.exchange_catalog import ExchangeCatalog
from services.models import AuditEntry, Exchange, SyncState, User
from services.notifications import NotificationService
from services.rebates import RateService
from services.rebates.rate_views import exchange_shares
from services.sync import SyncService
from tests.clock import today

ADMIN, OPS = 950, 951
SIM_KEY = "sim-key-0123456789-Q7X"
SECRET = ApiSecret(SIM_KEY, "sim-secret", "sim-pass")


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[Dataset, str]]:
    dataset = Dataset.build(["okx"], traders=3, days=3, seed=3, end_day=today() - timedelta(1))
    dataset.api_key = SIM_KEY
    server = TestServer(create_app(dataset, Faults()), host="127.0.0.1", port=0)
    await server.start_server()
    yield dataset, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def staff(db: str) -> None:
    await User.create(id=ADMIN, first_name="Admin", role="admin")
    await User.create(id=OPS, first_name="Ops", role="ops")


def _admin(env: dict[str, str] | None = None) -> tuple[ExchangeAdmin, SyncService]:
    settings = load_settings(env or {})
    book = build_credentials(settings, b"service-test-master-key")
    sync = SyncService(build_source_factory(settings, book), NotificationService(),
                       EventService(), credentials=book, first_lookback=timedelta(days=2))
    return ExchangeAdmin(ExchangeCatalog(), sync, RateService(), book), sync


async def _refusal(call: object) -> tuple[ExchangeRefusal, str | None]:
    with pytest.raises(ExchangeAdminError) as raised:
        await call  # type: ignore[misc]
    return raised.value.refusal, raised.value.field


def test_link_templates() -> None:
    assert check_link(" https://www.okx.com/join/X?sub={sub} ") == (
        "https://www.okx.com/join/X?sub={sub}")
    for bad in ("http://www.okx.com/join/X", "https://www.okx.com/join/{code}",
                "https://www.okx.com/{sub", "https:///nohost", "javascript:alert(1)",
                "https://user@evil.example/", "https://okx.com/a b", "",
                "https://okx.com/" + "x" * 600):
        with pytest.raises(ExchangeAdminError):
            check_link(bad)
    assert share_from_percent("62.5") == Decimal("0.625")
    for bad in ("101", "-1", "60.125", "sixty", "NaN", "Infinity"):
        with pytest.raises(ExchangeAdminError):
            share_from_percent(bad)


async def test_each_refusal_and_nothing_changes(staff: None) -> None:
    admin, _ = _admin()
    before = await Exchange.get(id="okx")
    cases = [
        (admin.update(OPS, "okx", Changes(enabled=False)), ExchangeRefusal.NOT_ALLOWED, None),
        (admin.update(ADMIN, "nasdaq", Changes(enabled=False)),
         ExchangeRefusal.UNKNOWN_EXCHANGE, None),
        (admin.update(ADMIN, "okx", Changes(link_template="http://okx.com/")),
         ExchangeRefusal.BAD_LINK, "link_template"),
        (admin.update(ADMIN, "okx", Changes(sync_interval_minutes=4)),
         ExchangeRefusal.BAD_INTERVAL, "sync_interval_minutes"),
        (admin.update(ADMIN, "okx", Changes(sync_interval_minutes=1441)),
         ExchangeRefusal.BAD_INTERVAL, "sync_interval_minutes"),
        (admin.update(ADMIN, "okx", Changes(enabled=True)), ExchangeRefusal.UNCHANGED, None),
        (admin.set_share(ADMIN, "okx", "70", today() - timedelta(days=1)),
         ExchangeRefusal.BAD_DATE, "valid_from"),
        (admin.set_share(ADMIN, "okx", "70", today() + timedelta(days=400)),
         ExchangeRefusal.BAD_DATE, "valid_from"),
        (admin.set_share(ADMIN, "okx", "100.5", None), ExchangeRefusal.BAD_SHARE,
         "share_percent"),
        (admin.set_share(OPS, "okx", "70", None), ExchangeRefusal.NOT_ALLOWED, None),
        (admin.set_credentials(ADMIN, "okx", SECRET, today()), ExchangeRefusal.BAD_DATE,
         "expires_on"),
        (admin.set_credentials(ADMIN, "okx", ApiSecret("short", "x"), None),
         ExchangeRefusal.BAD_KEY, "api_key"),
        (admin.set_credentials(OPS, "okx", SECRET, None), ExchangeRefusal.NOT_ALLOWED, None),
        (admin.remove_credentials(ADMIN, "okx"), ExchangeRefusal.NO_CREDENTIALS, None),
        (admin.rotate(OPS), ExchangeRefusal.NOT_ALLOWED, None),
    ]
    for call, refusal, field in cases:
        assert await _refusal(call) == (refusal, field)
    after = await Exchange.get(id="okx")
    assert (after.enabled, after.link_template, after.sync_interval_minutes,
            after.trader_share) == (before.enabled, before.link_template,
                                    before.sync_interval_minutes, before.trader_share)
    refused = [a.action for a in await AuditEntry.filter(actor_id=OPS).order_by("id")]
    assert refused == ["exchange.update_refused", "rate.exchange_share_refused",
                       "exchange.credentials_refused", "exchange.credentials_rotate_refused"]
    assert not await AuditEntry.filter(actor_id=ADMIN).exists()
    assert not await Tortoise.get_connection("default").execute_query_dict(
        "SELECT 1 FROM exchange_credentials", [])


async def test_changes_are_made_and_audited_with_before_and_after(staff: None) -> None:
    admin, _ = _admin()
    await SyncState.create(exchange_id="okx", next_due_at=datetime.now(UTC) + timedelta(hours=3))
    card = await admin.update(ADMIN, "okx", Changes(
        enabled=False, link_template="https://www.okx.com/join/NEW?sub={sub}",
        sync_interval_minutes=30))
    assert (card.enabled, card.link_template, card.sync_interval_minutes) == (
        False, "https://www.okx.com/join/NEW?sub={sub}", 30)
    state = await SyncState.get(exchange_id="okx")
    assert state.next_due_at is not None
    assert state.next_due_at <= datetime.now(UTC) + timedelta(minutes=31)  # shorter: now
    [entry] = await AuditEntry.filter(action="exchange.update")
    assert (entry.actor_id, entry.object_id) == (ADMIN, "okx")
    assert entry.before == {"enabled": True, "sync_interval_minutes": 240,
                            "link_template": "https://www.okx.com/join/CRYPTOREBATE"}
    assert entry.after == {"enabled": False, "sync_interval_minutes": 30,
                           "link_template": "https://www.okx.com/join/NEW?sub={sub}"}
    # The share: from a later day, kept as history; today's share unchanged until then.
    later = today() + timedelta(days=3)
    card = await admin.set_share(ADMIN, "okx", "65", later)
    assert card.share == Decimal("0.6") and card.share_upcoming == ((later, Decimal("0.65")),)
    card = await admin.set_share(ADMIN, "okx", "62.5", None)
    assert card.share == Decimal("0.625") and card.share_since == today()
    line = next(s for s in await exchange_shares(today()) if s.exchange_id == "okx")
    assert line.upcoming == ((later, Decimal("0.65")),)
    shares = [(a.before, a.after) for a in await AuditEntry.filter(
        action="rate.exchange_share").order_by("id")]
    assert shares == [
        ({"share": "0.6000"}, {"share": "0.6500", "valid_from": later.isoformat()}),
        ({"share": "0.6000"}, {"share": "0.6250", "valid_from": today().isoformat()})]


async def test_credentials_are_audited_by_hint_and_expiry_never_by_secret(
    staff: None, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin, _ = _admin({"EXCHANGE_OKX_API_KEY": "env-key-0000"})
    expiry = today() + timedelta(days=30)
    card = await admin.set_credentials(ADMIN, "okx", SECRET, expiry)
    assert card.credential_source == "db" and card.credential is not None
    assert (card.credential.hint, card.credential.expires_on, card.credential.set_by) == (
        "-Q7X", expiry, ADMIN)
    card = await admin.set_credentials(ADMIN, "okx", ApiSecret("second-key-ABCD",
                                                               "second-secret"), None)
    assert card.credential is not None and card.credential.hint == "ABCD"
    card = await admin.remove_credentials(ADMIN, "okx")
    assert (card.credential, card.credential_source) == (None, "env")
    assert await admin.rotate(ADMIN) == (0, 0)
    trail = [(a.action, a.before, a.after) for a in await AuditEntry.filter(
        object_type="exchange").order_by("id")]
    assert trail == [
        ("exchange.credentials", {"source": "env"},
         {"source": "db", "hint": "-Q7X", "expires_on": expiry.isoformat()}),
        ("exchange.credentials", {"source": "db", "hint": "-Q7X",
                                  "expires_on": expiry.isoformat()},
         {"source": "db", "hint": "ABCD", "expires_on": None}),
        ("exchange.credentials_removed", {"source": "db", "hint": "ABCD", "expires_on": None},
         {"source": "env"}),
        ("exchange.credentials_rotate", None, {"rotated": 0, "unreadable": 0}),
    ]
    everything = str(await Tortoise.get_connection("default").execute_query_dict(
        "SELECT * FROM audit_log", []))
    for secret in (SIM_KEY, "sim-secret", "sim-pass", "second-key-ABCD", "second-secret"):
        assert secret not in everything and secret not in caplog.text


async def test_a_stored_key_wins_over_the_environment_and_applies_without_a_restart(
    staff: None, simulator: tuple[Dataset, str],
) -> None:
    _, url = simulator
    admin, sync = _admin({"EXCHANGE_OKX_API_URL": f"{url}/okx",
                          "EXCHANGE_OKX_API_KEY": "env-key-that-is-wrong",
                          "EXCHANGE_OKX_API_SECRET": "sim-secret",
                          "EXCHANGE_OKX_API_PASSWORD": "sim-pass"})
    first = await sync.run("okx", "manual")
    assert (first.status, first.error_class) == ("failed", "auth")  # the environment's key
    await admin.set_credentials(ADMIN, "okx", SECRET, None)
    second = await sync.run("okx", "manual")  # the same service: no restart
    assert second.status == "ok" and second.records_seen > 0, second
    await admin.remove_credentials(ADMIN, "okx")
    third = await sync.run("okx", "manual")
    assert (third.status, third.error_class) == ("failed", "auth")  # back to the environment
    runs = await admin.history("okx")
    assert [run.status for run in runs] == ["failed", "ok", "failed"]  # newest first
    assert runs[0].error_class == "auth" and runs[1].seen == second.records_seen


async def test_a_key_set_for_an_exchange_without_one_makes_it_configured(
    staff: None, simulator: tuple[Dataset, str],
) -> None:
    _, url = simulator
    admin, sync = _admin({"EXCHANGE_OKX_API_URL": f"{url}/okx"})
    assert "okx" not in await sync.due()
    assert (await admin.card("okx")).sync.status == "not_configured"
    await admin.set_credentials(ADMIN, "okx", SECRET, today() + timedelta(days=90))
    assert "okx" in await sync.due()
    card = await admin.card("okx")
    assert card.sync.status == "error" and card.credential_source == "db"  # never synced yet


async def test_two_admins_replacing_a_key_at_once_leave_one_current(staff: None) -> None:
    await User.create(id=ADMIN + 10, first_name="Second", role="admin")
    admin, _ = _admin()
    keys = [ApiSecret(f"concurrent-key-{n:04d}", "its-secret") for n in range(2)]
    await asyncio.gather(admin.set_credentials(ADMIN, "okx", keys[0], None),
                         admin.set_credentials(ADMIN + 10, "okx", keys[1], None))
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT hint FROM exchange_credentials WHERE revoked_at IS NULL", [])
    assert len(rows) == 1 and rows[0]["hint"] in ("0000", "0001")
    assert await AuditEntry.filter(action="exchange.credentials").count() == 2
