"""The one translation catalog (locales/<lang>/messages.po), used by the bot and the Mini App.

Message ids are keys namespaced by feature (``menu.exchanges``, ``link.invalid.format``); the
English catalog holds the English text. Translate first, then format: ``t("key", name=...)``.
The .po files are read with Babel and kept in memory; nothing is compiled to disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED_LOCALES = ("en", "ru")
DEFAULT_LOCALE = "en"


class MissingTranslation(KeyError):
    pass


@dataclass(frozen=True)
class Translator:
    """Texts of one locale; falls back to the default locale's text for a missing key."""

    locale: str
    _messages: dict[str, str]
    _fallback: dict[str, str]

    def has(self, key: str) -> bool:
        return key in self._messages or key in self._fallback

    def __call__(self, key: str, /, **params: object) -> str:
        text = self._messages.get(key) or self._fallback.get(key)
        if text is None:
            raise MissingTranslation(key)
        return text.format(**params) if params else text


class Catalog:
    def __init__(self, messages: dict[str, dict[str, str]], default_locale: str = DEFAULT_LOCALE):
        if default_locale not in messages:
            raise ValueError(f"no catalog for the default locale {default_locale!r}")
        self._messages = messages
        self.default_locale = default_locale
        self._translators = {
            locale: Translator(locale, texts, messages[default_locale])
            for locale, texts in messages.items()
        }

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, default_locale: str = DEFAULT_LOCALE) -> Catalog:
        messages: dict[str, dict[str, str]] = {}
        for po_file in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
            locale = po_file.parent.parent.name
            with po_file.open("rb") as handle:
                catalog = read_po(handle, locale=locale)
            messages[locale] = {
                str(message.id): str(message.string)
                for message in catalog
                if message.id and message.string
            }
        return cls(messages, default_locale)

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._translators)

    def keys(self, locale: str) -> set[str]:
        return set(self._messages[locale])

    def resolve_locale(self, *candidates: str | None) -> str:
        """The first supported of: the user's choice, Telegram's language_code, the default."""
        for candidate in candidates:
            if candidate:
                short = candidate.split("-")[0].lower()
                if short in self._translators:
                    return short
        return self.default_locale

    def translator(self, locale: str) -> Translator:
        return self._translators.get(locale) or self._translators[self.default_locale]

    def all_texts(self, key: str) -> Iterable[str]:
        """The text of a key in every locale (used to match reply-keyboard buttons)."""
        return [t(key) for t in self._translators.values()]
