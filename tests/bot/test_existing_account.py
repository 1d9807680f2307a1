""""I already have an account": the questions per exchange (services/existing_accounts.py) and
their screens through the real Dispatcher, each answer editing the same message, each path
ending in a verdict with what to do next."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from aiogram import Dispatcher
from aiogram.types import InlineKeyboardButton

from exchanges.registry import PRODUCT_EXCHANGES
from handlers.callbacks import (
    ExchangeAction,
    ExchangeCB,
    ExistingCB,
    LinkAction,
    LinkCB,
)
from services import existing_accounts
from services.existing_accounts import Question, Verdict, VerdictKind
from services.i18n import Catalog
from services.models import Event
from tests.bot.test_trader_flow import send
from tests.support.mocked_bot import MockedBot
from tests.support.updates import callback_update, message_update, tg_user

_user_ids = itertools.count(47_000)


@pytest.fixture
def support(dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    """Tests set ``dispatcher.workflow_data["support_contact"]``; restored afterwards."""
    missing = object()
    before = dispatcher.workflow_data.get("support_contact", missing)
    yield dispatcher
    if before is missing:
        dispatcher.workflow_data.pop("support_contact", None)
    else:
        dispatcher.workflow_data["support_contact"] = before


def keyboard(bot: MockedBot) -> list[InlineKeyboardButton]:
    with_markup = [c for c in bot.session.calls if getattr(c, "reply_markup", None)]
    markup = with_markup[-1].reply_markup  # type: ignore[attr-defined]
    return [b for row in markup.inline_keyboard for b in row]


def labels(bot: MockedBot) -> list[str]:
    return [b.text for b in keyboard(bot)]


def press(bot: MockedBot, label: str) -> str:
    """The callback data of the button labelled ``label`` on the last screen."""
    for button in keyboard(bot):
        if button.text == label:
            assert button.callback_data is not None, label
            return button.callback_data
    raise AssertionError(f"no button {label!r} in {labels(bot)}")


def edited_only(bot: MockedBot) -> bool:
    names = [type(call).__name__ for call in bot.session.calls]
    return "EditMessageText" in names and "SendMessage" not in names


async def registered(dp: Dispatcher, bot: MockedBot, language: str = "en"):  # type: ignore[no-untyped-def]
    person = tg_user(next(_user_ids), language, "Erin")
    await send(dp, bot, message_update(person, "/start"))
    return person


async def open_check(dp: Dispatcher, bot: MockedBot, person, exchange_id: str) -> str:  # type: ignore[no-untyped-def]
    have = ExchangeCB(action=ExchangeAction.EXISTING, exchange_id=exchange_id).pack()
    return await send(dp, bot, callback_update(person, have))


# --- the trees -------------------------------------------------------------------------------


def test_every_product_exchange_has_a_tree_and_every_step_a_text() -> None:
    catalog = Catalog.load()
    # A verdict named like a question would be asked again and again.
    assert not existing_accounts.question_keys() & set(existing_accounts.VERDICTS)
    for exchange_id in [*PRODUCT_EXCHANGES, "gate"]:
        if exchange_id != "gate":
            assert existing_accounts.has_facts(exchange_id), exchange_id
        verdicts = existing_accounts.all_verdicts(exchange_id)
        assert {"ours", "unsure"} <= set(verdicts), exchange_id
        assert set(verdicts) <= set(existing_accounts.VERDICTS), exchange_id
        # At least one way leads to what to do when the account cannot earn as is.
        assert any(existing_accounts.VERDICTS[v] != VerdictKind.LINK_AS_IS for v in verdicts)
    for locale in ("en", "ru"):
        keys = catalog.keys(locale)
        assert {f"existing.q.{q}" for q in existing_accounts.question_keys()} <= keys
        assert {f"existing.verdict.{v}" for v in existing_accounts.VERDICTS} <= keys
        assert {f"existing.kind.{k.value}" for k in VerdictKind} <= keys
        assert {f"existing.answer.{a.name.lower()}" for a in existing_accounts.Answer} <= keys


def test_next_step_follows_the_answers_and_refuses_what_does_not_fit() -> None:
    assert existing_accounts.next_step("bybit", "") == Question("via_link", tuple("ynu"))  # type: ignore[arg-type]
    assert existing_accounts.next_step("bybit", "n") == Question("kyc", tuple("yn"))  # type: ignore[arg-type]
    assert existing_accounts.next_step("bybit", "ny") == Verdict("bybit_kyc",
                                                                 VerdictKind.NEW_ACCOUNT)
    assert existing_accounts.next_step("bitget", "nyn") == Verdict("bitget_bind",
                                                                   VerdictKind.ASK_FIRST)
    assert existing_accounts.next_step("gate", "n") == Verdict("unknown", VerdictKind.ASK_FIRST)
    for stale in ("yy", "nu", "x", "n:y", "nnnnnnnnnnnnnnnnnnnnnnnn"):
        assert existing_accounts.next_step("bybit", stale) is None, stale


# --- through the Dispatcher ------------------------------------------------------------------


async def test_bybit_first_screen_then_every_verdict(db, dispatcher, bot) -> None:
    erin = await registered(dispatcher, bot)
    text = await open_check(dispatcher, bot, erin, "bybit")
    assert "Already have a Bybit account?" in text and "KYC transfer" in text
    assert "Did you open this Bybit account through our link" in text
    assert labels(bot) == ["Yes", "No", "Not sure", "« Back"]  # no Start over on the first

    # No → the KYC question, in the same message.
    text = await send(dispatcher, bot, callback_update(erin, press(bot, "No")))
    assert edited_only(bot)
    assert "Have you completed identity verification (KYC)" in text
    assert "KYC transfer" not in text  # the paragraph is on the first screen only
    assert labels(bot) == ["Yes", "No", "↺ Start over", "« Back"]

    # Verified → a new account through our link, with Bybit's KYC transfer.
    text = await send(dispatcher, bot, callback_update(erin, press(bot, "Yes")))
    assert edited_only(bot)
    assert "cannot earn rebates through us" in text and "KYC transfer" in text
    buttons = keyboard(bot)
    assert buttons[0].text == "Open Bybit ↗"
    assert buttons[0].url is not None and "/r/bybit-" in buttons[0].url
    assert [b.text for b in buttons[1:]] == ["🔗 Link my UID", "↺ Start over", "« Back"]
    assert buttons[1].callback_data == LinkCB(action=LinkAction.PICK, exchange_id="bybit").pack()

    cases = {"nn": ("new_account", "open a new Bybit account through our link"),
             "y": ("ours", "You can link this account as is"),
             "u": ("unsure", "we will check it")}
    for answers, (verdict, expected) in cases.items():
        step = ExistingCB(exchange_id="bybit", answers=answers).pack()
        text = await send(dispatcher, bot, callback_update(erin, step))
        assert expected in text, answers
        latest = await Event.filter(name="existing_account_checked", user_id=erin.id).order_by(
            "-id").first()
        assert latest is not None and latest.properties["verdict"] == verdict
    # The account as is: no link to open, only the UID to link.
    assert "Open Bybit ↗" not in labels(bot) and "🔗 Link my UID" in labels(bot)

    checked = await Event.filter(name="existing_account_checked", user_id=erin.id)
    assert sorted(e.properties["verdict"] for e in checked) == sorted(
        ["bybit_kyc", "new_account", "ours", "unsure"])
    assert {e.properties["exchange"] for e in checked} == {"bybit"}
    assert await Event.filter(name="existing_account_viewed", user_id=erin.id).count() == 1


async def test_bitget_walks_to_each_verdict(db, dispatcher, bot) -> None:
    erin = await registered(dispatcher, bot)
    text = await open_check(dispatcher, bot, erin, "bitget")
    assert "short time after registration" in text

    # Registered recently and not traded yet: it may still be bound; ask Bitget support.
    expected = {
        ("No", "Yes", "No"): ("bitget_bind", "may still earn rebates through us"),
        ("No", "Yes", "Yes", "Yes"): ("bitget_kyc", "one account per verified identity"),
        ("No", "No", "No"): ("bitget_new", "register a new Bitget account"),
        ("Yes",): ("ours", "Link its UID below"),
    }
    for path, (verdict, phrase) in expected.items():
        text = await open_check(dispatcher, bot, erin, "bitget")
        for label in path:
            text = await send(dispatcher, bot, callback_update(erin, press(bot, label)))
        assert phrase in text, path
        event = await Event.filter(name="existing_account_checked", user_id=erin.id).order_by(
            "-id").first()
        assert event is not None and event.properties == {"exchange": "bitget",
                                                          "verdict": verdict}
    # Every verdict of the tree is reachable and has its screen.
    for verdict, answers in existing_accounts.all_verdicts("bitget").items():
        step = ExistingCB(exchange_id="bitget", answers=answers).pack()
        text = await send(dispatcher, bot, callback_update(erin, step))
        assert "Already have a Bitget account?" in text, verdict
        assert "🔗 Link my UID" in labels(bot)


async def test_back_start_over_and_link_my_uid(db, dispatcher, bot) -> None:
    erin = await registered(dispatcher, bot)
    await open_check(dispatcher, bot, erin, "bingx")
    text = await send(dispatcher, bot, callback_update(erin, press(bot, "No")))
    assert "Would you rather keep this BingX account" in text

    text = await send(dispatcher, bot, callback_update(erin, press(bot, "↺ Start over")))
    assert "Did you open this BingX account through our link" in text
    assert "ask BingX support" in text  # the first screen, with what BingX allows

    await send(dispatcher, bot, callback_update(erin, press(bot, "No")))
    text = await send(dispatcher, bot, callback_update(erin, press(bot, "Yes")))
    assert "whether your account can be moved to our invitation code" in text
    text = await send(dispatcher, bot, callback_update(erin, press(bot, "« Back")))
    assert "Your rebate: <b>60%</b>" in text  # the exchange card

    await open_check(dispatcher, bot, erin, "bingx")
    await send(dispatcher, bot, callback_update(erin, press(bot, "Yes")))
    text = await send(dispatcher, bot, callback_update(erin, press(bot, "🔗 Link my UID")))
    assert "Send your <b>BingX</b> UID" in text


async def test_support_button_on_the_verdict_when_there_is_a_contact(
    db, support, bot
) -> None:
    support.workflow_data["support_contact"] = "@cr_support"
    erin = await registered(support, bot)
    step = ExistingCB(exchange_id="binance", answers="ny").pack()
    text = await send(support, bot, callback_update(erin, step))
    assert "one verified account per person" in text and "/support" in text
    urls = [(b.text, b.url) for b in keyboard(bot) if b.url]
    assert ("💬 Write to support", "https://t.me/cr_support") in urls


async def test_a_stale_or_forged_step_starts_over_gracefully(db, dispatcher, bot) -> None:
    erin = await registered(dispatcher, bot)
    for answers in ("yy", "nu", "z", "nnnnnnnnnnnnnnnnnnnn"):
        step = ExistingCB(exchange_id="okx", answers=answers).pack()
        text = await send(dispatcher, bot, callback_update(erin, step))
        assert "These questions have changed" in text, answers
        assert "Did you open this OKX account through our link" in text
        assert labels(bot) == ["Yes", "No", "Not sure", "« Back"]
    # A hand-made callback that aiogram cannot even unpack, and an unknown exchange.
    text = await send(dispatcher, bot, callback_update(erin, "ea:okx:n:extra"))
    assert "out of date" in text
    text = await send(dispatcher, bot, callback_update(
        erin, ExistingCB(exchange_id="nope", answers="n").pack()))
    assert "not available right now" in text
    assert not await Event.filter(name="existing_account_checked", user_id=erin.id).exists()


async def test_russian_texts_for_a_russian_user(db, dispatcher, bot) -> None:
    boris = await registered(dispatcher, bot, "ru")
    text = await open_check(dispatcher, bot, boris, "okx")
    assert "Уже есть аккаунт на OKX?" in text
    assert "Вы открыли этот аккаунт OKX по нашей ссылке" in text
    assert labels(bot) == ["Да", "Нет", "Не знаю", "« Назад"]
    text = await send(dispatcher, bot, callback_update(boris, press(bot, "Нет")))
    assert "Вы прошли верификацию личности (KYC)" in text
    assert "↺ Начать заново" in labels(bot)
    text = await send(dispatcher, bot, callback_update(boris, press(bot, "Да")))
    assert "не может получать кэшбэк через нас" in text
    assert "поддержка OKX поможет перенести на него верификацию" in text
    assert labels(bot)[:2] == ["Открыть OKX ↗", "🔗 Привязать UID"]
