"""The audit log's hash chain (issue 14): every row is chained by the database whoever writes
it, concurrent writers included; the check recomputes each hash independently and finds an
edited row, a deleted row (in the middle or at the end), a row written around the trigger and
a chain recomputed from an edit onwards; the hourly job alerts the admin chat once per hour."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from tortoise import Tortoise

from bot.audit_jobs import AUDIT_CHAIN_OK, check_audit_chain, head_key
from bot.settings import Settings
from services.audit import audit
from services.audit_chain import GENESIS, Head, check_chain
from services.ledger.entries import ledger_transaction
from services.models import AuditEntry


async def _sql(query: str, *args: object) -> list[dict[str, Any]]:
    return await Tortoise.get_connection("default").execute_query_dict(query, list(args))


async def _write(count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        async with ledger_transaction() as conn:
            await audit(conn, 900 + n % 3, "withdrawal.approve", "withdrawal", n,
                        {"status": "awaiting_approval", "amount": "12.5"},
                        {"status": "approved", "note": f"ок | {n}:"})


async def _behind_the_trigger(statement: str, *args: object) -> None:
    """What someone with the table owner's rights could do: switch the append-only rule off."""
    async with ledger_transaction() as conn:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute(statement, *args)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_every_row_is_chained_and_the_check_recomputes_each_hash(db: str) -> None:
    await _write(5)
    await AuditEntry.create(actor_id=None, action="user.ban", object_type="user",
                            object_id="42", before=None, after={"banned": True})
    rows = await _sql("SELECT seq, prev_hash, row_hash, actor_id, action, object_type, "
                      "object_id, before::text AS before, after::text AS after, created_at "
                      "FROM audit_log ORDER BY seq")
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["prev_hash"] == GENESIS
    for before, row in zip(rows, rows[1:], strict=False):
        assert row["prev_hash"] == before["row_hash"]
    # The hash written down here by hand, from the documented recipe, for the first row.
    first = rows[0]
    micros = round(first["created_at"].timestamp() * 1_000_000)
    parts = [1, GENESIS, first["actor_id"], first["action"], first["object_type"],
             first["object_id"], first["before"], first["after"], micros]
    message = "".join(f"{len(str(p))}:{p}" for p in parts)
    assert hashlib.sha256(message.encode()).hexdigest() == first["row_hash"]
    report = await check_chain()
    assert report.ok and report.rows == 6 and report.head == Head(6, rows[-1]["row_hash"])


async def test_concurrent_writers_make_one_unbroken_chain(db: str) -> None:
    await asyncio.gather(*(_write(4, start=10 * n) for n in range(25)))
    report = await check_chain(batch=7)  # pages that end mid-chain, too
    assert report.ok, report.describe()
    assert report.rows == 100


async def test_the_append_only_rule_still_refuses_edits(db: str) -> None:
    await _write(1)
    with pytest.raises(Exception, match="append-only"):
        await _sql("UPDATE audit_log SET action = 'withdrawal.reject'")
    with pytest.raises(Exception, match="append-only"):
        await _sql("DELETE FROM audit_log")


@pytest.mark.parametrize("edit", [
    "UPDATE audit_log SET after = '{\"status\": \"rejected\"}' WHERE seq = 4",
    "UPDATE audit_log SET actor_id = 1 WHERE seq = 4",
    "UPDATE audit_log SET created_at = created_at + interval '1 microsecond' WHERE seq = 4",
])
async def test_an_edited_row_is_found(db: str, edit: str) -> None:
    await _write(8)
    await _behind_the_trigger(edit)
    report = await check_chain()
    assert (report.problem, report.broken_at) == ("edited", 4), report.describe()


async def test_a_deleted_row_in_the_middle_is_found(db: str) -> None:
    await _write(8)
    await _behind_the_trigger("DELETE FROM audit_log WHERE seq = 5")
    report = await check_chain()
    assert (report.problem, report.broken_at, report.detail) == ("missing", 5, "#5–#5")


async def test_rows_cut_off_the_end_are_found_against_the_head_seen_before(db: str) -> None:
    await _write(8)
    seen = (await check_chain()).head
    assert seen is not None
    await _behind_the_trigger("DELETE FROM audit_log WHERE seq >= 7")
    assert (await check_chain()).ok  # the chain alone cannot tell
    report = await check_chain(seen)
    assert (report.problem, report.broken_at) == ("truncated", 7), report.describe()


async def test_a_chain_recomputed_after_an_edit_is_found_against_the_head(db: str) -> None:
    await _write(6)
    seen = (await check_chain()).head
    assert seen is not None
    # Edit row 3 and redo every hash from it on, with the database's own recipe.
    await _behind_the_trigger(
        "UPDATE audit_log SET after = '{\"status\": \"rejected\"}' WHERE seq = 3")
    for place in range(3, 7):
        await _behind_the_trigger(
            "UPDATE audit_log a SET prev_hash = p.row_hash, row_hash = audit_log_hash("
            "a.seq, p.row_hash, a.actor_id, a.action, a.object_type, a.object_id, a.before, "
            "a.after, a.created_at) FROM audit_log p WHERE a.seq = $1 AND p.seq = $1 - 1",
            place)
    assert (await check_chain()).ok  # consistent in itself: no secret in the hash
    report = await check_chain(seen)
    assert (report.problem, report.broken_at) == ("rewritten", 6), report.describe()


async def test_a_row_written_with_the_chain_off_is_found(db: str) -> None:
    await _write(3)
    async with ledger_transaction() as conn:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain")
        await conn.execute("INSERT INTO audit_log (action, object_type, object_id) "
                           "VALUES ('user.role', 'user', '7')")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain")
    report = await check_chain()
    assert report.problem == "unchained", report.describe()


async def test_the_hourly_job_keeps_the_head_and_alerts_once_while_broken(
    db: str, redis: Any, settings: Settings, services: Any
) -> None:
    prefix = f"{settings.redis_prefix}-chain"
    ctx = {"settings": settings.model_copy(update={"redis_prefix": prefix}), "redis": redis,
           "services": services}
    await _write(4)
    assert await check_audit_chain(ctx) == "audit chain intact: 4 rows"
    assert Head.load(await redis.get(head_key(prefix))) == (await check_chain()).head
    assert AUDIT_CHAIN_OK._value.get() == 1
    await _behind_the_trigger("DELETE FROM audit_log WHERE seq = 4")
    for _ in range(2):
        assert "truncated" in await check_audit_chain(ctx)
    assert AUDIT_CHAIN_OK._value.get() == 0
    alerts = await _sql("SELECT chat_id, text_key, params FROM notifications "
                        "WHERE dedupe_key LIKE 'alert:audit_chain%'")
    assert len(alerts) == 1
    assert alerts[0]["chat_id"] == settings.admin_chat_id
    assert alerts[0]["text_key"] == "admin.audit_alert.truncated"
    await redis.delete(head_key(prefix))
