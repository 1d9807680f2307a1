""""I already have an account": a few questions per exchange that end in a verdict.

Pure data and logic, no Telegram. Every exchange has a small decision tree: a question names
its answers and where each leads, to another question or to a verdict. The facts behind the
trees are the per-exchange paragraphs of the catalog (``existing.<exchange_id>``); where a fact
is not known, the verdict sends the trader to support rather than guess.

The answers so far travel as a short string of one-letter codes (``"ny"``: No, then Yes), so a
step needs no stored state and a stale button is simply a string that does not fit the tree.

Texts: ``existing.q.<question>``, ``existing.answer.<answer>``, ``existing.verdict.<verdict>``,
``existing.kind.<kind>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Answer(StrEnum):
    YES = "y"
    NO = "n"
    UNSURE = "u"


class VerdictKind(StrEnum):
    LINK_AS_IS = "link"  # the account earns through us already: link its UID
    NEW_ACCOUNT = "new"  # this account cannot earn through us: open one through our link
    ASK_FIRST = "ask"  # only the exchange's (or our) support can say


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    key: str
    kind: VerdictKind


ROOT = "via_link"  # a question; never also the name of a verdict

VERDICTS: dict[str, VerdictKind] = {
    "ours": VerdictKind.LINK_AS_IS,
    "unsure": VerdictKind.LINK_AS_IS,
    "new_account": VerdictKind.NEW_ACCOUNT,
    "new_email": VerdictKind.NEW_ACCOUNT,
    "new_email_kyc": VerdictKind.ASK_FIRST,
    "bybit_kyc": VerdictKind.NEW_ACCOUNT,
    "okx_kyc": VerdictKind.NEW_ACCOUNT,
    "binance_unverified": VerdictKind.NEW_ACCOUNT,
    "binance_kyc": VerdictKind.ASK_FIRST,
    "bitget_bind": VerdictKind.ASK_FIRST,
    "bitget_new": VerdictKind.NEW_ACCOUNT,
    "bitget_kyc": VerdictKind.ASK_FIRST,
    "bingx_ask": VerdictKind.ASK_FIRST,
    "unknown": VerdictKind.ASK_FIRST,
}

Tree = dict[str, dict[Answer, str]]  # question -> answer -> next question or verdict


def _opened_through_us(otherwise: str) -> dict[Answer, str]:
    """The first question of every tree: an account opened through our link earns already."""
    return {Answer.YES: "ours", Answer.NO: otherwise, Answer.UNSURE: "unsure"}


def _kyc_tree(verified: str, unverified: str) -> Tree:
    return {
        ROOT: _opened_through_us("kyc"),
        "kyc": {Answer.YES: verified, Answer.NO: unverified},
    }


# A referrer is bound at registration, a new account needs another e-mail, and nothing is
# known about verifying a second account with the same identity (so: ask first).
_NEW_EMAIL = _kyc_tree("new_email_kyc", "new_email")

TREES: dict[str, Tree] = {
    "mexc": _NEW_EMAIL,
    "weex": _NEW_EMAIL,
    "bitmart": _NEW_EMAIL,
    "kucoin": _NEW_EMAIL,
    "htx": _NEW_EMAIL,
    "blofin": _NEW_EMAIL,
    # Bybit's KYC transfer moves the verification to the new account.
    "bybit": _kyc_tree("bybit_kyc", "new_account"),
    # OKX support can help to move the verification.
    "okx": _kyc_tree("okx_kyc", "new_account"),
    # Binance: one verified account per person.
    "binance": _kyc_tree("binance_kyc", "binance_unverified"),
    # Bitget: a referral code can be bound shortly after registration, before any trade; one
    # account per verified identity.
    "bitget": {
        ROOT: _opened_through_us("recent"),
        "recent": {Answer.YES: "traded", Answer.NO: "kyc"},
        "traded": {Answer.YES: "kyc", Answer.NO: "bitget_bind"},
        "kyc": {Answer.YES: "bitget_kyc", Answer.NO: "bitget_new"},
    },
    # BingX: support may move an account to our invitation code.
    "bingx": {
        ROOT: _opened_through_us("keep"),
        "keep": {Answer.YES: "bingx_ask", Answer.NO: "new_account"},
    },
}

# An exchange we know nothing about: support finds out.
UNKNOWN_TREE: Tree = {ROOT: _opened_through_us("unknown")}

MAX_ANSWERS = 8  # far deeper than any tree; longer answer strings are not even read


def has_facts(exchange_id: str) -> bool:
    """Whether the catalog holds the researched paragraph ``existing.<exchange_id>``."""
    return exchange_id in TREES


def _tree(exchange_id: str) -> Tree:
    return TREES.get(exchange_id, UNKNOWN_TREE)


def _node(tree: Tree, name: str) -> Question | Verdict:
    if name in tree:
        return Question(name, tuple(tree[name]))
    return Verdict(name, VERDICTS[name])


def first_question(exchange_id: str) -> Question:
    node = _node(_tree(exchange_id), ROOT)
    assert isinstance(node, Question)
    return node


def next_step(exchange_id: str, answers: str) -> Question | Verdict | None:
    """The question to ask after ``answers`` (one code per answer, in order), or the verdict
    they lead to; None when they do not fit the exchange's tree (a stale or forged button)."""
    if len(answers) > MAX_ANSWERS:
        return None
    tree = _tree(exchange_id)
    name = ROOT
    for code in answers:
        if name not in tree:  # a verdict was reached already
            return None
        try:
            answer = Answer(code)
        except ValueError:
            return None
        if answer not in tree[name]:
            return None
        name = tree[name][answer]
    return _node(tree, name)


def all_verdicts(exchange_id: str) -> dict[str, str]:
    """Every verdict of an exchange's tree with the answers that reach it (first found), for
    tests and documentation."""
    tree = _tree(exchange_id)
    found: dict[str, str] = {}
    pending = [(ROOT, "")]
    while pending:
        name, answers = pending.pop(0)
        if name not in tree:
            found.setdefault(name, answers)
            continue
        pending += [(target, answers + answer.value) for answer, target in tree[name].items()]
    return found


def question_keys() -> set[str]:
    return {name for tree in (*TREES.values(), UNKNOWN_TREE) for name in tree}
