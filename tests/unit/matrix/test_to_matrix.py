"""Contents the bridge posts: the author always visible, threads and replies, edits, attachments, and
our marker on everything, so the sync loop recognises its own events when they come back."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.core.loop_guard import ORIGIN_MARKER_KEY, is_own_matrix_event
from bridge.matrix.events import IgnoredBecause, MatrixIgnored
from bridge.matrix.from_matrix import convert_event
from bridge.matrix.to_matrix import (
    PER_MESSAGE_PROFILE_KEY,
    attachment_content,
    edit_content,
    post_content,
    reaction_content,
    text_to_html,
)

MARKER = {"post": 7}


def post(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "thread_root": None,
        "reply_to": None,
        "subject": None,
        "origin_marker": MARKER,
    }
    arguments.update(overrides)
    return post_content("Ana Souza", "Hello\nall", None, **arguments)


def test_plain_post_shows_the_author_in_body_and_html() -> None:
    content = post()
    assert content["msgtype"] == "m.text"
    assert content["body"] == "**Ana Souza**: Hello\nall"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "<b>Ana Souza</b>: Hello<br>all"
    assert content[PER_MESSAGE_PROFILE_KEY] == {
        "id": "ana souza",
        "displayname": "Ana Souza",
        "has_fallback": True,
    }
    assert content[ORIGIN_MARKER_KEY] == MARKER
    assert "m.relates_to" not in content
    assert content["m.mentions"] == {}


def test_html_post_puts_the_name_inside_the_first_paragraph() -> None:
    content = post_content(
        "Ana Souza",
        "Hi\n\nthere",
        "<p>Hi</p><p>there</p>",
        thread_root=None,
        reply_to=None,
        subject=None,
        origin_marker=MARKER,
        profile_id="person-3",
    )
    assert content["formatted_body"] == "<p><b>Ana Souza</b>: Hi</p><p>there</p>"
    assert content[PER_MESSAGE_PROFILE_KEY]["id"] == "person-3"


def test_first_mail_of_a_thread_shows_its_subject_in_bold() -> None:
    content = post(subject="Kick-off  notes")
    assert content["body"].startswith("**Kick-off notes**\n**Ana Souza**: ")
    assert content["formatted_body"].startswith("<b>Kick-off notes</b><br><b>Ana Souza</b>: ")


def test_names_and_text_are_escaped() -> None:
    content = post_content(
        "<script>", "a < b", None, thread_root=None, reply_to=None, subject="<i>", origin_marker={}
    )
    assert "<script>" not in content["formatted_body"]
    assert "<i>" not in content["formatted_body"]
    assert "a &lt; b" in content["formatted_body"]


def test_thread_relation_with_fallback_reply() -> None:
    assert post(thread_root="$root")["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$root"},
    }
    in_thread = post(thread_root="$root", reply_to="$parent")["m.relates_to"]
    assert in_thread["m.in_reply_to"] == {"event_id": "$parent"}


def test_plain_reply_without_thread() -> None:
    assert post(reply_to="$parent")["m.relates_to"] == {"m.in_reply_to": {"event_id": "$parent"}}


def test_pills_in_html_become_mentions() -> None:
    html = '<p>ask <a href="https://matrix.to/#/@bob:example.com">Bob</a></p>'
    content = post_content(
        "Ana", "ask Bob", html, thread_root=None, reply_to=None, subject=None, origin_marker={}
    )
    assert content["m.mentions"] == {"user_ids": ["@bob:example.com"]}


def test_profile_fields_are_capped_at_255_bytes() -> None:
    content = post_content(
        "é" * 300, "x", None, thread_root=None, reply_to=None, subject=None, origin_marker={}
    )
    profile = content[PER_MESSAGE_PROFILE_KEY]
    assert len(profile["displayname"].encode()) <= 255
    assert len(profile["id"].encode()) <= 255


def test_edit_replaces_with_new_content_and_star_fallback() -> None:
    content = edit_content("$orig", "fixed", "<p>fixed</p>", author_name="Ana Souza", origin_marker=MARKER)
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert content["body"] == "* **Ana Souza**: fixed"
    assert content["formatted_body"].startswith("* <p><b>Ana Souza</b>: fixed")
    new = content["m.new_content"]
    assert new["body"] == "**Ana Souza**: fixed"
    assert "m.relates_to" not in new
    assert content[ORIGIN_MARKER_KEY] == MARKER
    assert content["m.mentions"] == {}


@pytest.mark.parametrize("msgtype", ["m.image", "m.file", "m.audio", "m.video"])
def test_attachment_content(msgtype: str) -> None:
    content = attachment_content(
        msgtype,
        "mxc://example.com/abc",
        "plan.pdf",
        "application/pdf",
        2048,
        thread_root="$root",
        reply_to=None,
        origin_marker=MARKER,
    )
    assert content["msgtype"] == msgtype
    assert (content["body"], content["filename"], content["url"]) == (
        "plan.pdf",
        "plan.pdf",
        "mxc://example.com/abc",
    )
    assert content["info"] == {"mimetype": "application/pdf", "size": 2048}
    assert content["m.relates_to"]["event_id"] == "$root"
    assert content[ORIGIN_MARKER_KEY] == MARKER


def test_attachment_with_author_has_a_caption() -> None:
    content = attachment_content(
        "m.image",
        "mxc://e/i",
        "a.png",
        "image/png",
        1,
        thread_root=None,
        reply_to=None,
        origin_marker={},
        author_name="Ana",
    )
    assert content["body"] == "Ana: a.png"
    assert content["filename"] == "a.png"
    assert content["formatted_body"] == "<b>Ana</b>: a.png"
    assert content[PER_MESSAGE_PROFILE_KEY]["displayname"] == "Ana"


def test_reaction_content() -> None:
    content = reaction_content("$t", "👍", MARKER)
    assert content["m.relates_to"] == {"rel_type": "m.annotation", "event_id": "$t", "key": "👍"}


def test_text_to_html() -> None:
    assert text_to_html("a & b\r\nc") == "a &amp; b<br>c"


def test_everything_we_send_is_recognised_as_our_own() -> None:
    contents = [
        post(),
        edit_content("$o", "x", None, author_name="A", origin_marker=MARKER),
        attachment_content(
            "m.file", "mxc://e/f", "f", "text/plain", 1, thread_root=None, reply_to=None, origin_marker=MARKER
        ),
    ]
    for content in contents:
        assert is_own_matrix_event("@someone-else:example.com", "@icop:example.com", content)
        raw = {"type": "m.room.message", "event_id": "$x", "sender": "@other-bridge:e", "content": content}
        got = convert_event(raw, room_id="!r:e", bot_user_id="@icop:e", community_slug="pm")
        assert isinstance(got, MatrixIgnored)
        assert got.reason is IgnoredBecause.OWN_MARKER
