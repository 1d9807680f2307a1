"""The catalog: both languages have every key, with the same placeholders, and every key the
code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

from services.i18n import Catalog

ROOT = Path(__file__).resolve().parent.parent
# t("key"…) or t(f"prefix.{…}") in handlers, bot and webapp code.
_KEY_USE = re.compile(r"""\bt\(\s*f?["']([a-z_.]+)""")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_locale_has_every_key_with_the_same_placeholders() -> None:
    catalog = Catalog.load()
    assert set(catalog.locales) >= {"en", "ru"}
    english = catalog.keys("en")
    for locale in catalog.locales:
        assert catalog.keys(locale) == english, locale
        for key in english:
            assert _placeholders(catalog.translator(locale)(key)) == _placeholders(
                catalog.translator("en")(key)
            ), (locale, key)


def test_keys_used_in_code_exist() -> None:
    english = Catalog.load().keys("en")
    for folder in ("handlers", "bot", "webapp"):
        for path in (ROOT / folder).rglob("*.py"):
            for key in _KEY_USE.findall(path.read_text()):
                if key.endswith("."):  # an f-string prefix: some key must start with it
                    assert any(k.startswith(key) for k in english), (path, key)
                else:
                    assert key in english, (path, key)


def test_every_exchange_has_an_existing_account_text() -> None:
    from exchanges.registry import PRODUCT_EXCHANGES

    english = Catalog.load().keys("en")
    for exchange_id in PRODUCT_EXCHANGES:
        assert f"existing.{exchange_id}" in english
