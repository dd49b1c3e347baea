"""Subscription commands by mail and in the room: what each spelling a person may write becomes."""

from __future__ import annotations

import pytest

from bridge.core.commands import CommandError, parse_command
from bridge.core.digest.requests import (
    Request,
    RequestError,
    RoomDigest,
    Verb,
    parse_mail_requests,
)
from bridge.core.model import DeliveryMode


@pytest.mark.parametrize(
    ("detail", "subject", "body", "expected"),
    [
        # The shortcuts need no text at all.
        ("subscribe", "", "", [Request(Verb.SUBSCRIBE)]),
        ("unsubscribe", "please remove me", "thanks", [Request(Verb.UNSUBSCRIBE)]),
        # A reply to a confirmation: by its address, or by the code its subject carries.
        ("confirm-abcdefghijklmnop", "Re: whatever", "", [Request(Verb.CONFIRM, code="abcdefghijklmnop")]),
        (
            "request",
            "Re: [pm] Confirm your subscription (confirm ABCDEFGHIJKLMNOP)",
            "> quoted",
            [Request(Verb.CONFIRM, code="abcdefghijklmnop")],
        ),
        # Commands in the subject, then in the first body lines, up to the first line that is not one.
        (
            "request",
            "subscribe both daily",
            "follow #estimation risk\nThanks!\ndigest off",
            [
                Request(Verb.SUBSCRIBE, DeliveryMode.BOTH, "daily"),
                Request(Verb.FOLLOW, tags=("estimation", "risk")),
            ],
        ),
        ("request", "Hello", "digest weekly\n\n-- \nAna", [Request(Verb.DIGEST, frequency="weekly")]),
        ("request", "Re: [pm] hi", "DIGEST OFF", [Request(Verb.DIGEST, frequency="off")]),
        ("request", "", "unsubscribe", [Request(Verb.UNSUBSCRIBE)]),
        # Nothing a command: the help text.
        ("request", "Question about the list", "How do I join?", [Request(Verb.HELP)]),
        (
            "subscribe",
            "",
            "subscribe digest monthly",
            [Request(Verb.SUBSCRIBE, DeliveryMode.DIGEST, "monthly")],
        ),
    ],
)
def test_mail_requests(detail: str, subject: str, body: str, expected: list[Request]) -> None:
    assert parse_mail_requests(detail, subject, body) == expected


def test_a_malformed_command_says_what_it_takes() -> None:
    [error] = parse_mail_requests("request", "digest hourly", "")
    assert isinstance(error, RequestError)
    assert error.message == "digest takes one of daily, weekly, monthly or off"
    [error] = parse_mail_requests("request", "subscribe everything", "")
    assert isinstance(error, RequestError)
    assert "not 'everything'" in error.message
    [error] = parse_mail_requests("request", "follow ???", "")
    assert isinstance(error, RequestError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!icop digest daily", RoomDigest("daily")),
        ("  !ICOP Digest OFF ", RoomDigest("off")),
        ("!icop digest", RoomDigest(None)),
        ("!icop held", None),  # another command: not ours
        ("digest daily", None),  # not addressed to the bridge
    ],
)
def test_room_digest_commands(text: str, expected: RoomDigest | None) -> None:
    found = parse_command(text)
    assert found == expected if expected is not None else not isinstance(found, RoomDigest)


def test_a_room_digest_command_with_a_wrong_setting_is_answered() -> None:
    answer = parse_command("!icop digest hourly")
    assert isinstance(answer, CommandError)
    assert answer.message.startswith("Unknown digest setting `hourly`.")
