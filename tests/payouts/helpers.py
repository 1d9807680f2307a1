"""Test helpers for withdrawals: traders who earned their balance through the real booking
(commission records → rebate engine), finance people, saved addresses past their cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tortoise import Tortoise

from services.ledger import Ledger
from services.models import Role, User
from services.payouts.config import PayoutConfig
from services.payouts.requests import AddressDTO, WithdrawalService
from services.rebates.booking import RebateEngine
from tests.ledger.helpers import make_trader, next_id, put_record

D = Decimal
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # USDT's contract: 0x41a614f8…d13c in base58check
EVM = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's first example
SHARE = D("0.6")  # the exchanges' default trader share


def withdrawals() -> WithdrawalService:
    return WithdrawalService(Ledger(), PayoutConfig(), internal_exchanges=frozenset({"okx",
                                                                                    "bitget"}))


async def funded_trader(earned: Decimal, exchange_id: str = "okx") -> tuple[int, str]:
    """A verified trader whose available balance is ``earned``, booked from commission."""
    user_id, uid = await make_trader(exchange_id)
    commission = earned / SHARE
    day = datetime.now(UTC).date() - timedelta(days=2)
    await put_record(exchange_id, uid, day, commission=commission, volume=commission * 1000,
                     fee=commission * 2)
    await RebateEngine().accrue_all()
    return user_id, uid


async def staff(role: Role = Role.FINANCE) -> int:
    user_id = next_id()
    await User.create(id=user_id, first_name=role.value, role=role)
    return user_id


async def ready_address(service: WithdrawalService, user_id: int, network_id: str,
                        text: str) -> AddressDTO:
    """A saved address whose cooldown is over."""
    saved = await service.add_address(user_id, network_id, text)
    await Tortoise.get_connection("default").execute_query(
        "UPDATE payout_addresses SET usable_from = $2 WHERE id = $1",
        [saved.id, datetime.now(UTC) - timedelta(minutes=1)])
    return (await service.addresses(user_id, network_id))[0]
