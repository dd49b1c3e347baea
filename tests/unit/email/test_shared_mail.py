"""A member's copy made from the post's shared mail is the mail composed for that member alone."""

import re
from datetime import timedelta

import pytest

from bridge.core.model import Attachment
from bridge.email.outbound import OutgoingPost, as_smtp_bytes, compose_post_mail
from bridge.email.shared_mail import SharedPostMail
from tests.unit.email.compose_samples import PDF, RENDERER, WHEN, post

_BOUNDARY = re.compile(rb'boundary="([^"]+)"')


def _without_boundaries(wire: bytes) -> bytes:
    """The MIME boundaries (random per serialisation) replaced by their order of appearance."""
    for number, boundary in enumerate(dict.fromkeys(_BOUNDARY.findall(wire))):
        wire = wire.replace(boundary, b"BOUNDARY-%d" % number)
    return wire


def _alone(mail: OutgoingPost) -> bytes:
    return _without_boundaries(as_smtp_bytes(compose_post_mail(mail, renderer=RENDERER)))


MEMBERS = [
    {"recipient": "bo@example.org"},
    {
        "recipient": "chidi@example.org",
        "reply_to": "pm-practice+zz9fqk3xwq5mmn2hv7ab@lists.example.com",
        "unsubscribe_url": "https://icop.example.com/unsubscribe/pm-practice?t=BBBB&x='q'.sig",
        "date": WHEN + timedelta(seconds=7),
    },
    {
        # Long enough to fold List-Unsubscribe and to soft-break the footer's lines differently.
        "recipient": "dana@example.org",
        "reply_to": "pm-practice+" + "k" * 90 + "@lists.example.com",
        "unsubscribe_url": "https://icop.example.com/unsubscribe/" + "t" * 150 + "?ü=1",
    },
]


@pytest.mark.parametrize(
    "shared",
    [
        post(),
        post(text="Plain words\n\nwith a long line " + "ab " * 60, html=None, is_reply=False),
        post(
            text="Files below",
            attachments=(PDF, Attachment("big.bin", "application/x", 10**7, None, "https://f/1")),
        ),
        post(text="Nested <b>html</b> & ünïcode — ✓", html="<p>Nested <b>html</b> &amp; ünïcode — ✓</p>"),
    ],
)
def test_each_members_copy_is_the_mail_composed_for_them(shared: OutgoingPost) -> None:
    mail = SharedPostMail(shared, renderer=RENDERER)
    for member in MEMBERS:
        theirs = post(**{**_fields(shared), **member})
        assert _without_boundaries(mail.for_member(theirs)) == _alone(theirs)


def test_a_mail_that_differs_in_a_shared_field_is_composed_in_full() -> None:
    mail = SharedPostMail(post(), renderer=RENDERER)
    other = post(text="Another post altogether", recipient="bo@example.org")
    assert not mail.shares(other)
    assert _without_boundaries(mail.for_member(other)) == _alone(other)


def test_a_post_quoting_a_personal_line_still_gets_each_members_own() -> None:
    """The member's header line written in the post itself: found twice, so composed in full."""
    first = post()
    quoted = post(text=f"See this:\n\nDate: {first.date:%a, %d %b %Y %H:%M:%S +0000}\n")
    mail = SharedPostMail(quoted, renderer=RENDERER)
    theirs = post(**{**_fields(quoted), **MEMBERS[1]})
    assert _without_boundaries(mail.for_member(theirs)) == _alone(theirs)


def _fields(mail: OutgoingPost) -> dict[str, object]:
    return {name: getattr(mail, name) for name in OutgoingPost.__dataclass_fields__}
