"""The trader's withdrawal flow through the real Dispatcher, Redis FSM and PostgreSQL: method →
address (checked, saved, cooling down) → amount → summary → Confirm, My withdrawals and
cancelling a request; nothing held before Confirm, every refusal said in the reader's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import User as TgUser
from tortoise import Tortoise

from bot.app import Services
from handlers.callbacks import (
    MenuCB,
    Screen,
    WithdrawAction,
    WithdrawalAction,
    WithdrawalCB,
    WithdrawCB,
)
from handlers.money import money
from handlers.trader.withdraw import refusal_text
from services.i18n import Catalog
from services.ledger import Ledger
from services.ledger.entries import AccountRef
from services.models import PayoutMethod, User, Withdrawal, WithdrawalStatus
from services.payouts.quotes import PayoutRefusal
from tests.ledger.helpers import make_trader
from tests.payouts.helpers import EVM, TRON, funded_trader, ready_address
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

D = Decimal
TRC20 = "USDT-TRC20"
pytestmark = pytest.mark.usefixtures("db")


async def send(dp: Dispatcher, bot: MockedBot, update: Any) -> str:
    bot.session.clear()
    await dp.feed_update(bot, update)
    await dp["events"].flush()
    return "\n".join(bot.session.texts())


def buttons(bot: MockedBot) -> dict[str, str]:
    """The last keyboard sent: text → callback data."""
    with_markup = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    markup = with_markup[-1].reply_markup  # type: ignore[attr-defined]
    return {b.text: b.callback_data for row in markup.inline_keyboard for b in row}


def alerts(bot: MockedBot) -> list[str]:
    return [c.text or "" for c in bot.session.calls
            if isinstance(c, AnswerCallbackQuery) and c.show_alert]


async def balances(user_id: int) -> tuple[Decimal, Decimal]:
    ledger = Ledger()
    return (await ledger.balance(AccountRef.trader_available(user_id)),
            await ledger.balance(AccountRef.trader_held(user_id)))


def wd(action: WithdrawAction, **fields: Any) -> str:
    return WithdrawCB(action=action, **fields).pack()


async def press(dp: Dispatcher, bot: MockedBot, user: TgUser, data: str) -> str:
    return await send(dp, bot, callback_update(user, data))


async def say(dp: Dispatcher, bot: MockedBot, user: TgUser, text: str) -> str:
    return await send(dp, bot, message_update(user, text))


async def to_amount(dp: Dispatcher, bot: MockedBot, user: TgUser, address_id: int) -> str:
    await say(dp, bot, user, "/withdraw")
    await press(dp, bot, user, wd(WithdrawAction.NETWORK, network_id=TRC20))
    return await press(dp, bot, user, wd(WithdrawAction.ADDRESS, network_id=TRC20,
                                         address_id=address_id))


async def test_new_address_amount_checks_confirm_and_my_withdrawals(
    dispatcher: Dispatcher, bot: MockedBot
) -> None:
    user_id, _ = await funded_trader(D("300"))
    alice = tg_user(user_id, "en")
    text = await say(dispatcher, bot, alice, "/withdraw")
    assert "Available: <b>300.00 USDT</b>" in text
    labels = buttons(bot)
    assert labels["USDT · Tron (TRC20) · from 10.00 · fee 1.00"] == wd(
        WithdrawAction.NETWORK, network_id=TRC20)
    assert "USDT · Ethereum (ERC20) · from 50.00 · fee 0.1% (min 5.00, max 20.00)" in labels
    assert "📋 My withdrawals" in labels and "« Back" in labels
    assert not any("To my" in label for label in labels)  # no internal payouts configured

    text = await press(dispatcher, bot, alice, wd(WithdrawAction.NETWORK, network_id=TRC20))
    assert "no saved address on this network" in text
    await press(dispatcher, bot, alice, buttons(bot)["➕ New address"])
    typo = TRON[:-1] + ("u" if TRON[-1] != "u" else "v")
    text = await say(dispatcher, bot, alice, typo)
    assert "the address has a typo: its checksum does not match" in text.lower()
    assert "send it again" in text and "✖ Cancel" in buttons(bot)
    text = await say(dispatcher, bot, alice, EVM)
    assert ("This address is for Ethereum or BNB Smart Chain (EVM); you picked USDT · Tron "
            "(TRC20)") in text
    text = await say(dispatcher, bot, alice, f"  {TRON}\n")
    assert f"<code>{TRON}</code> is correct" in text
    text = await say(dispatcher, bot, alice, "My <Tron>")
    assert "Saved. You can withdraw to it from <b>" in text
    (cooling,) = [label for label in buttons(bot) if "usable from" in label]
    assert cooling.startswith("My <Tron> · usable from ")
    # Not before its cooldown ends: said in an alert, the list stays.
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT id, label FROM payout_addresses WHERE user_id = $1", [user_id])
    assert [row["label"] for row in rows] == ["My <Tron>"]
    address_id = rows[0]["id"]
    await press(dispatcher, bot, alice, buttons(bot)[cooling])
    assert "This address can receive from" in alerts(bot)[0]

    await Tortoise.get_connection("default").execute_query(
        "UPDATE payout_addresses SET usable_from = $2 WHERE id = $1",
        [address_id, datetime.now(UTC) - timedelta(minutes=1)])
    text = await to_amount(dispatcher, bot, alice, address_id)
    assert "Available: <b>300.00 USDT</b>" in text
    assert "Minimum: 10.00 USDT" in text and "Left in your 24-hour limit: 10,000.00 USDT" in text
    for typed, expected in [("5", "below the minimum of 10.00 USDT"),
                            ("abc", "That is not an amount"),
                            ("1.1234567", "at most 6 after the point"),
                            ("1000", "more than your available balance of 300.00 USDT")]:
        text = await say(dispatcher, bot, alice, typed)
        assert expected in text, typed
        assert "All available" in buttons(bot)

    text = await say(dispatcher, bot, alice, "100")
    assert "Amount: 100.00 USDT" in text and "Fee: 1.00 USDT" in text
    assert "You receive: <b>99.00 USDT</b>" in text
    assert f"<code>{TRON}</code> (USDT · Tron (TRC20))" in text
    assert "usually within minutes" in text
    assert await Withdrawal.filter(user_id=user_id).count() == 0  # nothing held before Confirm
    assert await balances(user_id) == (D(300), D(0))
    text = await say(dispatcher, bot, alice, "yes")
    assert "Answer with a button below" in text and "Fee: 1.00 USDT" in text

    confirm = buttons(bot)["✅ Confirm"]
    text = await press(dispatcher, bot, alice, confirm)
    request = await Withdrawal.get(user_id=user_id)
    assert f"Request #{request.id} placed" in text and "message at every step" in text
    assert request.status == WithdrawalStatus.APPROVED
    assert (request.amount, request.fee, request.net_amount) == (D(100), D(1), D(99))
    assert await balances(user_id) == (D(200), D(100))
    await press(dispatcher, bot, alice, confirm)  # a second press places nothing
    assert "expired" in alerts(bot)[0]
    assert await Withdrawal.filter(user_id=user_id).count() == 1

    text = await press(dispatcher, bot, alice, WithdrawalCB(action=WithdrawalAction.LIST).pack())
    assert f"#{request.id}" in text and "100.00 USDT → TR7NHq…Lj6t" in text
    assert "approved" in text
    assert not any(label.startswith("✖ Cancel #") for label in buttons(bot))


async def test_russian_trader_above_the_threshold_cancels_from_my_withdrawals(
    dispatcher: Dispatcher, bot: MockedBot, services: Services
) -> None:
    user_id, _ = await funded_trader(D("2700"))
    address = await ready_address(services.withdrawals, user_id, TRC20, TRON)
    boris = tg_user(user_id, "ru", "Борис")
    text = await say(dispatcher, bot, boris, "/withdraw")
    assert "Доступно: <b>2\u00a0700,00 USDT</b>" in text
    await press(dispatcher, bot, boris, wd(WithdrawAction.NETWORK, network_id=TRC20))
    assert "TR7NHq…Lj6t" in buttons(bot)
    text = await to_amount(dispatcher, bot, boris, address.id)
    assert "Минимум: 10,00 USDT" in text

    text = await say(dispatcher, bot, boris, "600")
    assert "Сумма: 600,00 USDT" in text and "Комиссия: 1,00 USDT" in text
    assert "Вы получите: <b>599,00 USDT</b>" in text and "после проверки" in text
    text = await press(dispatcher, bot, boris, buttons(bot)["✅ Подтвердить"])
    request = await Withdrawal.get(user_id=user_id)
    assert f"Заявка #{request.id} создана" in text
    assert request.status == WithdrawalStatus.AWAITING_APPROVAL
    assert await balances(user_id) == (D(2100), D(600))

    text = await press(dispatcher, bot, boris, buttons(bot)["📋 Мои выводы"])
    assert "600,00 USDT → TR7NHq…Lj6t · ⏳ ждёт одобрения" in text
    cancel = buttons(bot)[f"✖ Отменить #{request.id}"]
    assert cancel == WithdrawalCB(action=WithdrawalAction.CANCEL,
                                  withdrawal_id=request.id).pack()
    text = await press(dispatcher, bot, boris, cancel)
    assert f"Заявка #{request.id} отменена: 600,00 USDT вернулись на баланс" in text
    assert "✖ отменена" in text
    assert (await Withdrawal.get(id=request.id)).status == WithdrawalStatus.CANCELLED
    assert await balances(user_id) == (D(2700), D(0))
    text = await press(dispatcher, bot, boris, cancel)  # an old button: said, nothing changes
    assert "уже нельзя отменить" in text and "отменена" in text


async def test_cancel_at_every_step_leaves_no_request_and_no_hold(
    dispatcher: Dispatcher, bot: MockedBot, services: Services
) -> None:
    user_id, _ = await funded_trader(D("300"))
    address = await ready_address(services.withdrawals, user_id, TRC20, TRON)
    alice = tg_user(user_id, "en")
    cancel = wd(WithdrawAction.CANCEL)
    net = wd(WithdrawAction.NETWORK, network_id=TRC20)
    new = wd(WithdrawAction.NEW_ADDRESS, network_id=TRC20)
    to_address = wd(WithdrawAction.ADDRESS, network_id=TRC20, address_id=address.id)
    # (what brings the trader to a step, what that step shows)
    steps: list[tuple[list[tuple[str, str]], str]] = [
        ([("say", "/withdraw")], "Where should we send it?"),
        ([("say", "/withdraw"), ("press", net)], "Choose a saved address"),
        ([("press", net), ("press", new)], "address as a text message"),
        ([("press", new), ("say", TRON)], "Send a short name"),
        ([("press", to_address)], "Send the amount"),
        ([("press", to_address), ("say", "50")], "Check your withdrawal"),
    ]
    for how in ("button", "/cancel"):
        for actions, screen in steps:
            for kind, value in actions:
                text = await (press if kind == "press" else say)(dispatcher, bot, alice, value)
            assert screen in text
            if how == "/cancel":
                text = await say(dispatcher, bot, alice, "/cancel")
            else:
                text = await press(dispatcher, bot, alice, cancel)
            assert "Cancelled" in text, (how, screen)
    assert len(await services.withdrawals.addresses(user_id, TRC20)) == 1
    assert await Withdrawal.filter(user_id=user_id).count() == 0
    assert await balances(user_id) == (D(300), D(0))
    # After cancelling at the summary its Confirm places nothing.
    await press(dispatcher, bot, alice, wd(WithdrawAction.CONFIRM))
    assert "expired" in alerts(bot)[0]
    assert await Withdrawal.filter(user_id=user_id).count() == 0


async def test_internal_transfer_to_a_verified_okx_uid_costs_no_fee(
    dispatcher: Dispatcher, bot: MockedBot, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.withdrawals, "_current_internal", None)
    monkeypatch.setattr(services.withdrawals, "internal_exchanges", frozenset({"okx"}))
    user_id, uid = await funded_trader(D("300"))
    alice = tg_user(user_id, "en")
    await say(dispatcher, bot, alice, "/withdraw")
    labels = list(buttons(bot))
    assert labels[0] == f"To my OKX account · UID {uid} — no network fee"  # offered first
    text = await press(dispatcher, bot, alice, buttons(bot)[labels[0]])
    assert f"internal transfer to UID <code>{uid}</code> at OKX" in text
    assert "Minimum: 1.00 USDT" in text
    text = await press(dispatcher, bot, alice, buttons(bot)["All available"])
    assert "Amount: 300.00 USDT" in text and "Fee: 0.00 USDT" in text
    assert "You receive: <b>300.00 USDT</b>" in text
    await press(dispatcher, bot, alice, buttons(bot)["✅ Confirm"])
    request = await Withdrawal.get(user_id=user_id)
    assert request.method == PayoutMethod.INTERNAL and request.to_uid == uid
    assert (request.fee, request.net_amount) == (D(0), D(300))
    assert await balances(user_id) == (D(0), D(300))


async def test_nothing_to_withdraw_banned_and_frozen(
    dispatcher: Dispatcher, bot: MockedBot, services: Services
) -> None:
    poor_id, _ = await make_trader("okx")
    text = await say(dispatcher, bot, tg_user(poor_id, "en"), "/withdraw")
    assert "nothing to withdraw yet" in text
    assert set(buttons(bot)) == {"📋 My withdrawals", "🔁 Auto-withdrawal", "« Back"}
    text = await press(dispatcher, bot, tg_user(poor_id, "en"),
                       WithdrawalCB(action=WithdrawalAction.LIST).pack())
    assert "no withdrawals yet" in text

    user_id, _ = await funded_trader(D("300"))
    address = await ready_address(services.withdrawals, user_id, TRC20, TRON)
    alice = tg_user(user_id, "en")
    connection = Tortoise.get_connection("default")
    await to_amount(dispatcher, bot, alice, address.id)
    await connection.execute_query(
        "INSERT INTO ledger_checks (ok, payouts_frozen, violations, checked_at, duration_ms) "
        "VALUES (false, true, '[]', now(), 1)")
    text = await say(dispatcher, bot, alice, "50")
    assert "Withdrawals are paused" in text
    assert "💸 Withdraw" in buttons(bot)  # a way to start over
    await connection.execute_query(
        "INSERT INTO ledger_checks (ok, payouts_frozen, violations, checked_at, duration_ms) "
        "VALUES (true, false, '[]', now(), 1)")

    await User.filter(id=user_id).update(is_banned=True)
    services.users.forget_cache()
    text = await say(dispatcher, bot, alice, "/withdraw")
    assert "Your account is blocked" in text
    await press(dispatcher, bot, alice, MenuCB(screen=Screen.WITHDRAW).pack())
    assert "Your account is blocked" in alerts(bot)[0]
    assert await Withdrawal.filter(user_id=user_id).count() == 0


async def test_text_where_a_button_is_expected_resends_the_step(
    dispatcher: Dispatcher, bot: MockedBot, services: Services
) -> None:
    user_id, _ = await funded_trader(D("300"))
    await ready_address(services.withdrawals, user_id, TRC20, TRON)
    alice = tg_user(user_id, "en")
    await say(dispatcher, bot, alice, "/withdraw")
    text = await say(dispatcher, bot, alice, "tron please")
    assert text == "Choose where to send it with a button below, or /cancel."
    await press(dispatcher, bot, alice,
                buttons(bot)["USDT · Tron (TRC20) · from 10.00 · fee 1.00"])
    text = await say(dispatcher, bot, alice, "the first one")
    assert "Choose an address with a button below" in text
    text = await press(dispatcher, bot, alice, buttons(bot)["TR7NHq…Lj6t"])
    assert "Send the amount in USDT" in text


CODES: list[tuple[str, dict[str, object], str]] = [
    ("bad_amount", {}, "not an amount"),
    ("too_many_decimals", {"places": 6}, "at most 6"),
    ("not_positive", {}, "more than zero"),
    ("below_minimum", {"minimum": D(10)}, "10.00 USDT"),
    ("above_balance", {"available": D("2750")}, "2,750.00 USDT"),
    ("above_maximum", {"maximum": D(10000)}, "10,000.00 USDT"),
    ("above_limit_24h", {"limit": D(10000), "left": D(5)}, "5.00 USDT is left"),
    ("above_limit_72h", {"limit": D(25000), "left": D(0)}, "72-hour limit of 25,000.00"),
    ("fee_exceeds_amount", {"fee": D(1)}, "fee of 1.00 USDT"),
    ("nothing_available", {"available": D(0)}, "available: 0.00 USDT"),
    ("banned", {}, "Your account is blocked"),
    ("payouts_frozen", {}, "paused"),
    ("network_disabled", {}, "not available"),
    ("address_cooling_down", {"usable_at": "2030-12-03T14:05:00+00:00"}, "3 December, 14:05 UTC"),
    ("address_unknown", {}, "no longer saved"),
    ("no_verified_uid", {}, "no verified UID"),
    ("internal_unavailable", {}, "not available"),
    ("not_found", {}, "not found"),
    ("cannot_cancel", {"status": "approved"}, "no longer be cancelled: it is ✅ approved"),
    ("address_empty", {"network": "N", "looks_like": ""}, "empty"),
    ("address_too_long", {"network": "N", "looks_like": ""}, "too long"),
    ("address_bad_characters", {"network": "N", "looks_like": ""}, "characters"),
    ("address_bad_checksum", {"network": "N", "looks_like": ""}, "checksum does not match"),
    ("address_wrong_network", {"network": "N", "looks_like": "BTC"}, "for Bitcoin; you picked N"),
    ("address_invalid", {"network": "N", "looks_like": ""}, "not a N address"),
    ("address_testnet", {"network": "N", "looks_like": ""}, "testnet"),
    ("address_future_segwit", {"network": "N", "looks_like": ""}, "newer Bitcoin"),
    ("something_new", {}, "cannot be made right now"),
]


@pytest.mark.parametrize(("code", "params", "expected"), CODES)
def test_every_refusal_has_its_message_in_both_languages(
    i18n: Catalog, code: str, params: dict[str, object], expected: str
) -> None:
    refusal = PayoutRefusal(code, **params)
    assert expected in refusal_text(i18n.translator("en"), refusal)
    russian = refusal_text(i18n.translator("ru"), refusal)
    assert russian and russian != refusal_text(i18n.translator("en"), refusal)
    for value in params.values():
        if isinstance(value, Decimal):
            assert money(value, "ru") in russian


NOTICE_PARAMS: dict[str, object] = {
    "id": 7, "amount": "600", "fee_amount": "1", "net_amount": "599", "asset": "USDT",
    "network": "USDT-TRC20", "destination": "TR7NHq<x>", "exchange": "okx", "tx": "ab12",
    "reason": "", "explorer": "https://tronscan.org/#/transaction/ab12"}
STEPS = ("requested", "accepted", "approved", "sent", "completed", "rejected", "cancelled",
         "failed")


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_withdrawal_notices_take_the_outbox_params(i18n: Catalog, locale: str) -> None:
    t = i18n.translator(locale)
    for step in STEPS:
        text = t(f"notify.withdrawal.{step}", **{k: str(v) for k, v in NOTICE_PARAMS.items()})
        assert "#7" in text and "{" not in text, step


def test_withdrawal_notices_render_in_the_outbox(i18n: Catalog) -> None:
    from bot.outbox import render
    from services.notifications import NotificationDTO

    for step in STEPS:
        params = {**NOTICE_PARAMS, "reason": "address flagged" if step == "rejected" else ""}
        note = NotificationDTO(1, f"withdrawal:7:{step}", 1, 1, "withdrawal",
                               f"notify.withdrawal.{step}", params, False, 0, "ru", None)
        assert "#7" in render(i18n, note), step
