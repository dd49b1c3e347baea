"""Reply-address tokens and expiring link tokens."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.core.tokens import (
    ReplyTokenClaims,
    reply_address,
    sign_link_token,
    sign_reply_token,
    token_from_address,
    verify_link_token,
    verify_reply_token,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("membership_id", "thread_id"),
    [(0, 0), (1, 1), (127, 128), (42, 9_000), (2**31, 2**40), (2**63 - 1, 7)],
)
def test_reply_token_round_trip(membership_id: int, thread_id: int) -> None:
    token = sign_reply_token(KEY, membership_id, thread_id)
    assert verify_reply_token(KEY, token) == ReplyTokenClaims(membership_id, thread_id)


def test_reply_token_is_short_lowercase_and_local_part_safe() -> None:
    token = sign_reply_token(KEY, 1234, 56789)
    assert re.fullmatch(r"[a-z2-7]+", token)
    assert len(token) <= 26
    assert "=" not in token


def test_reply_token_is_deterministic() -> None:
    assert sign_reply_token(KEY, 5, 6) == sign_reply_token(KEY, 5, 6)


@pytest.mark.parametrize("transform", [str.upper, str.title, lambda t: f"  {t}\n"])
def test_reply_token_survives_case_folding_and_whitespace(transform: Callable[[str], str]) -> None:
    token = sign_reply_token(KEY, 7, 8)
    assert verify_reply_token(KEY, transform(token)) == ReplyTokenClaims(7, 8)


def test_reply_token_is_bound_to_member_and_thread() -> None:
    tokens = {sign_reply_token(KEY, m, t) for m in (1, 2) for t in (1, 2)}
    assert len(tokens) == 4
    assert verify_reply_token(KEY, sign_reply_token(KEY, 1, 2)) != ReplyTokenClaims(2, 1)


def test_reply_token_signed_with_another_key_fails() -> None:
    assert verify_reply_token(KEY, sign_reply_token(OTHER_KEY, 1, 2)) is None


def _flip(token: str, index: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    swapped = alphabet[(alphabet.index(token[index]) + 1) % 32]
    return token[:index] + swapped + token[index + 1 :]


def test_any_tampered_character_is_rejected() -> None:
    token = sign_reply_token(KEY, 31, 4096)
    # The last character may only carry padding bits; every other one carries signed bits.
    for index in range(len(token) - 1):
        assert verify_reply_token(KEY, _flip(token, index)) is None, index


def test_forged_ids_with_reused_mac_fail() -> None:
    genuine = sign_reply_token(KEY, 1, 2)
    forged_payload = sign_reply_token(KEY, 1, 3)
    # Splice the payload of one token onto the MAC of another.
    spliced = forged_payload[:5] + genuine[5:]
    assert verify_reply_token(KEY, spliced) is None


@pytest.mark.parametrize(
    "token", ["", "a", "not-base32!", "é" * 20, "aaaaaaaa", "a" * 200, "aaaaaaaaaaaaaaaaaaaaaaaaa"]
)
def test_garbage_reply_tokens_are_rejected(token: str) -> None:
    assert verify_reply_token(KEY, token) is None


@pytest.mark.parametrize("bad", [(-1, 1), (1, -1)])
def test_negative_ids_cannot_be_signed(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        sign_reply_token(KEY, *bad)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        sign_reply_token(b"", 1, 1)
    with pytest.raises(ValueError, match="key"):
        verify_reply_token(b"", "abc")


def test_reply_address_and_back() -> None:
    token = sign_reply_token(KEY, 3, 4)
    address = reply_address("pm-practice@lists.example.com", token)
    assert address == f"pm-practice+{token}@lists.example.com"
    assert token_from_address(address, "pm-practice@lists.example.com") == token


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("pm+abc@lists.example.com", "abc"),
        ("PM+ABC@LISTS.EXAMPLE.COM", "abc"),  # an MTA upper- or lowercased it
        ("<pm+abc@lists.example.com>", "abc"),
        ("pm@lists.example.com", None),  # the plain list address has no token
        ("pm+@lists.example.com", None),
        ("pm+abc@other.example.com", None),
        ("pmx+abc@lists.example.com", None),
        ("other+abc@lists.example.com", None),
        ("not an address", None),
        ("", None),
    ],
)
def test_token_from_address(address: str, expected: str | None) -> None:
    assert token_from_address(address, "pm@lists.example.com") == expected


def test_custom_subaddress_separator() -> None:
    address = reply_address("pm@lists.example.com", "abc", separator="-")
    assert address == "pm-abc@lists.example.com"
    assert token_from_address(address, "pm@lists.example.com", separator="-") == "abc"
    assert token_from_address(address, "pm@lists.example.com") is None


def test_reply_address_needs_an_address() -> None:
    with pytest.raises(ValueError, match="not an email address"):
        reply_address("lists.example.com", "abc")


def test_uppercased_reply_address_still_verifies() -> None:
    token = sign_reply_token(KEY, 11, 12)
    mangled = reply_address("pm@lists.example.com", token).upper()
    extracted = token_from_address(mangled, "pm@lists.example.com")
    assert extracted is not None
    assert verify_reply_token(KEY, extracted) == ReplyTokenClaims(11, 12)


# Link tokens


def test_link_token_round_trip_and_url_safe() -> None:
    token = sign_link_token(KEY, "unsubscribe", "ana@example.org", NOW + timedelta(days=30))
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
    assert verify_link_token(KEY, "unsubscribe", token, NOW) == "ana@example.org"


def test_link_token_carries_unicode_subjects() -> None:
    token = sign_link_token(KEY, "confirm", "zoë@exämple.org", NOW + timedelta(hours=1))
    assert verify_link_token(KEY, "confirm", token, NOW) == "zoë@exämple.org"


@pytest.mark.parametrize(
    ("now", "valid"),
    [
        (NOW, True),
        (NOW + timedelta(hours=1) - timedelta(seconds=1), True),
        (NOW + timedelta(hours=1), False),
        (NOW + timedelta(days=365), False),
    ],
)
def test_link_token_expiry(now: datetime, valid: bool) -> None:
    token = sign_link_token(KEY, "unsubscribe", "42", NOW + timedelta(hours=1))
    assert (verify_link_token(KEY, "unsubscribe", token, now) == "42") is valid


def test_link_token_expiry_compares_instants_across_time_zones() -> None:
    dublin_summer = timezone(timedelta(hours=1))
    token = sign_link_token(KEY, "p", "s", datetime(2024, 5, 1, 13, 0, tzinfo=dublin_summer))
    assert verify_link_token(KEY, "p", token, datetime(2024, 5, 1, 11, 59, tzinfo=UTC)) == "s"
    assert verify_link_token(KEY, "p", token, datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) is None


def test_link_token_is_bound_to_its_purpose() -> None:
    token = sign_link_token(KEY, "unsubscribe", "42", NOW + timedelta(days=1))
    assert verify_link_token(KEY, "confirm-subscription", token, NOW) is None


def test_link_token_with_another_key_fails() -> None:
    token = sign_link_token(OTHER_KEY, "unsubscribe", "42", NOW + timedelta(days=1))
    assert verify_link_token(KEY, "unsubscribe", token, NOW) is None


def test_link_token_tampering_with_subject_or_expiry_fails() -> None:
    token = sign_link_token(KEY, "unsubscribe", "42", NOW + timedelta(days=1))
    other = sign_link_token(KEY, "unsubscribe", "43", NOW + timedelta(days=9))
    head, _, mac = token.partition(".")
    other_head = other.partition(".")[0]
    assert verify_link_token(KEY, "unsubscribe", f"{other_head}.{mac}", NOW) is None
    assert verify_link_token(KEY, "unsubscribe", f"{head}.{mac[:-2]}", NOW) is None


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.", ".abc", "a.b.c", "!!!.???", "AAAA.AAAA"])
def test_garbage_link_tokens_are_rejected(token: str) -> None:
    assert verify_link_token(KEY, "unsubscribe", token, NOW) is None


def test_link_tokens_need_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_link_token(KEY, "p", "s", datetime(2024, 5, 1, 12, 0))
    token = sign_link_token(KEY, "p", "s", NOW + timedelta(days=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_link_token(KEY, "p", token, datetime(2024, 5, 1, 12, 0))
