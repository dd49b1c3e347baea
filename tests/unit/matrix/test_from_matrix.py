"""Room events to neutral events: every msgtype, threads, replies, edits, redactions, reactions, and
whatever a hostile or broken client may send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.model import Attachment, Channel
from bridge.matrix.events import (
    IgnoredBecause,
    MatrixEdit,
    MatrixEvent,
    MatrixIgnored,
    MatrixJoin,
    MatrixMessage,
    MatrixReaction,
    MatrixRedaction,
)
from bridge.matrix.from_matrix import (
    MemberNames,
    convert_event,
    convert_join,
    default_display_name,
    render_html,
    strip_reply_fallback,
)

Event = dict[str, object]
BOT = "@icop:example.com"
ANA = "@ana:example.com"
ROOM = "!room:example.com"
ROOT = "$root"


def event(content: Any, *, type: str = "m.room.message", sender: str = ANA, **extra: Any) -> dict[str, Any]:
    return {
        "type": type,
        "event_id": "$ev1",
        "sender": sender,
        "origin_server_ts": 1_700_000_000_000,
        "room_id": ROOM,
        "content": content,
        **extra,
    }


def convert(raw: dict[str, Any], name: str | None = "Ana Souza") -> MatrixEvent:
    return convert_event(raw, room_id=ROOM, bot_user_id=BOT, community_slug="pm", sender_name=name)


def message(raw: dict[str, Any], name: str | None = "Ana Souza") -> MatrixMessage:
    converted = convert(raw, name)
    assert isinstance(converted, MatrixMessage), converted
    return converted


def ignored(raw: dict[str, Any]) -> MatrixIgnored:
    converted = convert(raw)
    assert isinstance(converted, MatrixIgnored), converted
    return converted


# -- messages ---------------------------------------------------------------------------------------


def test_text_message_becomes_an_inbound_message() -> None:
    got = message(event({"msgtype": "m.text", "body": "Hello **all**"}))
    inbound = got.message
    assert inbound.channel is Channel.MATRIX
    assert inbound.origin_key == inbound.matrix_event_id == got.event_id == "$ev1"
    assert inbound.community_slug == "pm"
    assert (inbound.sender_address, inbound.sender_name) == (ANA, "Ana Souza")
    assert inbound.text == "Hello **all**"
    assert inbound.html is None
    assert inbound.sent_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert inbound.refs.matrix_thread_root is None
    assert inbound.refs.matrix_in_reply_to is None
    assert got.room_id == ROOM
    assert got.msgtype == "m.text"


def test_html_is_sanitised_and_pills_become_names() -> None:
    got = message(
        event(
            {
                "msgtype": "m.text",
                "body": "hi Bob",
                "format": "org.matrix.custom.html",
                "formatted_body": '<b>hi</b> <a href="https://matrix.to/#/@bob:example.com">Bob</a>'
                '<script>alert(1)</script><img src="https://tracker.example/x.png" width="1">',
            }
        )
    ).message
    assert got.html == "<b>hi</b> Bob"


def test_missing_sender_name_falls_back_to_the_localpart() -> None:
    assert message(event({"msgtype": "m.text", "body": "x"}), name=None).message.sender_name == "ana"
    assert default_display_name("@ana:example.com") == "ana"


def test_emote_names_the_sender() -> None:
    got = message(
        event(
            {
                "msgtype": "m.emote",
                "body": "waves",
                "format": "org.matrix.custom.html",
                "formatted_body": "<i>waves</i>",
            }
        ),
        name="Ana <Souza>",
    ).message
    assert got.text == "* Ana <Souza> waves"
    assert got.html == "* Ana &lt;Souza&gt; <i>waves</i>"


def test_notice_from_another_user_is_relayed() -> None:
    got = message(event({"msgtype": "m.notice", "body": "Build passed"}, sender="@ci:example.com"))
    assert got.msgtype == "m.notice"
    assert got.message.text == "Build passed"


# -- threads and replies ------------------------------------------------------------------------------


def test_thread_message_keeps_root_and_fallback_reply() -> None:
    relates = {
        "rel_type": "m.thread",
        "event_id": ROOT,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$last"},
    }
    got = message(event({"msgtype": "m.text", "body": "in thread", "m.relates_to": relates}))
    assert got.message.refs.matrix_thread_root == ROOT
    assert got.message.refs.matrix_in_reply_to == "$last"
    assert got.reply_is_fallback is True


def test_real_reply_inside_a_thread_is_not_a_fallback() -> None:
    relates = {
        "rel_type": "m.thread",
        "event_id": ROOT,
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$p"},
    }
    got = message(event({"msgtype": "m.text", "body": "x", "m.relates_to": relates}))
    assert got.reply_is_fallback is False
    assert got.message.refs.matrix_in_reply_to == "$p"


def test_reply_fallback_is_stripped_from_body_and_html() -> None:
    got = message(
        event(
            {
                "msgtype": "m.text",
                "body": "> <@bob:example.com> the original\n> second line\n\nmy answer\n> quoted by me",
                "format": "org.matrix.custom.html",
                "formatted_body": "<mx-reply><blockquote><a href='https://matrix.to/#/$p'>In reply to</a>"
                "the original</blockquote></mx-reply>my <b>answer</b>",
                "m.relates_to": {"m.in_reply_to": {"event_id": "$p"}},
            }
        )
    ).message
    assert got.text == "my answer\n> quoted by me"
    assert got.html == "my <b>answer</b>"
    assert got.refs.matrix_in_reply_to == "$p"
    assert got.refs.matrix_thread_root is None


def test_leading_quote_without_a_reply_relation_is_kept() -> None:
    body = "> <@bob:example.com> said this\n\nand I agree"
    assert message(event({"msgtype": "m.text", "body": body})).message.text == body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> <@a:x> hi\n\nreply", "reply"),
        ("> * <@a:x> waves\n\nreply", "reply"),
        ("> <@a:x> hi\n> more\nreply", "reply"),
        ("> just a quote\n\nreply", "> just a quote\n\nreply"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_strip_reply_fallback(body: str, expected: str) -> None:
    assert strip_reply_fallback(body) == expected


# -- media --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("msgtype", ["m.image", "m.file", "m.audio", "m.video"])
def test_media_becomes_an_attachment_reference(msgtype: str) -> None:
    content = {
        "msgtype": msgtype,
        "body": "report.pdf",
        "url": "mxc://example.com/abc",
        "info": {"size": 1234, "mimetype": "application/pdf"},
    }
    got = message(event(content)).message
    assert got.attachments == (
        Attachment(
            filename="report.pdf", content_type="application/pdf", size=1234, url="mxc://example.com/abc"
        ),
    )
    assert got.text == "report.pdf"


def test_media_caption_is_the_text() -> None:
    content = {
        "msgtype": "m.image",
        "body": "our whiteboard",
        "filename": "IMG_1.jpg",
        "url": "mxc://example.com/img",
        "info": {"mimetype": "image/jpeg"},
    }
    got = message(event(content)).message
    assert got.text == "our whiteboard"
    assert got.attachments[0].filename == "IMG_1.jpg"
    assert got.attachments[0].size == 0  # unknown size stays 0 rather than failing


def test_media_without_info_gets_defaults() -> None:
    got = message(event({"msgtype": "m.file", "body": "x.bin", "url": "mxc://e/x", "info": "bogus"})).message
    assert got.attachments[0].content_type == "application/octet-stream"


def test_encrypted_media_is_ignored() -> None:
    got = ignored(event({"msgtype": "m.image", "body": "x", "file": {"url": "mxc://e/x"}}))
    assert got.reason is IgnoredBecause.ENCRYPTED


def test_media_with_a_non_mxc_url_is_malformed() -> None:
    got = ignored(event({"msgtype": "m.image", "body": "x", "url": "https://evil.example/x.png"}))
    assert got.reason is IgnoredBecause.MALFORMED


# -- edits, redactions, reactions -----------------------------------------------------------------


def test_edit_takes_the_new_content() -> None:
    content = {
        "msgtype": "m.text",
        "body": "* corrected",
        "m.new_content": {
            "msgtype": "m.text",
            "body": "corrected",
            "format": "org.matrix.custom.html",
            "formatted_body": "<em>corrected</em>",
        },
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"},
    }
    got = convert(event(content))
    assert got == MatrixEdit(
        room_id=ROOM,
        event_id="$ev1",
        target_event_id="$orig",
        sender=ANA,
        sender_name="Ana Souza",
        text="corrected",
        html="<em>corrected</em>",
        sent_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
    )


def test_edit_without_new_content_is_malformed() -> None:
    content = {
        "msgtype": "m.text",
        "body": "* x",
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"},
    }
    assert ignored(event(content)).reason is IgnoredBecause.MALFORMED


def test_redaction_room_v11_and_older() -> None:
    v11 = convert(event({"redacts": "$gone", "reason": "spam"}, type="m.room.redaction"))
    assert isinstance(v11, MatrixRedaction)
    assert (v11.redacted_event_id, v11.reason, v11.sender) == ("$gone", "spam", ANA)
    older = convert(event({}, type="m.room.redaction", redacts="$old"))
    assert isinstance(older, MatrixRedaction)
    assert older.redacted_event_id == "$old"
    assert older.reason is None
    assert ignored(event({}, type="m.room.redaction")).reason is IgnoredBecause.MALFORMED


def test_reaction() -> None:
    raw = event(
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$t", "key": "👍"}}, type="m.reaction"
    )
    got = convert(raw)
    assert isinstance(got, MatrixReaction)
    assert (got.target_event_id, got.key, got.sender, got.sender_name) == ("$t", "👍", ANA, "Ana Souza")
    bad = event({"m.relates_to": {"rel_type": "m.reference", "event_id": "$t"}}, type="m.reaction")
    assert ignored(bad).reason is IgnoredBecause.MALFORMED


# -- what is not relayed ---------------------------------------------------------------------------


def test_own_events_are_ignored() -> None:
    assert ignored(event({"msgtype": "m.notice", "body": "x"}, sender=BOT)).reason is IgnoredBecause.OWN_EVENT
    marked = event({"msgtype": "m.text", "body": "x", ORIGIN_MARKER_KEY: {"post": 1}})
    assert ignored(marked).reason is IgnoredBecause.OWN_MARKER
    edit = {
        "msgtype": "m.text",
        "body": "* x",
        "m.new_content": {"msgtype": "m.text", "body": "x", ORIGIN_MARKER_KEY: {}},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"},
    }
    assert ignored(event(edit)).reason is IgnoredBecause.OWN_MARKER


def test_unknown_msgtype_and_event_types() -> None:
    assert ignored(event({"msgtype": "m.location", "body": "geo"})).reason is IgnoredBecause.UNKNOWN_MSGTYPE
    assert ignored(event({"body": "no msgtype"})).reason is IgnoredBecause.UNKNOWN_MSGTYPE
    assert (
        ignored(event({"algorithm": "m.megolm"}, type="m.room.encrypted")).reason is IgnoredBecause.ENCRYPTED
    )
    assert (
        ignored(event({"body": "x", "url": "mxc://e/s"}, type="m.sticker")).reason
        is IgnoredBecause.UNSUPPORTED
    )


def test_already_redacted_events_are_ignored() -> None:
    raw = event({}, unsigned={"redacted_because": {"type": "m.room.redaction"}})
    assert ignored(raw).reason is IgnoredBecause.REDACTED


@pytest.mark.parametrize(
    "raw",
    [
        event("not an object"),
        event(None),
        event({"msgtype": "m.text"}),
        event({"msgtype": "m.text", "body": 42}),
        {"type": "m.room.message", "content": {"msgtype": "m.text", "body": "no id"}},
        event({"msgtype": "m.text", "body": "x"}, sender=None),
    ],
)
def test_malformed_events_are_ignored_not_raised(raw: dict[str, Any]) -> None:
    assert ignored(raw).reason is IgnoredBecause.MALFORMED


@pytest.mark.parametrize(
    "formatted",
    [
        42,
        {"html": "x"},
        "",
        "<" * 10_000,
        "<div>" * 5_000 + "deep" + "</div>" * 5_000,
        "<svg><script>alert(1)</script></svg>",
        "<a href='javascript:alert(1)'>click</a><img src=x onerror=alert(1)>",
        "\x00\udcff<b>broken",
    ],
)
def test_hostile_or_malformed_formatted_body_still_yields_text(formatted: object) -> None:
    content = {
        "msgtype": "m.text",
        "body": "plain words",
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }
    got = message(event(content)).message
    assert got.text == "plain words"
    if got.html is not None:
        assert "script" not in got.html
        assert "javascript" not in got.html
        assert "onerror" not in got.html


def test_html_without_body_gives_text_from_html() -> None:
    content = {
        "msgtype": "m.text",
        "format": "org.matrix.custom.html",
        "formatted_body": "<p>only <b>html</b></p>",
    }
    got = message(event(content)).message
    assert got.text == "only html"
    assert got.html == "<p>only <b>html</b></p>"


def test_unknown_format_is_not_rendered() -> None:
    assert render_html({"format": "text/markdown", "formatted_body": "<b>x</b>"}) is None


def test_bad_timestamp_gives_no_date() -> None:
    raw = event({"msgtype": "m.text", "body": "x"}, origin_server_ts="yesterday")
    assert message(raw).message.sent_at is None


# -- member names -------------------------------------------------------------------------------------


def member(user_id: str, membership: str, name: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"membership": membership}
    if name is not None:
        content["displayname"] = name
    return {"type": "m.room.member", "state_key": user_id, "sender": user_id, "content": content}


def test_member_names_follow_member_events() -> None:
    names = MemberNames()
    names.observe(ROOM, member(ANA, "join", "Ana"))
    assert names.get(ROOM, ANA) == "Ana"
    names.observe(ROOM, member(ANA, "join", "Ana Souza"))
    assert names.get(ROOM, ANA) == "Ana Souza"
    names.observe(ROOM, member(ANA, "leave"))  # a departure keeps the last name for late events
    assert names.get(ROOM, ANA) == "Ana Souza"
    names.observe(ROOM, member(ANA, "join"))  # rejoined without a name
    assert names.get(ROOM, ANA) is None
    names.observe(ROOM, {"type": "m.room.member", "state_key": 3, "content": "x"})
    names.observe(ROOM, {"type": "m.room.message", "content": {}})
    assert names.get("!other:x", ANA) is None


def test_a_join_is_a_newcomer_and_a_profile_change_is_not() -> None:
    """Only an arrival (join after anything but join) of someone else than the bot is a newcomer."""

    def member(user: str, membership: str, before: str | None = None, name: str | None = None) -> Event:
        event: Event = {
            "type": "m.room.member",
            "event_id": f"$m-{user}-{membership}",
            "state_key": user,
            "sender": user,
            "content": {"membership": membership, **({"displayname": name} if name else {})},
        }
        if before is not None:
            event["unsigned"] = {"prev_content": {"membership": before}}
        return event

    joined = convert_join(member("@vi:x", "join", name=" Vi "), room_id="!r:x", bot_user_id="@bot:x")
    assert joined == MatrixJoin("!r:x", "$m-@vi:x-join", "@vi:x", "Vi")
    assert convert_join(member("@vi:x", "join", before="leave"), room_id="!r:x", bot_user_id="@bot:x") == (
        MatrixJoin("!r:x", "$m-@vi:x-join", "@vi:x", "vi")
    )
    for not_new in (
        member("@vi:x", "join", before="join", name="New name"),  # a profile change
        member("@vi:x", "leave"),
        member("@vi:x", "invite"),
        member("@bot:x", "join"),
    ):
        assert convert_join(not_new, room_id="!r:x", bot_user_id="@bot:x") is None
