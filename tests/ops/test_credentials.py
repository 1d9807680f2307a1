"""Exchange API credentials at rest (issue 14): Fernet under keys derived from SECRET_KEY, a
round trip, rotation through SECRET_KEY_PREVIOUS (an old token still opens, then is re-encrypted
under the new key only), a wrong key as a clear error, and the stored snapshot the adapter
factories read (on real PostgreSQL)."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from tortoise import Tortoise

from bot.app import build_credentials
from bot.settings import load_settings
from services.credential_store import CredentialBook
from services.credentials import ApiSecret, CredentialCipher, CredentialError, previous_keys
from services.ledger.entries import ledger_transaction

KEY, VALUE, PASSPHRASE = "AKIA-test-key-7Q2W", "very-secret-value-123", "pass-phrase"
SECRET = ApiSecret(KEY, VALUE, PASSPHRASE)
OLD, NEW = b"the-old-master-key-0123456789abcdef", b"the-new-master-key-fedcba9876543210"


def test_a_round_trip_and_tokens_that_show_nothing() -> None:
    cipher = CredentialCipher(NEW)
    token = cipher.encrypt(SECRET)
    assert cipher.decrypt(token) == SECRET
    for part in (KEY, VALUE, PASSPHRASE, "secret"):
        assert part not in token
    assert cipher.encrypt(SECRET) != token  # a fresh IV every time
    assert SECRET.hint == "7Q2W"
    for shown in (repr(SECRET), str(SECRET), f"{SECRET}"):
        assert VALUE not in shown and KEY not in shown
    # The master key is not the Fernet key: a Fernet keyed with it directly cannot open it.
    with pytest.raises(Exception):  # noqa: B017 - any failure: the point is it does not open
        Fernet(Fernet.generate_key()).decrypt(token.encode())


def test_rotation_keeps_old_tokens_readable_and_moves_them_to_the_new_key() -> None:
    old_token = CredentialCipher(OLD).encrypt(SECRET)
    rotating = CredentialCipher(NEW, previous_keys(OLD.decode()))
    assert rotating.decrypt(old_token) == SECRET  # still opens during the rotation
    assert not rotating.is_current(old_token)
    new_token = rotating.rotate(old_token)
    assert rotating.is_current(new_token)
    assert CredentialCipher(NEW).decrypt(new_token) == SECRET  # the new key alone opens it
    with pytest.raises(CredentialError):
        CredentialCipher(OLD).decrypt(new_token)  # and the old one no longer does
    # New tokens are made under the new key only.
    assert CredentialCipher(NEW).decrypt(rotating.encrypt(SECRET)) == SECRET


def test_a_wrong_key_is_a_clear_error_that_names_no_secret() -> None:
    token = CredentialCipher(OLD).encrypt(SECRET)
    with pytest.raises(CredentialError) as raised:
        CredentialCipher(NEW).decrypt(token)
    assert "SECRET_KEY" in str(raised.value) and KEY not in str(raised.value)
    with pytest.raises(CredentialError):
        CredentialCipher(NEW).decrypt("not a token at all")
    with pytest.raises(CredentialError):
        CredentialCipher(NEW).rotate(token)
    with pytest.raises(ValueError):
        CredentialCipher(b"")


def test_previous_keys_setting_reads_one_or_several() -> None:
    assert previous_keys(None) == [] and previous_keys(" ") == []
    assert previous_keys("a, b,,c") == [b"a", b"b", b"c"]
    settings = load_settings({"SECRET_KEY_PREVIOUS": "old-one", "EXCHANGE_OKX_API_KEY": "k"})
    assert settings.secret_key_previous is not None
    assert "old-one" not in repr(settings)
    book = build_credentials(settings, b"new-one")
    assert book.env_keys == frozenset({"okx"})


async def _store(book: CredentialBook, exchange_id: str, secret: ApiSecret) -> None:
    async with ledger_transaction() as conn:
        await book.replace(conn, exchange_id, secret, None, 900)


async def test_the_book_reads_rotates_and_reports_unreadable_rows(
    db: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    before = CredentialBook(CredentialCipher(OLD), max_age=0)
    await _store(before, "okx", SECRET)
    await _store(before, "bybit", ApiSecret("bybit-key-ABCD", "bybit-secret-xyz"))
    # SECRET_KEY changed, the old one kept as previous: everything still reads.
    after = CredentialBook(CredentialCipher(NEW, [OLD]), max_age=0)
    assert await after.refresh()
    assert after.lookup("okx") == SECRET and after.has_row("bybit")
    assert not await after.refresh()  # nothing changed: no re-read of the secrets
    assert await after.rotate_all() == (2, 0)
    assert await after.rotate_all() == (0, 0)  # already under the new key
    conn = Tortoise.get_connection("default")
    tokens = [r["ciphertext"] for r in await conn.execute_query_dict(
        "SELECT ciphertext FROM exchange_credentials ORDER BY id", [])]
    assert all(CredentialCipher(NEW).is_current(token) for token in tokens)
    # The old key dropped from the settings: the new key alone reads them.
    only_new = CredentialBook(CredentialCipher(NEW), max_age=0)
    await only_new.refresh()
    assert only_new.lookup("okx") == SECRET
    # A key nobody kept: the row is there but unreadable, said in the log, no crash.
    lost = CredentialBook(CredentialCipher(b"some-other-master-key-entirely"), max_age=0)
    await lost.refresh()
    assert lost.has_row("okx") and lost.lookup("okx") is None and lost.unreadable("okx")
    assert await lost.rotate_all() == (0, 2)
    assert "cannot be decrypted" in caplog.text
    for part in (KEY, VALUE, "bybit-secret-xyz"):
        assert part not in caplog.text


async def test_a_replacement_revokes_the_old_row_and_one_stays_current(db: str) -> None:
    book = CredentialBook(CredentialCipher(NEW), max_age=0)
    await _store(book, "okx", SECRET)
    version = (await book.refresh(), book.version("okx"))[1]
    await _store(book, "okx", ApiSecret("second-key-ZZZZ", "second-secret"))
    assert await book.refresh() and book.version("okx") != version
    assert book.lookup("okx") == ApiSecret("second-key-ZZZZ", "second-secret")
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT hint, revoked_at IS NULL AS current, set_by FROM exchange_credentials "
        "ORDER BY id", [])
    assert [(r["hint"], r["current"], r["set_by"]) for r in rows] == [
        ("7Q2W", False, 900), ("ZZZZ", True, 900)]
    # The database itself refuses a second current row for one exchange.
    with pytest.raises(Exception, match="exchange_credentials_one_current"):
        await Tortoise.get_connection("default").execute_query(
            "INSERT INTO exchange_credentials (exchange_id, ciphertext, hint, created_at) "
            "VALUES ('okx', 'x', 'x', now())", [])
