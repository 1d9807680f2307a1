"""The append-only audit log: every human decision on money (and every refused attempt), with
the object before and after. Written in the transaction of the change it records, so a change
and its audit row commit together or not at all."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


async def audit(conn: Any, actor_id: int | None, action: str, object_type: str,
                object_id: object, before: dict[str, Any] | None = None,
                after: dict[str, Any] | None = None) -> int:
    """Write one row; returns its place in the hash chain (services/audit_chain.py)."""
    return int(await conn.fetchval(
        "INSERT INTO audit_log (actor_id, action, object_type, object_id, before, after) "
        "VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb) RETURNING seq",
        actor_id, action, object_type, str(object_id),
        None if before is None else json.dumps(_plain(before)),
        None if after is None else json.dumps(_plain(after)),
    ))
