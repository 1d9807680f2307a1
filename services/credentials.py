"""Exchange API credentials at rest: Fernet tokens under keys derived from SECRET_KEY.

The master key is never used as a Fernet key itself: each is derived with HKDF-SHA256 (its own
``info``), so the same SECRET_KEY can keep signing sessions and links elsewhere without the two
uses ever sharing key material. Rotation: after SECRET_KEY changes, the old value goes into
SECRET_KEY_PREVIOUS; MultiFernet then decrypts tokens made under either and encrypts (and
``rotate`` re-encrypts) under the new one only. Once every token is re-encrypted (the worker
does it at start, an admin can from the Exchanges screen), the previous key can be dropped.

Nothing here logs or returns the secrets except ``decrypt``'s answer, which only the adapter
factories read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"cryptorebate/exchange-credentials/v1"
HINT_LENGTH = 4


class CredentialError(Exception):
    """A token none of the configured keys opens (SECRET_KEY changed without
    SECRET_KEY_PREVIOUS, or the row was tampered with). Says so, never what it holds."""


@dataclass(frozen=True)
class ApiSecret:
    """What an exchange adapter needs to sign requests. ``repr`` shows none of it."""

    api_key: str
    api_secret: str | None = None
    api_password: str | None = None

    def __repr__(self) -> str:
        return f"ApiSecret(hint={self.hint!r})"

    __str__ = __repr__

    @property
    def hint(self) -> str:
        """The key's last characters: enough to tell two keys apart, useless to an attacker."""
        return hint_of(self.api_key)


def hint_of(api_key: str) -> str:
    return api_key[-HINT_LENGTH:] if len(api_key) >= 2 * HINT_LENGTH else ""


def _fernet(master: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master)
    return Fernet(base64.urlsafe_b64encode(derived))


class CredentialCipher:
    """MultiFernet over the current master key first, then the previous ones."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        if not current:
            raise ValueError("the master key is empty")
        self._current = _fernet(current)
        self._fernet = MultiFernet([self._current, *(_fernet(k) for k in previous if k)])

    def encrypt(self, secret: ApiSecret) -> str:
        plain = {"api_key": secret.api_key, "api_secret": secret.api_secret,
                 "api_password": secret.api_password}
        return self._fernet.encrypt(json.dumps(plain).encode()).decode()

    def decrypt(self, token: str) -> ApiSecret:
        try:
            plain = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise CredentialError(
                "the stored credentials cannot be decrypted with SECRET_KEY (or "
                "SECRET_KEY_PREVIOUS): was the key changed without keeping the old one?"
            ) from None
        return ApiSecret(plain["api_key"], plain.get("api_secret"), plain.get("api_password"))

    def rotate(self, token: str) -> str:
        """The same secret, encrypted under the current key (already so: a fresh token)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise CredentialError("the stored credentials cannot be decrypted with "
                                  "SECRET_KEY (or SECRET_KEY_PREVIOUS)") from None

    def is_current(self, token: str) -> bool:
        """Whether the current key alone opens it (no rotation needed)."""
        try:
            self._current.decrypt(token.encode())
        except InvalidToken:
            return False
        return True


def previous_keys(setting: str | None) -> list[bytes]:
    """SECRET_KEY_PREVIOUS: one old master key, or several separated by commas."""
    return [part.strip().encode() for part in (setting or "").split(",") if part.strip()]
