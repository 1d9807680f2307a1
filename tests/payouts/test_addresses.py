"""services/payouts/addresses.py: payout address checks against published test vectors.

Sources: BIP-173 and BIP-350 (segwit address test vectors, mainnet and testnet), EIP-55 (the
checksummed addresses of its test cases, also in go-ethereum's TestAddressStringChecksum),
Bitcoin's genesis coinbase address and the P2SH example of the Bitcoin wiki, and the TRON
mainnet USDT (TRC20) contract with its hex form 41a614f8…13c.
"""

from __future__ import annotations

import string

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.payouts.addresses import AddressCheck, check_address

REASONS = {"empty", "too_long", "bad_characters", "bad_checksum", "wrong_network", "testnet",
           "unsupported_network", "invalid"}
ALNUM = string.ascii_letters + string.digits

USDT_TRC20 = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRON = {USDT_TRC20: "41a614f803b6fd780986a42c78ec9c7f77e6ded13c",
        "TDt9YtfuttvxD2Jv8F8v4JEDbnBBb1jVNt": "412aeb8add8337360e088b7d9ce4e857b9be60f3a7"}
GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"  # P2PKH, version 0x00
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"  # version 0x05
# EIP-55 "Normal" (mixed case, so they carry a checksum) and "All caps" / "All Lower" cases.
EIP55_MIXED = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
               "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
               "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
               "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]
EIP55_ONE_CASE = ["0x52908400098527886E0F7030069857D2E4169EE7",
                  "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
                  "0xde709f2102306220921060314715629080e2fb77",
                  "0x27b1fdb04752bbc536007a920d24acb045561c26"]
# BIP-350 valid segwit addresses on mainnet that we pay to (v0 bech32; v1 taproot bech32m)
SEGWIT_MAINNET = ["BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
                  "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"]
# BIP-350 valid too, but v1 40 bytes, v16 and v2: spendable by anyone today; refused with why
SEGWIT_FUTURE = ["bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
                 "BC1SW50QGDZ25J", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"]
SEGWIT_TESTNET = ["tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
                  "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
                  "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c"]
# BIP-350's invalid list, with the reason code each one gets here (BIP's reason in the comment).
BIP350_INVALID = [
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "invalid"),  # hrp
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bad_checksum"),  # bech32
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "bad_checksum"),  # for v1+
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "bad_checksum"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "bad_checksum"),  # bech32m for v0
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "bad_checksum"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "bad_characters"),  # 'o'
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "invalid"),  # version 17
    ("bc1pw5dgrnzv", "invalid"),  # program of 1 byte
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", "invalid"),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "invalid"),  # v0 program of 16 bytes
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "invalid"),  # mixed case
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "invalid"),  # padding
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "invalid"),  # padding
    ("bc1gmk9yu", "invalid"),  # empty data section
]
BIP173_INVALID = [
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "invalid"),  # hrp
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad_checksum"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "invalid"),  # version 17
    ("bc1rw5uspcuh", "invalid"),  # program length
    ("bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", "invalid"),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "invalid"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "invalid"),  # mixed case
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "invalid"),  # zero padding of more than 4 bits
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "invalid"),  # padding
    ("bc1gmk9yu", "invalid"),
]
# BIP-173 listed these v1+ addresses as valid with a bech32 checksum; BIP-350 replaced that
# checksum by bech32m for v1+, so they are refused now (their bech32m forms are accepted above).
BIP173_SUPERSEDED = ["bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
                     "BC1SW50QA3JX3S", "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj"]


def refused(reason: str, looks_like: str | None = None) -> AddressCheck:
    return AddressCheck(None, reason, looks_like)


def test_tron_addresses_are_accepted_and_decode_to_their_hex_form() -> None:
    for address, hex_form in TRON.items():
        assert check_address("TRC20", address) == AddressCheck(address)
        assert base58.b58decode_check(address).hex() == hex_form


def test_tron_typos_fail_the_checksum() -> None:
    assert check_address("TRC20", USDT_TRC20[:-1] + "u").reason == "bad_checksum"
    assert check_address("TRC20", USDT_TRC20.replace("Z", "z")).reason == "bad_checksum"
    # The contract address as it was quoted in the issue: 9 characters off, checksum fails.
    assert check_address("TRC20", "TR7NHqjeKQxGTCi8q8ZY4pgLh8mKkBJ2EN").reason == "bad_checksum"
    assert check_address("TRC20", USDT_TRC20.replace("L", "l")).reason == "bad_characters"
    assert check_address("TRC20", USDT_TRC20.lower()).reason == "invalid"  # no longer T…
    assert check_address("TRC20", USDT_TRC20[:-1]).reason == "invalid"  # 33 characters


def test_tron_needs_the_0x41_version_byte() -> None:
    for payload in (bytes([0x42]) + bytes(20), bytes([0x40]) + b"\xff" * 20):
        other = base58.b58encode_check(payload).decode()  # T…, 34 characters, checksum holds
        assert (other[0], len(other)) == ("T", 34)
        assert check_address("TRC20", other).reason == "invalid"


@pytest.mark.parametrize("network", ["ERC20", "BEP20"])
def test_eip55_vectors_are_accepted_as_given(network: str) -> None:
    for address in EIP55_MIXED + EIP55_ONE_CASE:
        assert check_address(network, address) == AddressCheck(address)


def test_one_case_evm_addresses_are_returned_checksummed() -> None:
    for address in EIP55_MIXED + EIP55_ONE_CASE:
        body = address[2:]
        for typed in ("0x" + body.lower(), "0x" + body.upper(), "0X" + body.upper()):
            assert check_address("ERC20", typed) == AddressCheck(address)


def test_a_mixed_case_evm_address_must_match_eip55() -> None:
    for address in EIP55_MIXED:
        for i, c in enumerate(address[2:], start=2):
            if c.isalpha():  # every single letter with its case swapped is refused
                typed = address[:i] + c.swapcase() + address[i + 1:]
                assert check_address("ERC20", typed).reason == "bad_checksum", typed
    assert check_address("ERC20", "0x" + "g" * 40).reason == "bad_characters"
    assert check_address("ERC20", EIP55_MIXED[0][:-1]).reason == "invalid"  # 39 hex digits
    assert check_address("ERC20", EIP55_MIXED[0][2:]).reason == "invalid"  # no 0x


def test_btc_base58_addresses() -> None:
    assert check_address("BTC", GENESIS) == AddressCheck(GENESIS)
    assert check_address("BTC", P2SH) == AddressCheck(P2SH)
    assert check_address("BTC", GENESIS[:-1] + "b").reason == "bad_checksum"
    assert check_address("BTC", P2SH.swapcase()).reason == "bad_characters"  # i → I, L → l
    assert check_address("BTC", P2SH.replace("W", "w", 1)).reason == "bad_checksum"
    assert check_address("BTC", GENESIS.replace("P", "p")).reason == "bad_checksum"
    assert check_address("BTC", GENESIS.replace("1", "0", 1)).reason == "invalid"


def test_btc_testnet_is_refused_as_testnet() -> None:
    for version in (0x6F, 0xC4):  # testnet P2PKH (m… / n…) and P2SH (2…)
        for filler in (bytes(20), bytes(range(20)), b"\xff" * 20):
            address = base58.b58encode_check(bytes([version]) + filler).decode()
            assert address[0] in "mn2"
            assert check_address("BTC", address) == refused("testnet")
    for address in SEGWIT_TESTNET:
        assert check_address("BTC", address) == refused("testnet")


def test_bip350_valid_mainnet_addresses_are_accepted_in_lower_case() -> None:
    for address in SEGWIT_MAINNET:
        assert check_address("BTC", address) == AddressCheck(address.lower())
        assert check_address("BTC", address.upper()) == AddressCheck(address.lower())
    for address in SEGWIT_FUTURE:
        assert check_address("BTC", address) == refused("future_segwit")


@pytest.mark.parametrize(("address", "reason"), BIP350_INVALID + BIP173_INVALID)
def test_bip173_and_bip350_invalid_addresses(address: str, reason: str) -> None:
    assert check_address("BTC", address) == refused(reason)


def test_bip173_v1_and_later_with_a_bech32_checksum_are_refused() -> None:
    for address in BIP173_SUPERSEDED:
        assert check_address("BTC", address) == refused("bad_checksum")


def test_bech32_too_long_and_bad_characters() -> None:
    address = SEGWIT_MAINNET[1]
    assert check_address("BTC", address[:20] + "b" + address[21:]).reason == "bad_characters"
    assert check_address("BTC", address + "q" * 30).reason == "invalid"  # over 90 characters


@pytest.mark.parametrize(("network", "address", "looks_like"), [
    ("TRC20", EIP55_MIXED[0], "EVM"), ("TRC20", GENESIS, "BTC"),
    ("TRC20", SEGWIT_MAINNET[0], "BTC"), ("ERC20", USDT_TRC20, "TRC20"),
    ("BEP20", USDT_TRC20, "TRC20"), ("ERC20", P2SH, "BTC"), ("BEP20", SEGWIT_MAINNET[1], "BTC"),
    ("BTC", USDT_TRC20, "TRC20"), ("BTC", EIP55_ONE_CASE[2], "EVM"),
])
def test_an_address_of_another_network_is_refused_with_its_family(
        network: str, address: str, looks_like: str) -> None:
    assert check_address(network, address) == refused("wrong_network", looks_like)


def test_wrong_network_needs_a_valid_address_of_that_network() -> None:
    bad_eip55 = EIP55_MIXED[0][:-1] + "D"
    assert check_address("ERC20", bad_eip55).reason == "bad_checksum"
    assert check_address("TRC20", bad_eip55).reason == "invalid"  # not "an EVM address" either
    assert check_address("ERC20", SEGWIT_TESTNET[0]).reason == "invalid"  # testnet: not BTC
    assert check_address("ERC20", USDT_TRC20[:-1] + "u").reason == "invalid"


def test_whitespace_emptiness_length_and_network() -> None:
    assert check_address("TRC20", f" \t{USDT_TRC20}\r\n") == AddressCheck(USDT_TRC20)
    assert check_address("BTC", f"\u00a0{GENESIS} ") == AddressCheck(GENESIS)
    for inner in (" ", "\t", "\n", "\u200b", "-", ":"):
        typed = USDT_TRC20[:10] + inner + USDT_TRC20[10:]
        assert check_address("TRC20", typed) == refused("bad_characters"), repr(inner)
    assert check_address("TRC20", "ТR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").reason == "bad_characters"
    assert check_address("BTC", "bitcoin:" + GENESIS).reason == "bad_characters"  # a URI
    assert check_address("ERC20", "") == refused("empty")
    assert check_address("ERC20", " \n\t ") == refused("empty")
    assert check_address("ERC20", "0x" + "a" * 127) == refused("too_long")
    assert check_address("ERC20", "0x" + "a" * 126) == refused("invalid")  # 128: a length rule
    assert check_address("SOL", USDT_TRC20) == refused("unsupported_network")
    assert check_address("USDT-TRC20", USDT_TRC20) == refused("unsupported_network")  # an id


def test_an_accepted_address_checks_again_to_itself() -> None:
    cases = [("TRC20", a) for a in TRON] + [("BTC", a) for a in [GENESIS, P2SH, *SEGWIT_MAINNET]]
    cases += [("BEP20", a.lower()) for a in EIP55_MIXED]
    for network, typed in cases:
        stored = check_address(network, typed).address
        assert stored is not None
        assert check_address(network, stored) == AddressCheck(stored)


# Addresses that carry a checksum: one-case EVM addresses carry none (EIP-55 accepts them as
# they are), so a changed hex digit there is simply another valid address.
CHECKSUMMED = ([("TRC20", a) for a in TRON] + [("BTC", GENESIS), ("BTC", P2SH)]
               + [("BTC", a) for a in SEGWIT_MAINNET] + [("ERC20", a) for a in EIP55_MIXED])


def _is_safe(network: str, address: str, typed: str) -> bool:
    """A one-character change is refused, or is accepted as the very same address (0x → 0X)."""
    result = check_address(network, typed)
    return result.address in (None, check_address(network, address).address)


@settings(max_examples=500, deadline=None)
@given(case=st.sampled_from(CHECKSUMMED), data=st.data())
def test_one_changed_character_never_yields_another_address(
        case: tuple[str, str], data: st.DataObject) -> None:
    network, address = case
    i = data.draw(st.integers(0, len(address) - 1))
    c = data.draw(st.sampled_from(ALNUM).filter(lambda c: c != address[i]))
    assert _is_safe(network, address, address[:i] + c + address[i + 1:])


def test_one_changed_character_never_yields_another_address_exhaustively() -> None:
    for network, address in CHECKSUMMED:
        for i, old in enumerate(address):
            for c in ALNUM.replace(old, ""):
                assert _is_safe(network, address, address[:i] + c + address[i + 1:])


@settings(max_examples=300, deadline=None)
@given(network=st.sampled_from(["TRC20", "ERC20", "BEP20", "BTC", "TON"]), text=st.text())
def test_any_text_gets_an_answer(network: str, text: str) -> None:
    result = check_address(network, text)
    assert (result.address is None) == (result.reason in REASONS)
    assert (result.looks_like is not None) == (result.reason == "wrong_network")
