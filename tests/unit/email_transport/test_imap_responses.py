"""Parsing of aioimaplib's raw IMAP responses, with lines shaped as Dovecot sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bridge.email.imap_responses import (
    ImapResponseError,
    MailboxStatus,
    idle_news,
    mailbox_name,
    parse_fetch,
    parse_internal_date,
    parse_search,
    parse_select,
    uid_set,
)

SELECT = [
    b"OK [CLOSED] Previous mailbox closed.",
    b"FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
    b"OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.",
    b"3 EXISTS",
    b"0 RECENT",
    b"OK [UIDVALIDITY 1795575460] UIDs valid",
    b"OK [UIDNEXT 4] Predicted next UID",
    b"[READ-WRITE] Select completed (0.002 + 0.000 + 0.001 secs).",
]


def test_select_gives_uidvalidity_uidnext_and_count() -> None:
    assert parse_select(SELECT) == MailboxStatus(uidvalidity=1795575460, uidnext=4, exists=3)


def test_select_without_uidnext_still_reads() -> None:
    lines = [line for line in SELECT if b"UIDNEXT" not in line]
    assert parse_select(lines) == MailboxStatus(1795575460, None, 3)


def test_select_without_uidvalidity_is_an_error() -> None:
    with pytest.raises(ImapResponseError):
        parse_select([b"3 EXISTS", b"Select completed."])


def test_search_reads_uids_and_ignores_the_status_text() -> None:
    assert parse_search([b"3 1 2", b"Search completed (0.001 + 0.000 secs)."]) == [1, 2, 3]
    assert parse_search([b"SEARCH 7", b"Search completed 12."]) == [7]
    assert parse_search([b"", b"Search completed."]) == []


def test_fetch_pairs_attributes_with_their_literal() -> None:
    lines: list[bytes | bytearray] = [
        b'1 FETCH (UID 11 FLAGS () INTERNALDATE "25-Nov-2026 02:57:40 +0000" BODY[] {5}',
        bytearray(b"one\r\n"),
        b")",
        b"5 FETCH (FLAGS (\\Seen))",  # an unsolicited flag change in the middle: no body, skipped
        b'2 FETCH (FLAGS (\\Seen $Label) INTERNALDATE " 5-Jan-2026 10:00:00 -0130" BODY[] {3}',
        bytearray(b"two"),
        b" UID 12)",  # a server may send UID after the literal
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    first, second = parse_fetch(lines)
    assert (first.uid, first.raw, first.flags) == (11, b"one\r\n", ())
    assert first.internal_date == datetime(2026, 11, 25, 2, 57, 40, tzinfo=UTC)
    assert (second.uid, second.raw, second.flags) == (12, b"two", ("\\Seen", "$Label"))
    assert second.internal_date == datetime(
        2026, 1, 5, 10, 0, tzinfo=timezone(-timedelta(hours=1, minutes=30))
    )
    assert isinstance(first.raw, bytes)


def test_fetch_orders_by_uid() -> None:
    lines: list[bytes | bytearray] = [
        b"2 FETCH (UID 9 BODY[] {1}",
        bytearray(b"b"),
        b")",
        b"1 FETCH (UID 3 BODY[] {1}",
        bytearray(b"a"),
        b")",
        b"Fetch completed.",
    ]
    assert [item.uid for item in parse_fetch(lines)] == [3, 9]


def test_internal_date_rejects_nonsense() -> None:
    assert parse_internal_date("31-Feb-2026 00:00:00 +0000") is None
    assert parse_internal_date("yesterday") is None


@pytest.mark.parametrize(
    ("pushes", "known", "expected"),
    [
        ([b"4 EXISTS", b"1 RECENT"], 3, (True, 4)),
        ([b"1 RECENT"], 3, (False, 3)),  # split push: the EXISTS comes in the next one
        ([b"2 EXPUNGE"], 3, (False, 2)),
        ([b"2 EXPUNGE", b"3 EXISTS"], 3, (True, 3)),  # one gone, one new: same count, still news
        ([b"3 EXISTS"], 3, (False, 3)),
    ],
)
def test_idle_news(pushes: list[bytes], known: int, expected: tuple[bool, int]) -> None:
    assert idle_news(pushes, known) == expected


def test_uid_set_compacts_runs() -> None:
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"
    assert uid_set([]) == ""


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("icop-processed", "icop-processed"),
        ("Lists/Processed", "Lists/Processed"),
        ("Done mail", '"Done mail"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("Entwürfe", "Entw&APw-rfe"),
        ("A&B", "A&-B"),
    ],
)
def test_mailbox_names_on_the_wire(name: str, wire: str) -> None:
    assert mailbox_name(name) == wire
