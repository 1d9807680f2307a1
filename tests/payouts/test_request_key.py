"""A withdrawal made under a request key (the Mini App's Idempotency-Key) is made once: two
concurrent calls with the same key, or a retry after the first answer was lost, give the same
request and one hold."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tortoise import Tortoise

from services.ledger import AccountRef
from services.models import PayoutMethod
from services.payouts.requests import Destination
from tests.payouts.helpers import TRON, funded_trader, ready_address, withdrawals

D = Decimal


async def test_the_same_key_makes_one_request_however_often_it_is_sent(db: str) -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("50"))
    saved = await ready_address(service, user_id, "USDT-TRC20", TRON)
    before = await service.ledger.balance(AccountRef.trader_available(user_id))
    to = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=saved.id)
    made = await asyncio.gather(*(service.create(user_id, to, D("20"), request_key="k-1")
                                  for _ in range(5)))
    assert len({w.id for w in made}) == 1
    other = await service.create(user_id, to, D("20"), request_key="k-2")
    assert other.id != made[0].id
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT count(*) AS n FROM withdrawals WHERE user_id = $1", [user_id])
    assert rows[0]["n"] == 2
    assert await service.ledger.balance(AccountRef.trader_available(user_id)) == before - D("40")
