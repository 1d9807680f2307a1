"""Test helpers for the money core: traders with exchange accounts and commission records as
the sync writes them (a new revision whenever the numbers change)."""

from __future__ import annotations

import itertools
import os
from datetime import date
from decimal import Decimal

from tortoise import Tortoise

from services.models import AccountStatus, CommissionRecord, ExchangeAccount, User

# Unique across the run, so tests never share a trader even if the database were not reset.
_ids = itertools.count(7_000_000_000 + os.getpid() * 10_000)

D = Decimal


def next_id() -> int:
    return next(_ids)


async def make_trader(exchange_id: str = "binance", *, verified: bool = True) -> tuple[int, str]:
    user_id = next_id()
    uid = str(user_id)[-9:]
    await User.create(id=user_id, first_name="t")
    await ExchangeAccount.create(
        user_id=user_id, exchange_id=exchange_id, uid=uid,
        status=AccountStatus.VERIFIED if verified else AccountStatus.PENDING,
    )
    return user_id, uid


async def verify(exchange_id: str, uid: str) -> None:
    await ExchangeAccount.filter(exchange_id=exchange_id, uid=uid).update(
        status=AccountStatus.VERIFIED
    )


async def put_record(
    exchange_id: str, uid: str, day: date, *, commission: Decimal | None,
    volume: Decimal | None = None, fee: Decimal | None = None, product: str = "spot",
) -> CommissionRecord:
    """Insert the record, or store new numbers as the next revision (like the sync does)."""
    key = f"{exchange_id}:{uid}:{day.isoformat()}:{product}"
    record = await CommissionRecord.get_or_none(source_key=key)
    if record is None:
        return await CommissionRecord.create(
            source_key=key, exchange_id=exchange_id, uid=uid, day=day, product=product,
            volume=volume, fee=fee, commission=commission, currency="USDT",
            rate_to_usdt=D(1), volume_usdt=volume, fee_usdt=fee, commission_usdt=commission,
            origin="api",
        )
    record.volume = record.volume_usdt = volume
    record.fee = record.fee_usdt = fee
    record.commission = record.commission_usdt = commission
    record.revision += 1
    await record.save()
    return record


async def scalar(sql: str, *args: object) -> object:
    async with Tortoise.get_connection("default").acquire_connection() as conn:
        return await conn.fetchval(sql, *args)
