"""Derived Message-IDs and transaction ids, and tolerant parsing of the ids others send."""

import re
from collections.abc import Callable

import pytest

from bridge.core.message_ids import (
    OwnMessageId,
    is_own_message_id,
    matrix_txn_id,
    parse_message_id,
    parse_own_message_id,
    parse_references,
    post_id_from_message_id,
    post_message_id,
)
from bridge.core.model import DeliveryKind

DOMAIN = "lists.example.com"


def test_post_message_id_is_stable_and_shaped() -> None:
    message_id = post_message_id(42, DOMAIN)
    assert message_id == post_message_id(42, DOMAIN)
    assert re.fullmatch(r"icop\.42\.[a-z2-7]{10}@lists\.example\.com", message_id)
    assert "<" not in message_id


def test_post_message_ids_differ_by_post_kind_revision_and_domain() -> None:
    ids = {
        post_message_id(1, DOMAIN),
        post_message_id(2, DOMAIN),
        post_message_id(1, DOMAIN, kind="edit", revision=1),
        post_message_id(1, DOMAIN, kind="edit", revision=2),
        post_message_id(1, DOMAIN, kind="notice"),
        post_message_id(1, "other.example.com"),
    }
    assert len(ids) == 6


def test_domain_case_does_not_change_the_id() -> None:
    assert post_message_id(7, "Lists.Example.COM") == post_message_id(7, DOMAIN)


def test_delivery_kind_enum_is_accepted() -> None:
    assert post_message_id(3, DOMAIN, kind=DeliveryKind.EDIT, revision=1) == post_message_id(
        3, DOMAIN, kind="edit", revision=1
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"post_id": -1, "domain": DOMAIN}, "non-negative"),
        ({"post_id": 1, "domain": DOMAIN, "revision": -1}, "non-negative"),
        ({"post_id": 1, "domain": DOMAIN, "kind": "Edit"}, "kind"),
        ({"post_id": 1, "domain": DOMAIN, "kind": "a.b"}, "kind"),
        ({"post_id": 1, "domain": ""}, "domain"),
        ({"post_id": 1, "domain": "a@b"}, "domain"),
        ({"post_id": 1, "domain": "a b"}, "domain"),
    ],
)
def test_post_message_id_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        post_message_id(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "revision"), [("post", 0), ("post", 3), ("edit", 1), ("redaction", 0), ("digest", 0)]
)
def test_own_ids_parse_back(kind: str, revision: int) -> None:
    message_id = post_message_id(99, DOMAIN, kind=kind, revision=revision)
    assert parse_own_message_id(message_id, DOMAIN) == OwnMessageId(99, kind, revision)
    assert post_id_from_message_id(message_id, DOMAIN) == 99


@pytest.mark.parametrize(
    "decorate",
    [
        lambda m: f"<{m}>",
        lambda m: f"  <{m}>  ",
        lambda m: f"(sent by icop) <{m}>",
        lambda m: m.replace("lists.example.com", "LISTS.EXAMPLE.COM"),
    ],
)
def test_own_ids_are_recognised_through_decoration(decorate: Callable[[str], str]) -> None:
    assert is_own_message_id(decorate(post_message_id(5, DOMAIN)), DOMAIN)


def _with_other_check(message_id: str) -> str:
    local, _, domain = message_id.rpartition("@")
    head, _, check = local.rpartition(".")
    return f"{head}.{check[:-1]}{'b' if check[-1] == 'a' else 'a'}@{domain}"


def test_foreign_and_forged_ids_are_not_ours() -> None:
    genuine = post_message_id(5, DOMAIN)
    forged_post = genuine.replace("icop.5.", "icop.6.")
    forged_check = _with_other_check(genuine)
    cases = [
        forged_post,
        forged_check,
        post_message_id(5, "other.example.com"),
        "CAFxyz123@mail.gmail.com",
        f"icop.5@{DOMAIN}",
        f"icop.x.abcdefghij@{DOMAIN}",
        "",
        None,
    ]
    for case in cases:
        assert not is_own_message_id(case, DOMAIN), case
        assert post_id_from_message_id(case, DOMAIN) is None, case


def test_matrix_txn_id_is_stable_per_delivery() -> None:
    assert matrix_txn_id(17) == matrix_txn_id(17)
    assert matrix_txn_id(17) != matrix_txn_id(18)
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", matrix_txn_id(17))
    with pytest.raises(ValueError, match="non-negative"):
        matrix_txn_id(-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@example.com>", "abc@example.com"),
        ("  <abc@example.com>\r\n", "abc@example.com"),
        ("abc@example.com", "abc@example.com"),  # brackets lost on the way
        ("(a comment) <abc@example.com>", "abc@example.com"),
        ("(nested (comment <x@y>)) <abc@example.com>", "abc@example.com"),
        ('"quoted <x@y>" <abc@example.com>', "abc@example.com"),
        ("<abc@example.com>; from Ana on Tue, 4 Jun", "abc@example.com"),
        ("<abc\r\n @example.com>", "abc@example.com"),  # folded inside the brackets
        ("<first@x> <second@x>", "first@x"),
        ("<truncated@example", "truncated@example"),
        ("<no-at-sign>", "no-at-sign"),
        ("<>", None),
        ("", None),
        (None, None),
        ("just words", None),
        ("(only a comment)", None),
    ],
)
def test_parse_message_id(value: str | None, expected: str | None) -> None:
    assert parse_message_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@x> <b@x> <c@x>", ("a@x", "b@x", "c@x")),
        ("<a@x>\r\n\t<b@x>\r\n <c@x>", ("a@x", "b@x", "c@x")),
        ("<a@x>,<b@x>", ("a@x", "b@x")),
        ("<a@x> <b@x> <a@x>", ("a@x", "b@x")),
        ("<a@x> (comment <z@x>) junk <b@x>", ("a@x", "b@x")),
        ("a@x b@y, c@z", ("a@x", "b@y", "c@z")),
        ("<a@x> <trunc", ("a@x",)),
        ("", ()),
        (None, ()),
        ("nothing here", ()),
    ],
)
def test_parse_references(value: str | None, expected: tuple[str, ...]) -> None:
    assert parse_references(value) == expected


def test_parse_references_trims_the_middle_of_long_chains() -> None:
    value = " ".join(f"<{n}@x>" for n in range(150))
    refs = parse_references(value)
    assert len(refs) == 100
    assert refs[0] == "0@x"
    assert refs[1] == "51@x"
    assert refs[-1] == "149@x"
    assert parse_references(value, limit=1) == ("0@x",)
    assert parse_references(value, limit=0) == ()
    with pytest.raises(ValueError, match="limit"):
        parse_references(value, limit=-1)
