"""Crash test of manual adjustments (issue 14's rule for money paths): a real process (a Python
child running services/adjustments/ against this test's PostgreSQL) is killed with SIGKILL
inside the apply step — after the ledger entry, the adjustment's state change and the audit
row are written but before the transaction commits — and after the commit before the caller
has the answer; then the same request (same key) or approval is made again.

Afterwards: each adjustment applied exactly once (one entry ``adjustment:{id}``, one
``adjustment.apply`` audit row, none from a killed transaction); an independent recomputation
(the postings summed with this file's own SQL, and the test's own arithmetic of what was
asked) matches every balance to 1e-8 USDT; the ledger invariants and the audit chain hold.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from services.audit_chain import check_chain
from services.ledger import Ledger
from services.models import AdjustmentStatus, AuditEntry, LedgerAdjustment, Role
from tests.e2e.processes import ROOT
from tests.payouts.helpers import funded_trader, staff

D = Decimal
EIGHT_DP = D("0.00000001")
THRESHOLD = "100"

# The child: one service call, optionally stopped for the kill inside the transaction (the
# audit row of the application is the last write before COMMIT) or after it returned.
_CHILD = r"""
import asyncio, json, sys
from decimal import Decimal
from pathlib import Path

from bot import db
from services.adjustments import AdjustmentError, AdjustmentService
from services.adjustments import service as module

async def main():
    url, action, kill_at, marker, raw = sys.argv[1:6]
    args = json.loads(raw)
    await db.open_database(url, pool_max=2)
    original = module.audit

    async def audit(conn, actor_id, name, *rest, **kwargs):
        place = await original(conn, actor_id, name, *rest, **kwargs)
        if kill_at == "before_commit" and name == "adjustment.apply":
            Path(marker).write_text("written, not committed")
            await asyncio.sleep(3600)
        return place

    module.audit = audit
    service = AdjustmentService(Decimal(args.pop("threshold")))
    try:
        if action == "request":
            out = await service.request(**args)
            result = {"id": out.adjustment.id, "status": out.adjustment.status.value,
                      "replayed": out.replayed}
        else:
            done = await service.approve(**args)
            result = {"id": done.id, "status": done.status.value}
    except AdjustmentError as refused:
        result = {"refused": refused.refusal.value}
    if kill_at == "after_commit":
        Path(marker).write_text(json.dumps(result))
        await asyncio.sleep(3600)
    print(json.dumps(result), flush=True)
    await db.close_database()

asyncio.run(main())
"""


async def child(database_url: str, tmp_path: Path, action: str, kill_at: str,
                **args: Any) -> dict[str, Any]:
    """Run one call in a child process. ``kill_at`` "none": its answer; else SIGKILL at that
    point, and what the parent could see just before the kill."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, database_url, action, kill_at, str(marker),
        json.dumps({"threshold": THRESHOLD, **args}), cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    if kill_at == "none":
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        return dict(json.loads(out.decode().splitlines()[-1]))
    try:
        for _ in range(1200):
            if marker.exists() and marker.read_text():  # noqa: ASYNC240 (a small file)
                break
            if process.returncode is not None:
                _, err = await process.communicate()
                raise AssertionError(f"the child exited: {err.decode()}")
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the child never reached the kill point")
        seen = {"marker": marker.read_text(),  # noqa: ASYNC240
                "entries": await adjustment_entries()}
    finally:
        process.kill()  # SIGKILL: no rollback from the child, no goodbye to PostgreSQL
        await process.wait()
    return seen


async def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(args))


async def adjustment_entries() -> int:
    found = await rows("SELECT count(*) AS n FROM ledger_entries WHERE kind = 'adjustment'")
    return int(found[0]["n"])


async def derived(kind: str, owner: str) -> Decimal:
    found = await rows(
        "SELECT coalesce(sum(p.amount), 0) AS total FROM ledger_postings p "
        "JOIN ledger_accounts a ON a.id = p.account_id WHERE a.kind = $1 AND a.owner = $2",
        kind, owner)
    return D(found[0]["total"])


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= EIGHT_DP


async def test_adjustments_killed_inside_and_after_apply_are_booked_once(
        db: str, database_url: str, tmp_path: Path) -> None:
    trader, _ = await funded_trader(D(60))
    first, second = await staff(Role.ADMIN), await staff(Role.ADMIN)
    expected = D(60)  # the trader's available balance, by this test's own arithmetic
    ask = {"actor_id": first, "user_id": trader, "reason": "crash test", "document_ref": None}

    # A: at once, killed with the entry written and not committed: nothing stays; the retry
    # with the same key applies it.
    seen = await child(database_url, tmp_path, "request", "before_commit", **ask,
                       direction="credit", amount="40.12345678", key="crash-a")
    assert seen["entries"] == 0  # the open transaction's entry is not visible
    assert await adjustment_entries() == 0
    assert await LedgerAdjustment.filter(request_key="crash-a").count() == 0
    done = await child(database_url, tmp_path, "request", "none", **ask, direction="credit",
                       amount="40.12345678", key="crash-a")
    assert (done["status"], done["replayed"]) == ("applied", False)
    expected += D("40.12345678")

    # B: at once, killed after the commit before the answer: the retry is the same one.
    seen = await child(database_url, tmp_path, "request", "after_commit", **ask,
                       direction="debit", amount="25.00000001", key="crash-b")
    committed = json.loads(seen["marker"])
    assert committed["status"] == "applied"
    again = await child(database_url, tmp_path, "request", "none", **ask, direction="debit",
                        amount="25.00000001", key="crash-b")
    assert (again["id"], again["replayed"]) == (committed["id"], True)
    expected -= D("25.00000001")

    # C: above the threshold; the second admin's approval killed inside the transaction, then
    # after its commit; approved again: refused, already decided.
    waiting = await child(database_url, tmp_path, "request", "none", **ask,
                          direction="credit", amount="500.5", key="crash-c")
    assert waiting["status"] == "awaiting_second"
    approval = {"actor_id": second, "adjustment_id": waiting["id"], "revision": 1}
    await child(database_url, tmp_path, "approve", "before_commit", **approval)
    row = await LedgerAdjustment.get(id=waiting["id"])
    assert (row.status, row.revision, row.entry_id) == (AdjustmentStatus.AWAITING_SECOND, 1,
                                                        None)
    seen = await child(database_url, tmp_path, "approve", "after_commit", **approval)
    assert json.loads(seen["marker"])["status"] == "applied"
    assert await child(database_url, tmp_path, "approve", "none", **approval) == {
        "refused": "already_decided"}
    expected += D("500.5")

    # D: a debit above the threshold; killed inside the approval; approved again: applied.
    waiting = await child(database_url, tmp_path, "request", "none", **ask, direction="debit",
                          amount="300.00000007", key="crash-d")
    approval = {"actor_id": second, "adjustment_id": waiting["id"], "revision": 1}
    await child(database_url, tmp_path, "approve", "before_commit", **approval)
    assert (await LedgerAdjustment.get(id=waiting["id"])).status is (
        AdjustmentStatus.AWAITING_SECOND)
    assert (await child(database_url, tmp_path, "approve", "none", **approval))["status"] == (
        "applied")
    expected -= D("300.00000007")

    # Exactly once each: one entry per adjustment, under its key, and one application audited.
    applied = await LedgerAdjustment.filter(status=AdjustmentStatus.APPLIED).order_by("id")
    assert [a.request_key for a in applied] == ["crash-a", "crash-b", "crash-c", "crash-d"]
    assert await LedgerAdjustment.all().count() == 4
    entries = await rows("SELECT id, idempotency_key FROM ledger_entries "
                         "WHERE kind = 'adjustment' ORDER BY id")
    assert [(e["id"], e["idempotency_key"]) for e in entries] == [
        (a.entry_id, f"adjustment:{a.id}") for a in applied]
    for adjustment in applied:
        assert await AuditEntry.filter(action="adjustment.apply",
                                       object_id=str(adjustment.id)).count() == 1

    # The independent recomputation, to 1e-8 USDT.
    available = await derived("trader_available", str(trader))
    assert close(available, expected) and available == expected
    counter = await derived("adjustments", "")
    assert close(counter, -(expected - D(60)))
    mismatched = await rows(
        "SELECT a.id, a.balance, coalesce(sum(p.amount), 0) AS total FROM ledger_accounts a "
        "LEFT JOIN ledger_postings p ON p.account_id = a.id GROUP BY a.id, a.balance "
        "HAVING abs(a.balance - coalesce(sum(p.amount), 0)) > 0.00000001")
    assert mismatched == []
    per_asset = await rows("SELECT a.asset, sum(p.amount) AS total FROM ledger_postings p "
                           "JOIN ledger_accounts a ON a.id = p.account_id GROUP BY a.asset")
    assert all(D(r["total"]) == 0 for r in per_asset), per_asset
    report = await Ledger().check_invariants()
    assert report.ok, report.violations
    chain = await check_chain()
    assert chain.ok, chain.describe()
