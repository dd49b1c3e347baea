"""List addresses: List-Id, VERP return paths, reply tokens; all must land in the list's own mailbox."""

import pytest

from bridge.core.tokens import reply_address, sign_reply_token
from bridge.email.addresses import (
    ListIdentity,
    is_list_recipient,
    list_domain,
    list_id,
    recipient_from_verp,
    reply_token_from_address,
    split_address,
    verp_address,
)

LIST = "pm-practice@lists.example.com"


def test_list_domain_is_lowercased() -> None:
    assert list_domain("PM-Practice@Lists.Example.COM") == "lists.example.com"


def test_list_domain_rejects_a_non_address() -> None:
    with pytest.raises(ValueError, match="not an email address"):
        list_domain("pm-practice")


def test_list_id_is_rfc_2919_form() -> None:
    assert list_id("pm-practice", LIST) == "<pm-practice.lists.example.com>"
    assert list_id("PM Practice!", LIST) == "<pm-practice.lists.example.com>"
    with pytest.raises(ValueError, match="slug"):
        list_id("!!", LIST)


def test_list_identity_defaults() -> None:
    identity = ListIdentity("pm-practice", LIST, "pm")
    assert identity.domain == "lists.example.com"
    assert identity.own_message_id_domain == "lists.example.com"
    assert identity.list_id == "<pm-practice.lists.example.com>"
    assert ListIdentity("x", LIST, "x", message_id_domain="Mail.Example.com").own_message_id_domain == (
        "mail.example.com"
    )


def test_verp_address_names_the_member_in_the_list_mailbox() -> None:
    verp = verp_address(LIST, "ana@example.org")
    assert verp == "pm-practice+bounce=ana=example.org@lists.example.com"
    # LMTP strips the +detail: the mailbox is the list's.
    local, domain = split_address(verp) or ("", "")
    assert local.split("+", 1)[0] == "pm-practice"
    assert domain == "lists.example.com"
    assert is_list_recipient(verp, LIST)


@pytest.mark.parametrize(
    "recipient",
    [
        "ana@example.org",
        "ana.souza+lists@example.org",
        "o'brien@example.ie",
        "a=b@example.org",
        "ana%home@example.org",
        "josé@example.org",
        "ana@EXAMPLE.org",
    ],
)
def test_verp_round_trip(recipient: str) -> None:
    verp = verp_address(LIST, recipient)
    assert verp.isascii()
    local, _, domain = recipient.rpartition("@")
    assert recipient_from_verp(verp, LIST) == f"{local}@{domain.lower()}"


def test_verp_survives_case_changes_of_the_list_part() -> None:
    verp = verp_address(LIST, "ana@example.org").replace("pm-practice", "PM-Practice")
    assert recipient_from_verp(f"<{verp}>", LIST) == "ana@example.org"


@pytest.mark.parametrize(
    "address",
    [
        LIST,
        "pm-practice+abcdef@lists.example.com",
        "pm-practice+bounce=@lists.example.com",
        "pm-practice+bounce=ana@lists.example.com",
        "other+bounce=ana=example.org@lists.example.com",
        "pm-practice+bounce=ana=example.org@elsewhere.example.com",
    ],
)
def test_recipient_from_verp_refuses_other_addresses(address: str) -> None:
    assert recipient_from_verp(address, LIST) is None


def test_reply_token_is_read_but_not_from_a_verp_address() -> None:
    token = sign_reply_token(b"k" * 32, 3, 9)
    assert reply_token_from_address(reply_address(LIST, token).upper(), LIST) == token
    assert reply_token_from_address(verp_address(LIST, "ana@example.org"), LIST) is None
    assert reply_token_from_address(LIST, LIST) is None
    assert reply_token_from_address("pm-practice+abc@other.example.com", LIST) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (LIST, True),
        ("PM-Practice@LISTS.example.com", True),
        ("pm-practice+anything@lists.example.com", True),
        ("pm-practice-owner@lists.example.com", False),
        ("pm-practicex@lists.example.com", False),
        ("pm-practice@example.com", False),
        ("nonsense", False),
    ],
)
def test_is_list_recipient(address: str, expected: bool) -> None:
    assert is_list_recipient(address, LIST) is expected
