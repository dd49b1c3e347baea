"""How the archive presents stored posts: times in the reader's zone, plain text made safe, quoted
history folded, participants once each with their channels, and the small parsers of page addresses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.core.model import Channel
from bridge.core.zones import zone
from bridge.formatting.plain_html import plain_text_html, quoted_history
from bridge.store.archive import ArchivePost, FileRef, Participant, Revision
from bridge.web.access import safe_next
from bridge.web.pages import decode_cursor, encode_cursor
from bridge.web.views import local_time, participants, post_views

T = datetime(2026, 3, 2, 9, 5, 7, 123456, tzinfo=UTC)


def test_local_time_in_the_readers_zone_with_utc_for_machines() -> None:
    shown = local_time(T, zone("Asia/Tokyo"))
    assert (shown.text, shown.iso) == ("2 Mar 2026, 18:05", "2026-03-02T09:05:07+00:00")
    assert local_time(T, zone("America/Sao_Paulo")).text == "2 Mar 2026, 06:05"
    assert zone("Not/AZone") is UTC
    assert zone(None) is UTC


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('see https://example.org/a?b=1&c="2" now', 'see <a href="https://example.org/a?b=1&amp;c=" '),
        ("javascript:alert(1)", "javascript:alert(1)"),
        (
            "(https://example.org/x).",
            '(<a href="https://example.org/x" rel="noopener noreferrer nofollow ugc">',
        ),
    ],
)
def test_plain_text_is_escaped_and_only_web_links_become_links(text: str, html: str) -> None:
    rendered = plain_text_html(text)
    assert rendered.startswith(html)
    assert "<script" not in rendered
    assert 'href="javascript' not in rendered


@pytest.mark.parametrize(
    ("text", "full", "folded"),
    [
        ("thanks", None, None),
        ("thanks", "thanks\n", None),
        ("thanks\nAna", "thanks\nAna\n\nOn Monday Bo wrote:\n> hi", "On Monday Bo wrote:\n> hi"),
        ("answer", "> question\nanswer", "> question\nanswer"),  # not a tail: the whole original
        ("a\r\nb", "a\nb\n-- \nsig", "-- \nsig"),
    ],
)
def test_quoted_history_is_what_the_original_held_beyond_the_new_text(
    text: str, full: str | None, folded: str | None
) -> None:
    assert quoted_history(text, full) == folded


def test_participants_once_each_with_every_channel_they_wrote_on() -> None:
    people = [
        Participant("Ana", Channel.EMAIL),
        Participant("Kenji", Channel.MATRIX),
        Participant("Ana", Channel.MATRIX),
    ]
    shown = participants(people)
    assert [(p.name, [c.mark for c in p.channels]) for p in shown] == [
        ("Ana", ["email", "chat"]),
        ("Kenji", ["chat"]),
    ]


def _post(post_id: int, **fields: object) -> ArchivePost:
    values: dict[str, object] = {
        "id": post_id,
        "parent_id": None,
        "author_name": "Ana",
        "channel": Channel.EMAIL,
        "deleted": False,
        "created_at": T,
        "edited_at": None,
        "text": "hello",
        "html": None,
        "full_text": None,
        "reactions": 0,
        "files": (),
        "revisions": (),
    }
    values.update(fields)
    return ArchivePost(**values)  # type: ignore[arg-type]


def test_post_views_mark_channels_reply_links_files_and_revisions() -> None:
    posts = [
        _post(1, html="<p>root</p>", files=(FileRef(0, "plan.pdf", "application/pdf", 2000),)),
        _post(2, parent_id=1, channel=Channel.MATRIX, author_name="Kenji"),
        _post(3, parent_id=1, edited_at=T, revisions=(Revision(1, T, "first", None),)),
        _post(4, deleted=True, text=""),
    ]
    views = post_views(posts, UTC, lambda post, number: f"/files/{post}/{number}/token")
    assert str(views[0].body) == "<p>root</p>"
    assert not views[0].plain
    assert [(f.name, f.url) for f in views[0].files] == [("plan.pdf", "/files/1/0/token")]
    assert views[1].reply_to is None  # answers the post just above: no link needed
    assert views[2].reply_to == ("post-1", "Ana")
    assert views[1].mark == "chat"
    assert views[0].mark == "email"
    assert [str(r.body) for r in views[2].revisions] == ["first"]
    assert views[3].deleted
    assert str(views[3].body) == ""


def test_cursor_round_trips_and_rejects_anything_else() -> None:
    assert decode_cursor(encode_cursor((T, 42))) == (T, 42)
    assert decode_cursor(None) is None
    for bad in ("", "12", "x-1", "1-x", "-1", "9" * 40 + "-1"):
        with pytest.raises(ValueError, match="not a thread-list cursor"):
            decode_cursor(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/c/pm/t/3", "/c/pm/t/3"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/c/pm/\r\nSet-Cookie: x", "/"),
        (None, "/"),
    ],
)
def test_only_local_paths_are_returned_to_after_signing_in(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
