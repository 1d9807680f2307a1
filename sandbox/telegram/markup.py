"""Telegram-style text handling: HTML parse_mode -> plain text + entities, and safe display HTML.

Telegram measures entity offsets in UTF-16 code units and rejects HTML it cannot parse;
the stub mirrors both so that bugs (an unescaped ``<``, a ``<br>``, a forgotten ``</b>``)
fail in tests the way they would fail in production.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from aiogram.types import MessageEntity
from aiogram.utils.text_decorations import html_decoration

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

# Accepted tag -> entity type; ``None`` = accepted but produces no entity.
_TAGS: dict[str, str | None] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only valid with class="tg-spoiler", checked below
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": None,
}
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)"
    r"\s*/?>"
)
_ATTR_RE = re.compile(
    r"([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?"
)
_CHARREF_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Same shape Telegram recognises for commands typed by a user: at a word start, optional @bot.
_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_SAFE_SCHEMES = ("http://", "https://", "tg://", "mailto:")


class ParseError(ValueError):
    """The text cannot be parsed; ``str(exc)`` is Telegram's description suffix."""


@dataclass(frozen=True)
class ParsedText:
    text: str
    entities: list[dict[str, Any]]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _unescape(chunk: str) -> str:
    def repl(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("#x"):
            return chr(int(ref[2:], 16))
        if ref.startswith("#"):
            return chr(int(ref[1:]))
        return _NAMED[ref]

    return _CHARREF_RE.sub(repl, chunk)


def _attrs(raw: str) -> dict[str, str]:
    return {
        m.group(1).lower(): next((g for g in m.group(2, 3, 4) if g is not None), "")
        for m in _ATTR_RE.finditer(raw)
    }


def parse_html(source: str) -> ParsedText:
    """Parse Telegram HTML; raise ParseError like Telegram's "can't parse entities"."""
    out: list[str] = []
    out_len = 0  # UTF-16 length of ``out`` so far
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, start offset, entity draft)
    entities: list[dict[str, Any]] = []
    pos = 0
    while True:
        lt = source.find("<", pos)
        chunk = _unescape(source[pos : lt if lt >= 0 else len(source)])
        out.append(chunk)
        out_len += utf16_len(chunk)
        if lt < 0:
            break
        byte_offset = len(source[:lt].encode("utf-8"))
        m = _TAG_RE.match(source, lt)
        if m is None:
            raise ParseError(f"Unexpected end of name token at byte offset {byte_offset}")
        closing, name, raw_attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
        pos = m.end()
        if closing:
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {byte_offset}")
            open_name, start, draft = stack.pop()
            if open_name != name:
                raise ParseError(
                    f'Unmatched end tag at byte offset {byte_offset}, expected "</{open_name}>", '
                    f'found "</{name}>"'
                )
            if draft and out_len > start:
                entities.append({**draft, "offset": start, "length": out_len - start})
            continue
        if name not in _TAGS:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
        attrs = _attrs(raw_attrs)
        draft = _entity_draft(name, attrs, stack, byte_offset)
        stack.append((name, out_len, draft))
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return _strip(ParsedText("".join(out), _merge_pre_code(entities)))


def _entity_draft(
    name: str, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, Any]]], offset: int
) -> dict[str, Any]:
    kind = _TAGS[name]
    if kind is None:
        return {}
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise ParseError(f'Unsupported start tag "span" at byte offset {offset}')
    if kind == "text_link":
        href = attrs.get("href", "")
        return {"type": "text_link", "url": href} if href else {}
    if kind == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one "pre" entity with a language in Telegram.
        lang = attrs.get("class", "")
        return {"type": "pre+code", "language": lang.removeprefix("language-")} if lang else {}
    if kind == "blockquote" and "expandable" in attrs:
        return {"type": "expandable_blockquote"}
    if kind == "custom_emoji":
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
    return {"type": kind}


def _merge_pre_code(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold the language of ``<pre><code class=language-x>`` into the pre entity."""
    langs = {
        (e["offset"], e["length"]): e["language"] for e in entities if e["type"] == "pre+code"
    }
    merged = []
    for e in entities:
        if e["type"] == "pre+code":
            continue
        if e["type"] == "pre" and (e["offset"], e["length"]) in langs:
            e = {**e, "language": langs[(e["offset"], e["length"])]}
        merged.append(e)
    return sorted(merged, key=lambda e: (e["offset"], -e["length"]))


def _strip(parsed: ParsedText) -> ParsedText:
    """Telegram trims surrounding whitespace and shifts/clips entities to match."""
    text = parsed.text
    lead = utf16_len(text) - utf16_len(text.lstrip())
    stripped = text.strip()
    total = utf16_len(stripped)
    entities = []
    for e in parsed.entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, total)
        if end > start:
            entities.append({**e, "offset": start, "length": end - start})
    return ParsedText(stripped, entities)


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> ParsedText:
    """What Telegram stores for an outgoing text: plain text + entities."""
    if (parse_mode or "").lower() == "html":
        return parse_html(text)
    # MarkdownV2/Markdown are not parsed by the stub: the text is kept verbatim (see README).
    parsed = ParsedText(text, list(entities or []))
    return _strip(parsed)


def command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities for text typed by a user, so ``/start payload`` routes."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group(0)),
        }
        for m in _COMMAND_RE.finditer(text)
    ]


def safe_html(text: str, entities: list[dict[str, Any]]) -> str:
    """Display HTML for the chat page: only Telegram's formatting, every text node escaped."""
    typed = [MessageEntity.model_validate(e) for e in entities]
    return sanitize(html_decoration.unparse(text, typed))


def sanitize(source: str) -> str:
    """Re-emit parsed HTML with a fixed allow-list of tags and attributes."""
    parts: list[str] = []
    pos = 0
    after_block = False
    for m in _TAG_RE.finditer(source):
        parts.append(_text_node(source[pos : m.start()], after_block))
        pos = m.end()
        closing, name = m.group(1) == "/", m.group(2).lower()
        parts.append(_safe_tag(closing, name, _attrs(m.group(3))))
        after_block = closing and name in {"pre", "blockquote"}
    parts.append(_text_node(source[pos:], after_block))
    return "".join(parts)


def _text_node(raw: str, after_block: bool) -> str:
    # A <pre>/<blockquote> already ends its line; Telegram does not show the "\n" after
    # it as an extra blank line, so neither does the page.
    text = _unescape(raw)
    if after_block and text.startswith("\n"):
        text = text[1:]
    return html.escape(text)


def _safe_tag(closing: bool, name: str, attrs: dict[str, str]) -> str:
    simple = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre"}
    if name in simple or name == "blockquote":
        return f"</{name}>" if closing else f"<{name}>"
    if name in {"span", "tg-spoiler", "tg-emoji", "tg-time"}:
        if closing:
            return "</span>"
        is_spoiler = name == "tg-spoiler" or attrs.get("class") == "tg-spoiler"
        return '<span class="tg-spoiler">' if is_spoiler else "<span>"
    if name == "a":
        if closing:
            return "</a>"
        href = attrs.get("href", "")
        if not href.lower().startswith(_SAFE_SCHEMES):
            return "<a>"
        return f'<a href="{html.escape(href)}" target="_blank" rel="noopener noreferrer">'
    return ""
