"""Payout address checks per network, checksums included (issue 12).

A payout sent to a mistyped address is lost, so an address is accepted only when its own
checksum holds: TRON base58check, EIP-55 for mixed-case EVM addresses, BTC base58check and
bech32 / bech32m. An address that is valid on another network family than the one picked is
refused as ``wrong_network`` with ``looks_like`` naming that family, so the trader can be told
"this is an Ethereum address" rather than just "invalid". ERC20 and BEP20 share one address
format (EVM): an 0x address is valid for both and the two cannot be told apart.

Reason codes (stable, for messages and metrics): empty, too_long, bad_characters, bad_checksum,
wrong_network, testnet, unsupported_network, invalid.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

import base58
from bech32 import CHARSET, bech32_hrp_expand, bech32_polymod, convertbits
from eth_hash.auto import keccak

MAX_LENGTH = 128  # the payout_addresses.address column
FAMILIES = {"TRC20": "TRC20", "ERC20": "EVM", "BEP20": "EVM", "BTC": "BTC"}
_BASE58 = set(base58.BITCOIN_ALPHABET.decode())
_HEX = set(string.hexdigits)
# bech32 1.2.0 on PyPI knows only the BIP-173 constant (its decode() accepts v1+ with a bech32
# checksum and refuses every bech32m address), so the BIP-350 rule is applied here on top of
# its polymod: the checksum must leave 1 (bech32, witness v0) or BECH32M (witness v1..16).
_BECH32, _BECH32M = 1, 0x2BC830A3


@dataclass(frozen=True)
class AddressCheck:
    address: str | None  # the form to store and pay to; None when refused
    reason: str | None = None  # None when accepted, else one of the reason codes above
    looks_like: str | None = None  # with wrong_network: "TRC20" | "EVM" | "BTC"

    @property
    def ok(self) -> bool:
        return self.reason is None


def _refused(reason: str, looks_like: str | None = None) -> AddressCheck:
    return AddressCheck(None, reason, looks_like)


def _tron(text: str) -> AddressCheck:
    # Base58check of 0x41 + a 20-byte account hash: 34 characters, always starting with 'T'.
    if not text.startswith("T") or len(text) != 34:
        return _refused("invalid")
    if not set(text) <= _BASE58:  # 0, O, I and l are not base58: a typo, not another format
        return _refused("bad_characters")
    try:
        payload = base58.b58decode_check(text)
    except ValueError:
        return _refused("bad_checksum")
    if len(payload) != 21 or payload[0] != 0x41:
        return _refused("invalid")
    return AddressCheck(text)


def _eip55(body: str) -> str:
    """EIP-55: a hex letter is upper case where the keccak-256 nibble of the lower-case
    address at its position is 8 or more."""
    lower = body.lower()
    digest = keccak(lower.encode("ascii")).hex()
    pairs = zip(lower, digest[:40], strict=True)  # 40 characters, the hash's first 40 nibbles
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in pairs)


def _evm(text: str) -> AddressCheck:
    if text[:2] not in ("0x", "0X") or len(text) != 42:
        return _refused("invalid")
    body = text[2:]
    if not set(body) <= _HEX:
        return _refused("bad_characters")
    checksummed = _eip55(body)
    # One case throughout carries no checksum (EIP-55 is backwards compatible with it): accept
    # and store the checksummed form. Mixed case is a checksum and must match exactly.
    if body not in (body.lower(), body.upper()) and "0x" + body != checksummed:
        return _refused("bad_checksum")
    return AddressCheck(checksummed)


def _segwit(text: str) -> AddressCheck:
    """BIP-173 / BIP-350 segwit address with hrp bc (mainnet) or tb (testnet)."""
    if text != text.lower() and text != text.upper():
        return _refused("invalid")  # BIP-173: mixed case must be refused
    lower = text.lower()  # one case throughout is allowed; lower case is the canonical form
    hrp, _, data_part = lower.rpartition("1")
    if hrp not in ("bc", "tb") or len(lower) > 90 or len(data_part) < 7:
        return _refused("invalid")
    if not set(data_part) <= set(CHARSET):  # b, i and o are not in the bech32 alphabet
        return _refused("bad_characters")
    data = [CHARSET.index(c) for c in data_part]
    constant = bech32_polymod(bech32_hrp_expand(hrp) + data)
    if constant not in (_BECH32, _BECH32M):
        return _refused("bad_checksum")  # neither code: most likely a typo
    version, program = data[0], convertbits(data[1:-6], 5, 8, False)
    if version > 16 or program is None or not 2 <= len(program) <= 40:
        return _refused("invalid")  # BIP-173 bounds; None: bad padding in the 5-to-8 bit step
    if version == 0 and len(program) not in (20, 32):
        return _refused("invalid")  # v0 is P2WPKH (20 bytes) or P2WSH (32 bytes) only
    # BIP-350: v0 must use bech32, v1..16 bech32m; the other constant is a failed checksum.
    if constant != (_BECH32 if version == 0 else _BECH32M):
        return _refused("bad_checksum")
    # BIP-350 asks wallets to accept any v1..16 program of 2..40 bytes (future soft forks), but
    # coins sent to one today can be spent by anyone and exchanges refuse them: we pay to
    # P2WPKH, P2WSH and taproot (v1, 32 bytes) only, and say why otherwise.
    if version > 1 or (version == 1 and len(program) != 32):
        return _refused("future_segwit")
    return AddressCheck(lower) if hrp == "bc" else _refused("testnet")


def _base58_btc(text: str) -> AddressCheck:
    if not 25 <= len(text) <= 35:
        return _refused("invalid")
    if not set(text) <= _BASE58:
        return _refused("bad_characters")
    try:
        payload = base58.b58decode_check(text)
    except ValueError:
        return _refused("bad_checksum")
    if len(payload) != 21:  # version byte + 20-byte hash160
        return _refused("invalid")
    if payload[0] in (0x00, 0x05):  # P2PKH (1...) and P2SH (3...) on mainnet
        return AddressCheck(text)
    return _refused("testnet" if payload[0] in (0x6F, 0xC4) else "invalid")  # m/n and 2


def _btc(text: str) -> AddressCheck:
    if text[:3].lower() in ("bc1", "tb1"):
        return _segwit(text)
    if text[:1] in ("1", "3", "m", "n", "2"):
        return _base58_btc(text)
    return _refused("invalid")


_CHECKS: dict[str, Callable[[str], AddressCheck]] = {"TRC20": _tron, "EVM": _evm, "BTC": _btc}


def check_address(network: str, text: str) -> AddressCheck:
    """Check ``text`` as a payout address on ``network`` (the network column: TRC20, ERC20,
    BEP20, BTC). Accepted: ``address`` is the form to store. Refused: ``reason`` says why."""
    family = FAMILIES.get(network)
    if family is None:
        return _refused("unsupported_network")
    text = text.strip()  # pasted addresses often carry a newline or spaces around them
    if not text:
        return _refused("empty")
    if len(text) > MAX_LENGTH:
        return _refused("too_long")
    # Every supported format is ASCII letters and digits: anything else (inner spaces, quotes,
    # zero-width or look-alike Unicode characters) is refused before any decoding.
    if not (text.isascii() and text.isalnum()):
        return _refused("bad_characters")
    result = _CHECKS[family](text)
    if result.ok:
        return result
    for other, check in _CHECKS.items():
        if other != family and check(text).ok:
            return _refused("wrong_network", other)
    return result
