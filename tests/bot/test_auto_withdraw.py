"""Auto-withdrawal in the bot: set from the Withdraw screen (a destination, then the balance),
refused below the minimum with the reason, turned off; the tick's request follows it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiogram import Dispatcher

from bot.app import Services
from services.models import Withdrawal
from tests.bot.test_withdraw_flow import buttons, press, say
from tests.payouts.helpers import funded_trader
from tests.support.mocked_bot import MockedBot
from tests.support.updates import tg_user

D = Decimal
pytestmark = pytest.mark.usefixtures("db")


async def test_set_from_the_withdraw_screen_then_made_by_the_tick_then_off(
    dispatcher: Dispatcher, bot: MockedBot, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.withdrawals, "_current_internal", None)
    monkeypatch.setattr(services.withdrawals, "internal_exchanges", frozenset({"okx"}))
    user_id, uid = await funded_trader(D("90"))
    ivan = tg_user(user_id, "ru")
    await say(dispatcher, bot, ivan, "/withdraw")
    text = await press(dispatcher, bot, ivan, buttons(bot)["🔁 Автовывод"])
    assert "Автовывод выключен." in text
    text = await press(dispatcher, bot, ivan, buttons(bot)[f"Настроить: OKX · UID {uid}"])
    assert "не меньше 1,00" in text
    text = await say(dispatcher, bot, ivan, "0,5")
    assert "1,00" in text and "другую сумму" in text  # below the minimum, with the way on
    text = await say(dispatcher, bot, ivan, "100")
    assert "Автовывод включён" in text and "100,00 USDT" in text and "OKX" in text

    assert await services.auto_withdrawals.run_due() == 0  # 90 < 100
    await services.auto_withdrawals.set(user_id, (await services.auto_withdrawals.get(
        user_id)).destination, D("50"))  # type: ignore[union-attr]
    assert await services.auto_withdrawals.run_due() == 1
    request = await Withdrawal.get(user_id=user_id)
    assert (request.amount, request.auto, request.to_uid) == (D("90"), True, uid)

    await say(dispatcher, bot, ivan, "/withdraw")
    await press(dispatcher, bot, ivan, buttons(bot)["🔁 Автовывод"])
    text = await press(dispatcher, bot, ivan, buttons(bot)["Выключить"])
    assert "Автовывод выключен." in text
    assert not (await services.auto_withdrawals.get(user_id)).enabled  # type: ignore[union-attr]
