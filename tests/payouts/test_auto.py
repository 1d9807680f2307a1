"""Auto-withdrawal: a request for all that is available once it reaches the threshold, under
the rules of one made by hand, and never a second one while one is open."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import PayoutMethod, Withdrawal, WithdrawalStatus
from services.payouts.auto import AutoWithdrawals
from services.payouts.quotes import PayoutRefusal
from services.payouts.requests import Destination
from tests.payouts.helpers import TRON, funded_trader, withdrawals

D = Decimal
pytestmark = pytest.mark.usefixtures("db")
INTERNAL = Destination(PayoutMethod.INTERNAL, exchange_id="okx")


async def test_a_balance_at_the_threshold_makes_one_request_for_all_of_it() -> None:
    service = withdrawals()
    auto = AutoWithdrawals(service)
    rich, _ = await funded_trader(D("120.6"))
    poor, _ = await funded_trader(D("40"))
    await auto.set(rich, INTERNAL, D("100"))
    await auto.set(poor, INTERNAL, D("100"))
    assert await auto.run_due() == 1
    [made] = await Withdrawal.filter(user_id=rich)
    assert (made.amount, made.auto, made.status) == (D("120.6"), True, WithdrawalStatus.APPROVED)
    assert await Ledger().balance(AccountRef.trader_available(rich)) == 0
    assert await auto.run_due() == 0  # nothing left, and one is open anyway
    assert not await Withdrawal.filter(user_id=poor).exists()


async def test_an_order_is_checked_when_set_and_waits_for_a_cooling_address() -> None:
    service = withdrawals()
    auto = AutoWithdrawals(service)
    user_id, _ = await funded_trader(D("300"))
    with pytest.raises(PayoutRefusal) as low:
        await auto.set(user_id, INTERNAL, D("0.5"))  # below the internal minimum of 1
    assert low.value.code == "below_minimum"
    with pytest.raises(PayoutRefusal) as other:
        await auto.set(user_id, Destination(PayoutMethod.INTERNAL, exchange_id="bitget"), D(50))
    assert other.value.code == "no_verified_uid"
    fresh = await service.add_address(user_id, "USDT-TRC20", TRON)  # cooling for 24 h
    where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=fresh.id)
    order = await auto.set(user_id, where, D("50"))
    assert order.enabled and order.threshold == D("50")
    assert await auto.run_due() == 0  # the address cannot receive yet: no request, no error
    assert await auto.disable(user_id) and not (await auto.get(user_id)).enabled  # type: ignore[union-attr]
