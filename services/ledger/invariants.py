"""The invariant check: the whole ledger verified set-based, exported as gauges, payouts frozen."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from prometheus_client import Gauge
from tortoise import Tortoise

from services.models.ledger import AccountKind

TRADER_KINDS = (AccountKind.TRADER_AVAILABLE, AccountKind.TRADER_HELD)

INVARIANT_OK = Gauge("ledger_invariant_ok", "1 when the last ledger invariant check passed")
INVARIANT_VIOLATIONS = Gauge(
    "ledger_invariant_violations", "Violations found by the last invariant check", ["check"]
)
INVARIANT_SECONDS = Gauge("ledger_invariant_check_seconds", "Duration of the last check")
PAYOUTS_FROZEN = Gauge("ledger_payouts_frozen", "1 while payouts are frozen by the ledger check")


@dataclass(frozen=True)
class InvariantReport:
    ok: bool  # every check passed
    payouts_frozen: bool  # a money-integrity check failed (stale holds alone do not freeze)
    checked_at: datetime
    duration_seconds: float
    violations: dict[str, int]  # check name → number of violations (0 = passed)
    unbalanced_assets: dict[str, Decimal] = field(default_factory=dict)  # asset → non-zero sum


class LedgerInvariants:
    """The invariant methods of Ledger (its base class; Ledger sets _connection_name)."""

    _connection_name: str

    async def check_invariants(self, *, stale_hold_hours: float = 24) -> InvariantReport:
        """Check the whole ledger set-based (one pass over the postings), record the result
        (which freezes or unfreezes payouts) and export it as gauges.

        Checks: postings sum to zero per asset; each cached balance equals the sum of its
        postings (postings naming no account count here too); no negative trader balance
        (cached or derived); no hold pending longer than ``stale_hold_hours``.
        """
        started = time.perf_counter()
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            rows = await conn.fetch(
                """
                WITH derived AS (
                    SELECT account_id, sum(amount) AS total
                    FROM ledger_postings GROUP BY account_id
                ), accounts AS (
                    SELECT a.kind, coalesce(a.asset, '?') AS asset, a.balance,
                           coalesce(d.total, 0) AS derived
                    FROM ledger_accounts a FULL JOIN derived d ON d.account_id = a.id
                )
                SELECT asset, sum(derived) AS total,
                       count(*) FILTER (WHERE balance IS DISTINCT FROM derived) AS mismatched,
                       count(*) FILTER (WHERE kind = ANY($1::text[])
                                        AND (balance < 0 OR derived < 0)) AS negative
                FROM accounts GROUP BY asset
                """,
                [kind.value for kind in TRADER_KINDS],
            )
            stale = await conn.fetchval(
                "SELECT count(*) FROM ledger_holds WHERE state = 'pending' "
                "AND created_at < now() - make_interval(secs => $1)",
                stale_hold_hours * 3600,
            )
            unbalanced = {row["asset"]: row["total"] for row in rows if row["total"] != 0}
            violations = {
                "unbalanced_assets": len(unbalanced),
                "balance_mismatch": sum(row["mismatched"] for row in rows),
                "negative_balance": sum(row["negative"] for row in rows),
                "stale_holds": int(stale),
            }
            ok = not any(violations.values())
            # A stale hold is an operational alert; freezing payouts would only block the
            # payout that resolves it. Every other failure means the books are wrong.
            frozen = any(count for name, count in violations.items() if name != "stale_holds")
            duration = time.perf_counter() - started
            checked_at = await conn.fetchval(
                "INSERT INTO ledger_checks (ok, payouts_frozen, violations, duration_ms) "
                "VALUES ($1, $2, $3::jsonb, $4) RETURNING checked_at",
                ok, frozen, json.dumps(violations), int(duration * 1000),
            )
        INVARIANT_OK.set(1 if ok else 0)
        PAYOUTS_FROZEN.set(1 if frozen else 0)
        INVARIANT_SECONDS.set(duration)
        for name, count in violations.items():
            INVARIANT_VIOLATIONS.labels(check=name).set(count)
        return InvariantReport(
            ok=ok, payouts_frozen=frozen, checked_at=checked_at, duration_seconds=duration,
            violations=violations, unbalanced_assets=unbalanced,
        )

    async def payouts_frozen(self) -> bool:
        """True while the newest invariant check found the books wrong. Payout code must not
        send money while this is True."""
        client = Tortoise.get_connection(self._connection_name)
        async with client.acquire_connection() as conn:
            frozen = await conn.fetchval(
                "SELECT payouts_frozen FROM ledger_checks ORDER BY id DESC LIMIT 1"
            )
        return bool(frozen)
