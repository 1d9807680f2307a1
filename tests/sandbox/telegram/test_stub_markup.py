"""Telegram HTML parsing and the page's safe rendering."""

from __future__ import annotations

import pytest

from sandbox.telegram import markup


def test_html_becomes_plain_text_with_utf16_entities() -> None:
    parsed = markup.parse_html('  😀 <b>bold</b> &lt;x&gt; <a href="https://e.com">link</a>\n')
    assert parsed.text == "😀 bold <x> link"
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 4},  # the emoji is two UTF-16 units
        {"type": "text_link", "url": "https://e.com", "offset": 12, "length": 4},
    ]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("<b>open", 'start tag "b"'),
        ("<b>x</i>", "Unmatched end tag"),
        ("x</b>", "Unexpected end tag"),
        ("a<br>b", 'Unsupported start tag "br"'),
        ("1 < 2", "Unexpected end of name token"),
        ("<span>x</span>", 'Unsupported start tag "span"'),
    ],
)
def test_html_errors(source: str, error: str) -> None:
    with pytest.raises(markup.ParseError, match=error):
        markup.parse_html(source)


def test_pre_code_language_is_one_entity() -> None:
    parsed = markup.parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert parsed.entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


def test_safe_html_keeps_formatting_and_drops_dangerous_links() -> None:
    parsed = markup.parse_html(
        '<b>hi</b> <a href="javascript:alert(1)">x</a> <tg-spoiler>s</tg-spoiler> &lt;script&gt;'
    )
    rendered = markup.safe_html(parsed.text, parsed.entities)
    assert rendered == '<b>hi</b> <a>x</a> <span class="tg-spoiler">s</span> &lt;script&gt;'


def test_command_entities() -> None:
    assert markup.command_entities("/start ref_1") == [
        {"type": "bot_command", "offset": 0, "length": 6}
    ]
    assert markup.command_entities("see /help@cr_bot, not a/b") == [
        {"type": "bot_command", "offset": 4, "length": 12}
    ]


def test_safe_html_does_not_double_break_after_blocks() -> None:
    parsed = markup.parse_html("<b>Balance</b>\n<pre>BTC 1</pre>\nNext")
    assert parsed.text == "Balance\nBTC 1\nNext"  # the stored text keeps Telegram's newlines
    assert markup.safe_html(parsed.text, parsed.entities) == (
        "<b>Balance</b>\n<pre>BTC 1</pre>Next"
    )
