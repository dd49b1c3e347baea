"""Raw Matrix room events (the JSON of ``/sync``) to the adapter's neutral events.

Everything here is pure and never raises on what a client sent: event content is written by strangers
and by every client's bugs, so a missing field or a field of the wrong type makes the event
``MatrixIgnored(MALFORMED)``, and a broken ``formatted_body`` only costs the HTML (the plain ``body``
still goes through). The bot's own events are recognised by the core loop guard before anything else.
Reply fallbacks (the quoted parent that older clients put in front of a reply) are removed from both
body and HTML: on the other side the reply is threaded, not quoted.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.core.loop_guard import ORIGIN_MARKER_KEY, is_own_matrix_event
from bridge.core.model import Attachment, Channel, InboundMessage, ThreadRefs
from bridge.formatting.html_text import html_to_text
from bridge.formatting.pills import pills_to_names
from bridge.formatting.sanitize import sanitize_html
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

HTML_FORMAT = "org.matrix.custom.html"
TEXT_MSGTYPES = frozenset({"m.text", "m.emote", "m.notice"})
MEDIA_MSGTYPES = frozenset({"m.image", "m.file", "m.audio", "m.video"})
DEFAULT_MEDIA_TYPE = "application/octet-stream"

_FALLBACK_FIRST_LINE = re.compile(r"> (?:\* )?<[@!#][^>\s]*>")


def convert_event(
    event: Mapping[str, Any],
    *,
    room_id: str,
    bot_user_id: str,
    community_slug: str,
    sender_name: str | None = None,
) -> MatrixEvent:
    """Convert one timeline event of ``room_id``; ``sender_name`` is the sender's display name there."""
    event_id = _text(event, "event_id") or ""
    sender = _text(event, "sender") or ""
    content = _mapping(event.get("content"))

    def ignored(reason: IgnoredBecause, detail: str = "") -> MatrixIgnored:
        return MatrixIgnored(room_id, event_id, sender, reason, detail)

    if not event_id or not sender:
        return ignored(IgnoredBecause.MALFORMED, "event without event_id or sender")
    if content is None:
        return ignored(IgnoredBecause.MALFORMED, "content is not an object")
    if sender == bot_user_id:
        return ignored(IgnoredBecause.OWN_EVENT)
    if is_own_matrix_event(sender, bot_user_id, content):
        return ignored(IgnoredBecause.OWN_MARKER, f"carries {ORIGIN_MARKER_KEY}")
    unsigned = _mapping(event.get("unsigned")) or {}
    if "redacted_because" in unsigned:
        return ignored(IgnoredBecause.REDACTED)

    name = sender_name or default_display_name(sender)
    sent_at = _timestamp(event.get("origin_server_ts"))
    kind = _text(event, "type")
    if kind == "m.room.redaction":
        redacts = _text(content, "redacts") or _text(event, "redacts")
        if redacts is None:
            return ignored(IgnoredBecause.MALFORMED, "redaction without redacts")
        return MatrixRedaction(room_id, event_id, redacts, sender, _text(content, "reason"), sent_at)
    if kind == "m.reaction":
        relates = _mapping(content.get("m.relates_to")) or {}
        target, key = _text(relates, "event_id"), _text(relates, "key")
        if relates.get("rel_type") != "m.annotation" or target is None or not key:
            return ignored(IgnoredBecause.MALFORMED, "reaction without an m.annotation relation")
        return MatrixReaction(room_id, event_id, target, key, sender, name, sent_at)
    if kind == "m.room.encrypted":
        return ignored(IgnoredBecause.ENCRYPTED, "the bridge holds no room keys")
    if kind != "m.room.message":
        return ignored(IgnoredBecause.UNSUPPORTED, f"event type {kind!r}")

    relates = _mapping(content.get("m.relates_to")) or {}
    if relates.get("rel_type") == "m.replace":
        edit = _edit(room_id, event_id, sender, name, sent_at, content, relates)
        return edit if isinstance(edit, MatrixEdit) else ignored(IgnoredBecause.MALFORMED, edit)

    msgtype = _text(content, "msgtype")
    attachments: tuple[Attachment, ...] = ()
    if msgtype in TEXT_MSGTYPES:
        rendered = _render(content, name, strip_fallback=_reply_target(relates) is not None)
        if rendered is None:
            return ignored(IgnoredBecause.MALFORMED, f"{msgtype} without a text body")
        text, html = rendered
    elif msgtype in MEDIA_MSGTYPES:
        media = _media(content)
        if isinstance(media, IgnoredBecause):
            return ignored(media, f"{msgtype} without an mxc:// url")
        text, html, attachment = media
        attachments = (attachment,)
    else:
        return ignored(IgnoredBecause.UNKNOWN_MSGTYPE, f"msgtype {msgtype!r}")

    thread_root = _text(relates, "event_id") if relates.get("rel_type") == "m.thread" else None
    reply_to = _reply_target(relates)
    message = InboundMessage(
        channel=Channel.MATRIX,
        origin_key=event_id,
        community_slug=community_slug,
        sender_address=sender,
        sender_name=name,
        text=text,
        html=html,
        refs=ThreadRefs(matrix_thread_root=thread_root, matrix_in_reply_to=reply_to),
        attachments=attachments,
        sent_at=sent_at,
        matrix_event_id=event_id,
    )
    falling_back = thread_root is not None and relates.get("is_falling_back") is True
    return MatrixMessage(room_id, message, msgtype, reply_is_fallback=falling_back and reply_to is not None)


def convert_join(event: Mapping[str, Any], *, room_id: str, bot_user_id: str) -> MatrixJoin | None:
    """A ``m.room.member`` event that is someone's arrival in the room; None for anything else (a
    profile change, a leave, an invite, the bot itself)."""
    if event.get("type") != "m.room.member":
        return None
    user_id, event_id = _text(event, "state_key"), _text(event, "event_id")
    content = _mapping(event.get("content")) or {}
    previous = _mapping((_mapping(event.get("unsigned")) or {}).get("prev_content")) or {}
    if user_id is None or event_id is None or user_id == bot_user_id or not user_id.startswith("@"):
        return None
    if content.get("membership") != "join" or previous.get("membership") == "join":
        return None
    name = _text(content, "displayname")
    return MatrixJoin(
        room_id, event_id, user_id, name.strip() if name and name.strip() else default_display_name(user_id)
    )


class MemberNames:
    """Display names of each room's members as their ``m.room.member`` events say, latest wins.

    Fed with a sync response's state and then its timeline in order, so a message is attributed to the
    name its sender had when writing it.
    """

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, str]] = {}

    def observe(self, room_id: str, event: Mapping[str, Any]) -> None:
        if event.get("type") != "m.room.member":
            return
        user_id = _text(event, "state_key")
        content = _mapping(event.get("content")) or {}
        if user_id is None or content.get("membership") not in {"join", "invite"}:
            return
        names = self._rooms.setdefault(room_id, {})
        name = _text(content, "displayname")
        if name is not None and name.strip():
            names[user_id] = name.strip()
        else:
            names.pop(user_id, None)

    def get(self, room_id: str, user_id: str) -> str | None:
        return self._rooms.get(room_id, {}).get(user_id)


def default_display_name(user_id: str) -> str:
    """The localpart of ``@ana:example.com`` ("ana"): what clients show for a member without a name."""
    return user_id[1:].partition(":")[0] if user_id.startswith("@") else user_id


def strip_reply_fallback(body: str) -> str:
    """``body`` without the ``> <@user> …`` lines a client put in front of a reply, and the blank line
    after them. A body that does not start with such a quote is returned unchanged."""
    lines = body.split("\n")
    if not lines or not _FALLBACK_FIRST_LINE.match(lines[0]):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])


def render_html(content: Mapping[str, Any]) -> str | None:
    """The sanitised HTML of a message (reply fallback removed, pills as names), or None when it has
    none, an unknown format, or HTML so broken that nothing readable is left."""
    if content.get("format") != HTML_FORMAT:
        return None
    formatted = content.get("formatted_body")
    if not isinstance(formatted, str) or not formatted.strip():
        return None
    try:
        cleaned = sanitize_html(pills_to_names(formatted)).strip()
    except Exception:  # a parser edge case must cost the HTML, never the message
        return None
    return cleaned or None


def _render(content: Mapping[str, Any], name: str, *, strip_fallback: bool) -> tuple[str, str | None] | None:
    """(text, html) of a text-like message; None when there is no text at all."""
    html = render_html(content)
    body = content.get("body")
    if isinstance(body, str):
        text = strip_reply_fallback(body) if strip_fallback else body
    elif html is not None:
        text = html_to_text(html)
    else:
        return None
    if content.get("msgtype") == "m.emote":
        text = f"* {name} {text}"
        if html is not None:
            html = f"* {html_lib.escape(name)} {html}"
    return text, html


def _media(content: Mapping[str, Any]) -> tuple[str, str | None, Attachment] | IgnoredBecause:
    url = _text(content, "url")
    if url is None or not url.startswith("mxc://"):
        return IgnoredBecause.ENCRYPTED if "file" in content else IgnoredBecause.MALFORMED
    info = _mapping(content.get("info")) or {}
    size = info.get("size")
    body = _text(content, "body")
    filename = _text(content, "filename") or body or url.rsplit("/", 1)[-1]
    attachment = Attachment(
        filename=filename,
        content_type=_text(info, "mimetype") or DEFAULT_MEDIA_TYPE,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
        url=url,
    )
    # Since v1.10 a body that differs from filename is a caption; otherwise the file speaks for itself.
    if body and _text(content, "filename") and body != filename:
        return body, render_html(content), attachment
    return filename, None, attachment


def _edit(
    room_id: str,
    event_id: str,
    sender: str,
    name: str,
    sent_at: datetime | None,
    content: Mapping[str, Any],
    relates: Mapping[str, Any],
) -> MatrixEdit | str:
    """The edit, or why it is malformed."""
    target = _text(relates, "event_id")
    new_content = _mapping(content.get("m.new_content"))
    if target is None or new_content is None:
        return "edit without target or m.new_content"
    rendered = _render(new_content, name, strip_fallback=False)
    if rendered is None:
        return "edit without a text body in m.new_content"
    text, html = rendered
    return MatrixEdit(room_id, event_id, target, sender, name, text, html, sent_at)


def _reply_target(relates: Mapping[str, Any]) -> str | None:
    return _text(_mapping(relates.get("m.in_reply_to")) or {}, "event_id")


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None
