"""Crash test (issue 12): the real worker (``python -m bot worker``) pays withdrawals to the
exchange simulator (OKX and Bitget, on chain and by internal transfer) and is killed with
SIGKILL again and again — at random moments and while a payout is being submitted, the window
between our claim and the exchange's answer — then restarted.

After the last restart the worker must finish on its own, and then: every request is
completed; the simulator holds exactly one withdrawal per request, under its client id, for its
net amount, to its address or UID; each trader's balance equals an independent recomputation
(earned − requested, to 1e-8); nothing is left held; payouts in transit and fees grew by the
sums of the nets and the fees; each hold was posted once; the ledger invariants pass.

CRASH_TEST_SEED picks the amounts and the kill schedule (default 12).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from tortoise import Tortoise

from sandbox.exchanges import Dataset, Faults, create_app
from sandbox.exchanges.wallet import Wallets
from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import PayoutMethod, Role, User, Withdrawal, WithdrawalStatus
from services.payouts.approvals import ApprovalService
from services.payouts.config import PayoutConfig
from services.payouts.requests import Destination, WithdrawalService
from services.rebates.booking import RebateEngine
from tests.conftest import TEST_REDIS_URL
from tests.e2e.processes import spawn_bot, stop_process
from tests.e2e.test_crash_sync_booking import delete_arq_keys
from tests.ledger.helpers import put_record
from tests.payouts.helpers import EVM, TRON

SEED = int(os.environ.get("CRASH_TEST_SEED", "12"))
TRADERS = 36
LIVES = 10
ANSWER_DELAY = 0.6  # the simulator records a withdrawal, then answers this much later
# A SUBMITTING row left by a kill is reconciled after the engine's 60 s; one the exchange never
# got is sent again after its 30 s grace: the last life needs about two minutes at most.
RESUME_BOUND = 150.0
SHARE = Decimal("0.6")
EIGHT_DP = Decimal("0.00000001")
USER_BASE = 7_500_000


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[str, Wallets, Faults]]:
    end_day = datetime.now(UTC).date() - timedelta(days=1)
    dataset = Dataset.build(["okx", "bitget"], traders=1, days=1, seed=SEED, end_day=end_day)
    faults = Faults()
    for exchange_id in ("okx", "bitget"):
        faults.set(exchange_id, withdraw_drop_answer=10**6, slow_seconds=ANSWER_DELAY)
    wallets = Wallets(faults, auto_advance_seconds=1.0)
    server = TestServer(create_app(dataset, faults, wallets), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), wallets, faults
    finally:
        await server.close()


async def fund_traders(rng: random.Random) -> dict[int, Decimal]:
    """Traders with commission booked by the real engine; returns what each earned, computed
    here independently (commission × share, rounded down to 8 dp, as the engine documents)."""
    earned: dict[int, Decimal] = {}
    day = datetime.now(UTC).date() - timedelta(days=3)
    for n in range(TRADERS):
        user_id = USER_BASE + n
        exchange_id = "okx" if n % 2 else "bitget"
        uid = str(60_000_000 + n)
        await User.create(id=user_id, first_name=f"T{n}")
        await Tortoise.get_connection("default").execute_query(
            "INSERT INTO exchange_accounts (user_id, exchange_id, uid, status, created_at, "
            "verified_at) VALUES ($1, $2, $3, 'verified', now() - interval '30 days', now())",
            [user_id, exchange_id, uid])
        commission = Decimal(rng.randrange(200_00000000, 2_000_00000000)) / 10**8
        await put_record(exchange_id, uid, day, commission=commission)
        earned[user_id] = (commission * SHARE).quantize(EIGHT_DP, ROUND_DOWN)
    await RebateEngine().accrue_all()
    return earned


async def place_requests(rng: random.Random, earned: dict[int, Decimal]) -> dict[int, Decimal]:
    """One request per trader: on chain (TRC20 from OKX, BEP20 from Bitget) or internal, some
    above the approval threshold (approved by finance before the worker starts)."""
    service = WithdrawalService(Ledger(), PayoutConfig(),
                                internal_exchanges=frozenset({"okx", "bitget"}))
    finance = USER_BASE + 999
    await User.create(id=finance, first_name="finance", role=Role.FINANCE)
    approvals = ApprovalService(Ledger(), PayoutConfig())
    requested: dict[int, Decimal] = {}
    for n, user_id in enumerate(sorted(earned)):
        kind = n % 3
        if kind == 2:
            exchange_id = "okx" if n % 2 else "bitget"
            where = Destination(PayoutMethod.INTERNAL, exchange_id=exchange_id)
        else:
            network_id, text = (("USDT-TRC20", TRON) if kind == 0 else ("USDT-BEP20", EVM))
            saved = await service.add_address(user_id, network_id, text)
            await Tortoise.get_connection("default").execute_query(
                "UPDATE payout_addresses SET usable_from = now() - interval '1 minute' "
                "WHERE id = $1", [saved.id])
            where = Destination(PayoutMethod.ONCHAIN, network_id=network_id,
                                address_id=saved.id)
        top = min(earned[user_id], Decimal(900))
        amount = Decimal(rng.randrange(60, int(top))) + Decimal(rng.randrange(0, 10**6)) / 10**6
        made = await service.create(user_id, where, amount)
        if made.status is WithdrawalStatus.AWAITING_APPROVAL:
            decision = await approvals.approve(made.id, finance, made.revision)
            assert decision.code == "approved", decision
        requested[user_id] = amount
    return requested


async def completing(url: str) -> bool:
    """A payout the exchange finished that we have not: the hold is about to be posted."""
    done = {item["client_id"] for item in await simulated(url) if item["state"] == "completed"}
    open_ids = await Withdrawal.filter(status__in=[
        WithdrawalStatus.SUBMITTED, WithdrawalStatus.SENT, WithdrawalStatus.UNKNOWN,
    ]).values_list("client_id", flat=True)
    return bool(done.intersection(open_ids))


async def kill_schedule(rng: random.Random, env: dict[str, str], log_file: Path,
                        url: str) -> list[str]:
    """Each life is killed at a random moment, as soon as a payout is being submitted (before
    the exchange call or after the exchange recorded it: the simulator answers late), or when
    the exchange finished a payout that we have not yet (before the hold is posted)."""
    lines = []
    for life in range(1, LIVES + 1):
        target = rng.choice(["random", "submitting", "submitting", "completing"])
        with log_file.open("a") as log:  # noqa: ASYNC230 (a line between two lives)
            log.write(f"\n===== life {life}: kill at {target} =====\n")
        started = time.monotonic()
        born = await db_now()
        process = await spawn_bot(["worker"], env, log_file)
        seen = "-"
        try:
            if target == "random":  # the worker takes a few seconds to start
                await asyncio.sleep(rng.uniform(3.0, 12.0))
            else:
                while time.monotonic() - started < 30:
                    if process.returncode is not None:
                        tail = log_file.read_text()[-4000:]  # noqa: ASYNC240 (failing, once)
                        raise AssertionError(f"the worker exited\n{tail}")
                    # a payout this life claimed (not one a kill before left submitting)
                    if target == "completing" and await completing(url):
                        seen = "the exchange completed a payout we have not"
                        await asyncio.sleep(rng.uniform(0.0, 0.2))
                        break
                    if target == "submitting" and await Withdrawal.filter(
                            status=WithdrawalStatus.SUBMITTING, submitted_at__gt=born).exists():
                        seen = "a payout submitting"
                        await asyncio.sleep(rng.uniform(0.0, ANSWER_DELAY * 1.5))
                        break
                    await asyncio.sleep(0.02)
        finally:
            process.kill()  # SIGKILL
            await process.wait()
        counts = await status_counts()
        lines.append(f"kill {life:2d} [{target:10s}] at {time.monotonic() - started:5.2f} s "
                     f"({seen}): {counts}")
        print(lines[-1])
    return lines


async def db_now() -> datetime:
    rows = await Tortoise.get_connection("default").execute_query_dict("SELECT now() AS now")
    return rows[0]["now"]  # type: ignore[no-any-return]


async def status_counts() -> dict[str, int]:
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT status, count(*) AS n FROM withdrawals GROUP BY status ORDER BY status")
    return {row["status"]: row["n"] for row in rows}


async def simulated(url: str) -> list[dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/withdrawals") as r:
        body = await r.json()
    return list(body["withdrawals"] if isinstance(body, dict) else body)


async def test_worker_killed_while_paying_pays_every_request_exactly_once(
    db: str, simulator: tuple[str, Wallets, Faults], redis: Redis, redis_prefix: str,
    tmp_path: Path,
) -> None:
    url, _, _ = simulator
    rng = random.Random(SEED)
    ledger = Ledger()
    transit_before = await ledger.balance(AccountRef.payouts_in_transit())
    fees_before = await ledger.balance(AccountRef.fees())
    earned = await fund_traders(rng)
    requested = await place_requests(rng, earned)

    env = {"DATABASE_URL": db, "REDIS_URL": TEST_REDIS_URL, "REDIS_PREFIX": redis_prefix,
           "SECRET_KEY": "crash-secret", "DATA_DIR": str(tmp_path / "data"),
           "SYNC_FIRST_LOOKBACK_DAYS": "1"}
    for exchange_id in ("okx", "bitget"):
        name = exchange_id.upper()
        env |= {f"EXCHANGE_{name}_API_URL": f"{url}/{exchange_id}",
                f"EXCHANGE_{name}_API_KEY": "sim-key", f"EXCHANGE_{name}_API_SECRET": "s",
                f"EXCHANGE_{name}_API_PASSWORD": "p"}
    log_file = tmp_path / "worker.log"
    print(f"\nseed {SEED}: {len(requested)} requests; worker log {log_file}")
    try:
        await kill_schedule(rng, env, log_file, url)
        with log_file.open("a") as log:  # noqa: ASYNC230
            log.write("\n===== last life: runs to the end =====\n")
        restarted = time.monotonic()
        process = await spawn_bot(["worker"], env, log_file)
        try:
            while time.monotonic() - restarted < RESUME_BOUND:
                if await Withdrawal.filter(status=WithdrawalStatus.COMPLETED).count() == len(
                        requested):
                    break
                await asyncio.sleep(0.5)
            resumed = time.monotonic() - restarted
            print(f"after the last restart: {await status_counts()} in {resumed:.1f} s")
        finally:
            await stop_process(process)
    finally:
        await delete_arq_keys(redis, redis_prefix)

    rows = {w.user_id: w for w in await Withdrawal.all()}
    assert {w.status for w in rows.values()} == {WithdrawalStatus.COMPLETED}, \
        f"{await status_counts()}\n{log_file.read_text()[-4000:]}"  # noqa: ASYNC240
    sent = await simulated(url)
    by_client = {}
    for item in sent:
        assert item["client_id"] not in by_client, f"paid twice: {item}"
        by_client[item["client_id"]] = item
    assert len(sent) == len(rows)  # nothing paid that we do not know of
    for w in rows.values():
        item = by_client[w.client_id]
        assert Decimal(item["amount"]) == w.net_amount
        assert item["to"] == (w.to_uid if w.method is PayoutMethod.INTERNAL else w.address)
        assert item["exchange"] == w.exchange_id and item["state"] == "completed"

    for user_id, amount in requested.items():  # the independent recomputation, to 1e-8
        assert await ledger.balance(AccountRef.trader_available(user_id)) == \
            earned[user_id] - amount
        assert await ledger.balance(AccountRef.trader_held(user_id)) == 0
    nets = sum((w.net_amount for w in rows.values()), Decimal(0))
    fees = sum((w.fee for w in rows.values()), Decimal(0))
    assert await ledger.balance(AccountRef.payouts_in_transit()) - transit_before == nets
    assert await ledger.balance(AccountRef.fees()) - fees_before == fees
    posts = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS n FROM ledger_entries WHERE idempotency_key LIKE "
        "'hold:withdrawal:%:post'")
    assert posts[0]["n"] == len(rows)
    report = await ledger.check_invariants()
    assert report.ok, report.violations
