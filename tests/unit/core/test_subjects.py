"""Subject normalisation and the stable subjects the list sends."""

import pytest

from bridge.core.subjects import (
    NO_SUBJECT,
    SubjectParts,
    is_reply_subject,
    list_subject,
    normalize_subject,
    parse_subject,
    reply_subject,
    subject_from_text,
)


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        ("Hello world", "hello world"),
        ("Re: Hello world", "hello world"),
        ("RE: re: Re:Hello world", "hello world"),
        ("Re: [pm] RE: Fwd: Hello", "hello"),
        ("[pm] Re: [PM] AW: Hello", "hello"),
        ("Fw: WG: SV: VS: Antw: Hello", "hello"),
        ("Réf : Hello", "hello"),
        ("回复：你好", "你好"),
        ("答复: 你好", "你好"),
        ("Re[2]: Hello", "hello"),
        ("Re^3: Hello", "hello"),
        ("Re(4): Hello", "hello"),
        ("Hello (fwd)", "hello"),
        ("  Re:\t Hello \r\n  world  ", "hello world"),
        ("Note: Hello", "note: hello"),  # an ordinary word with a colon stays
        ("Agenda: Re: budget", "agenda: re: budget"),  # markers only count at the front
        ("[OT] Re: Hello", "[ot] hello"),  # foreign tags carry meaning and stay
        ("Re: [OT] Hello", "[ot] hello"),
        ("Re:", ""),
        ("", ""),
        (None, ""),
        ("ＨＥＬＬＯ", "hello"),  # full-width letters compare as their ASCII forms
        ("Straße", "strasse"),
    ],
)
def test_normalize_subject_strips_decorations(subject: str | None, key: str) -> None:
    assert normalize_subject(subject, ["pm"]) == key


@pytest.mark.parametrize("prefix", ["pm", "[pm]", " PM ", "[ pm ]"])
def test_list_prefix_is_recognised_in_any_spelling(prefix: str) -> None:
    assert normalize_subject("Re: [pm] Hello", [prefix]) == "hello"


def test_unknown_tag_is_kept_without_prefixes() -> None:
    assert normalize_subject("Re: [pm] Hello") == "[pm] hello"


def test_decomposed_accents_compare_equal_to_composed() -> None:
    assert normalize_subject("Re\u0301f : Caf\u00e9") == normalize_subject("Réf: Cafe\u0301")


@pytest.mark.parametrize(
    ("subject", "parts"),
    [
        ("Re: x", SubjectParts("x", reply=True)),
        ("Fwd: x", SubjectParts("x", forward=True)),
        ("Fwd: Re: x", SubjectParts("x", reply=True, forward=True)),
        ("x (fwd)", SubjectParts("x", forward=True)),
        ("[pm] x", SubjectParts("x")),
        ("[OT] Re: X", SubjectParts("[OT] X", reply=True)),
    ],
)
def test_parse_subject_reports_what_it_stripped(subject: str, parts: SubjectParts) -> None:
    assert parse_subject(subject, ["pm"]) == parts


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: x", True),
        ("[pm] Re: x", True),
        ("AW: x", True),
        ("回复：x", True),
        ("Fwd: x", False),
        ("x", False),
        ("Re x", False),
        (None, False),
    ],
)
def test_is_reply_subject(subject: str | None, expected: bool) -> None:
    assert is_reply_subject(subject) is expected


@pytest.mark.parametrize(
    "root",
    ["Hello", "Re: Hello", "Re: [pm] Hello", "[pm] Re: RE: [pm] AW: Hello", "  Re:  [PM]  Hello "],
)
def test_reply_subject_is_stable_at_any_depth(root: str) -> None:
    assert reply_subject(root, "pm") == "Re: [pm] Hello"


def test_reply_subject_round_trip_does_not_stack() -> None:
    subject = "Hello"
    for _ in range(5):
        subject = reply_subject(subject, "pm")
    assert subject == "Re: [pm] Hello"


def test_reply_subject_keeps_foreign_tags_and_handles_empty() -> None:
    assert reply_subject("[OT] Hello", "pm") == "Re: [pm] [OT] Hello"
    assert reply_subject("", "pm") == f"Re: [pm] {NO_SUBJECT}"
    assert reply_subject("Hello", "") == "Re: Hello"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Hello", "[pm] Hello"),
        ("[pm] Hello", "[pm] Hello"),
        ("Re: Hello", "[pm] Hello"),
        ("Fwd: [pm] Hello", "[pm] Hello"),
        (None, f"[pm] {NO_SUBJECT}"),
    ],
)
def test_list_subject_for_new_thread(subject: str | None, expected: str) -> None:
    assert list_subject(subject, "[pm]") == expected


def test_reply_to_list_subject_matches_reply_subject() -> None:
    assert reply_subject(list_subject("Hello", "pm"), "pm") == "Re: [pm] Hello"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello everyone\nsecond line", "Hello everyone"),
        ("\n\n   \nfirst real line", "first real line"),
        ("# Meeting **notes** for `today`", "Meeting notes for today"),
        ("- [the plan](https://example.org/plan) is up", "the plan is up"),
        ("> quoted reply\nmy answer", "my answer"),
        ("> only a quote", "only a quote"),
        ("", NO_SUBJECT),
        (None, NO_SUBJECT),
        ("**  **", NO_SUBJECT),
        ("a   lot\tof    space", "a lot of space"),
    ],
)
def test_subject_from_text(text: str | None, expected: str) -> None:
    assert subject_from_text(text) == expected


def test_subject_from_text_cuts_long_lines_at_a_word() -> None:
    text = "word " * 40
    subject = subject_from_text(text, max_len=30)
    assert len(subject) <= 30
    assert subject.endswith("…")
    assert subject[:-1].split() == ["word"] * (len(subject[:-1].split()))
    assert not subject[:-1].endswith(" ")


def test_subject_from_text_cuts_a_single_long_word_hard() -> None:
    subject = subject_from_text("x" * 200, max_len=20)
    assert subject == "x" * 19 + "…"


def test_subject_from_text_exact_fit_is_not_cut() -> None:
    assert subject_from_text("y" * 78) == "y" * 78


def test_subject_from_text_rejects_unusable_length() -> None:
    with pytest.raises(ValueError, match="max_len"):
        subject_from_text("x", max_len=1)
