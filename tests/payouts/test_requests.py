"""Withdrawal requests: every check before anything is held, the hold and the request in one
transaction, the limits under concurrency, cancelling."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import PayoutMethod, User, Withdrawal, WithdrawalStatus
from services.payouts.quotes import PayoutRefusal, parse_amount
from services.payouts.requests import Destination
from tests.payouts.helpers import EVM, TRON, funded_trader, ready_address, withdrawals

D = Decimal
pytestmark = pytest.mark.usefixtures("db")


async def balances(user_id: int) -> tuple[Decimal, Decimal]:
    ledger = Ledger()
    return (await ledger.balance(AccountRef.trader_available(user_id)),
            await ledger.balance(AccountRef.trader_held(user_id)))


async def refusal(awaitable: object) -> PayoutRefusal:
    with pytest.raises(PayoutRefusal) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value


@pytest.mark.parametrize(("text", "expected"), [
    ("25", D("25")), ("25.5", D("25.5")), ("25,5", D("25.5")), ("1 000", D("1000")),
    ("1\u00a0000,25", D("1000.25")), ("12.123456", D("12.123456")), ("40 USDT", D("40")),
    ("all", None), ("Всё", None),
])
def test_amounts_as_traders_write_them(text: str, expected: Decimal | None) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(("text", "code"), [
    ("", "bad_amount"), ("abc", "bad_amount"), ("-5", "bad_amount"), ("1e3", "bad_amount"),
    ("0", "not_positive"), ("0.0000001", "too_many_decimals"), ("1.2.3", "bad_amount"),
    ("9" * 30, "bad_amount"),
])
def test_bad_amounts_are_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(PayoutRefusal) as caught:
        parse_amount(text)
    assert caught.value.code == code


async def test_a_request_holds_the_amount_and_records_fee_and_net() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("300"))
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=address.id)

    offer = await service.prepare(user_id, where, D("100"))
    assert (offer.amount, offer.fee, offer.net_amount) == (D("100"), D("1"), D("99"))
    assert await balances(user_id) == (D("300"), D("0"))  # nothing held before confirm

    made = await service.create(user_id, where, D("100"))
    assert (made.amount, made.fee, made.net_amount, made.address) == (
        D("100"), D("1"), D("99"), TRON)
    assert await balances(user_id) == (D("200"), D("100"))
    assert made.client_id == f"cr{made.id:010d}" and made.client_id.isalnum()
    # first withdrawal to a new address: flagged for the card, but under $500 no human needed
    assert made.status is WithdrawalStatus.APPROVED
    assert {"new_address", "first_withdrawal", "recent_uid"} <= set(made.risk_flags)


async def test_every_bad_input_is_refused_before_anything_is_held() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("300"))
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=address.id)

    assert (await refusal(service.prepare(user_id, where, D("5")))).code == "below_minimum"
    assert (await refusal(service.create(user_id, where, D("300.01")))).code == "above_balance"
    assert (await refusal(service.add_address(user_id, "USDT-TRC20", EVM))).code == \
        "address_wrong_network"
    assert (await refusal(service.add_address(user_id, "USDT-TRC20", TRON[:-1] + "M"))).code \
        == "address_bad_checksum"
    fresh = await service.add_address(user_id, "USDT-BEP20", EVM)  # cooldown not over
    cooling = Destination(PayoutMethod.ONCHAIN, network_id="USDT-BEP20", address_id=fresh.id)
    assert (await refusal(service.create(user_id, cooling, D("50")))).code == \
        "address_cooling_down"
    other, _ = await funded_trader(D("50"))
    stolen = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=address.id)
    assert (await refusal(service.create(other, stolen, D("20")))).code == "address_unknown"
    disabled = Destination(PayoutMethod.ONCHAIN, network_id="BTC", address_id=address.id)
    assert (await refusal(service.create(user_id, disabled, D("60")))).code == \
        "network_disabled"
    no_uid = Destination(PayoutMethod.INTERNAL, exchange_id="bitget")
    assert (await refusal(service.create(user_id, no_uid, D("20")))).code == "no_verified_uid"

    await User.filter(id=user_id).update(is_banned=True)
    assert (await refusal(service.create(user_id, where, D("20")))).code == "banned"
    assert await balances(user_id) == (D("300"), D("0"))
    assert await Withdrawal.filter(user_id=user_id).count() == 0


async def test_all_available_is_the_balance_cut_to_what_an_exchange_takes() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("123.45678912"))
    where = Destination(PayoutMethod.INTERNAL, exchange_id="okx")
    offer = await service.prepare(user_id, where, None)
    assert (offer.amount, offer.fee, offer.net_amount) == (D("123.456789"),) + (D(0),) + (
        D("123.456789"),)


async def test_limits_count_the_window_and_undone_requests_free_it() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("12000"))
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=address.id)
    first = await service.create(user_id, where, D("9000"))  # 24 h limit 10000
    refused = await refusal(service.create(user_id, where, D("1000.01")))
    assert (refused.code, refused.params["left"]) == ("above_limit_24h", D("1000"))
    assert first.status is WithdrawalStatus.AWAITING_APPROVAL  # above $500
    await service.cancel(user_id, first.id)
    assert await balances(user_id) == (D("12000"), D("0"))
    again = await service.create(user_id, where, D("10000"))
    assert again.approvals_needed == 2
    assert (await refusal(service.cancel(user_id + 1, again.id))).code == "not_found"


async def test_a_hundred_concurrent_requests_never_overdraw_or_pass_a_limit() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("1000"))
    where = Destination(PayoutMethod.INTERNAL, exchange_id="okx")

    async def one() -> str:
        try:
            await service.create(user_id, where, D("30"))
            return "made"
        except PayoutRefusal as exc:
            return exc.code

    outcomes = await asyncio.gather(*(one() for _ in range(100)))
    made = outcomes.count("made")
    assert made == 33  # 33 × 30 = 990 of 1000
    assert set(outcomes) == {"made", "above_balance"}
    assert await balances(user_id) == (D("10"), D("990"))
    held = sum([w.amount for w in await Withdrawal.filter(user_id=user_id)], D(0))
    assert held == D("990")


async def test_an_erc20_fee_is_cut_to_what_an_exchange_sends() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("7200"))
    address = await ready_address(service, user_id, "USDT-ERC20", EVM)
    where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-ERC20", address_id=address.id)
    offer = await service.prepare(user_id, where, D("6000.123457"))  # 0.1 %, min 5, max 20
    assert (offer.fee, offer.net_amount) == (D("6.000124"), D("5994.123333"))


async def test_two_verified_uids_at_one_exchange_pay_the_one_offered() -> None:
    from services.models import AccountStatus, ExchangeAccount

    service = withdrawals()
    user_id, first_uid = await funded_trader(D("100"))
    await ExchangeAccount.create(user_id=user_id, exchange_id="okx", uid="998877665",
                                 status=AccountStatus.VERIFIED)
    offered = dict(await service.internal_accounts(user_id))["okx"]
    made = await service.create(user_id, Destination(PayoutMethod.INTERNAL, exchange_id="okx"),
                                D("20"))
    assert made.to_uid == offered


async def test_a_removed_address_added_again_waits_a_new_cooldown() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("100"))
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    assert await service.remove_address(user_id, address.id)
    again = await service.add_address(user_id, "USDT-TRC20", TRON)
    assert again.id == address.id and again.usable_from > address.usable_from


async def test_the_fee_confirmed_is_the_fee_charged() -> None:
    service = withdrawals()
    user_id, _ = await funded_trader(D("300"))
    address = await ready_address(service, user_id, "USDT-TRC20", TRON)
    where = Destination(PayoutMethod.ONCHAIN, network_id="USDT-TRC20", address_id=address.id)
    refused = await refusal(service.create(user_id, where, D("100"), expected_fee=D("0.5")))
    assert (refused.code, refused.params["fee"]) == ("fee_changed", D("1"))
    assert await balances(user_id) == (D("300"), D("0"))
