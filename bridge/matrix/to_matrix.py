"""Event contents the bridge posts into a room, built without I/O.

Posts from email appear as the bot's own account, so every client must still show who wrote them: the
author's name is written into ``body`` and ``formatted_body`` themselves (what every client shows) and
also given as an MSC4144 per-message profile (what newer clients show in place of the bot's name,
with ``has_fallback`` telling them the name is already in the text). Every content carries our origin
marker, so the sync loop and the loop guard recognise it when it comes back. Email threads map to
Matrix threads; ``is_falling_back`` keeps clients without threads showing a plain reply.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping
from typing import Any

from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.formatting.pills import mentioned_user_ids

PER_MESSAGE_PROFILE_KEY = "com.beeper.per_message_profile"
"""MSC4144's unstable key (``m.per_message_profile`` once the proposal is accepted)."""
HTML_FORMAT = "org.matrix.custom.html"
EDIT_FALLBACK_PREFIX = "* "
PROFILE_FIELD_MAX_BYTES = 255  # MSC4144 limit for id and displayname


def post_content(
    author_name: str,
    text: str,
    html: str | None,
    *,
    thread_root: str | None,
    reply_to: str | None,
    subject: str | None,
    origin_marker: Mapping[str, Any],
    profile_id: str | None = None,
    msgtype: str = "m.text",
) -> dict[str, Any]:
    """An ``m.room.message`` content for a post written by ``author_name`` on the other side.

    ``html`` must already be sanitised; without it the text is escaped. ``subject`` (the first mail of
    a thread) is shown in bold above the text. ``thread_root`` puts the post in that thread, replying to
    ``reply_to`` (or the root); ``reply_to`` alone makes a plain reply. ``profile_id`` groups an author's
    posts in clients that show per-message profiles (defaults to the name).
    """
    content = _message(author_name, text, html, subject=subject, msgtype=msgtype, profile_id=profile_id)
    relation = _relation(thread_root, reply_to)
    if relation:
        content["m.relates_to"] = relation
    content[ORIGIN_MARKER_KEY] = dict(origin_marker)
    return content


def edit_content(
    target_event_id: str,
    text: str,
    html: str | None,
    *,
    author_name: str,
    origin_marker: Mapping[str, Any],
    subject: str | None = None,
    profile_id: str | None = None,
    msgtype: str = "m.text",
) -> dict[str, Any]:
    """An ``m.replace`` of ``target_event_id`` with the post's new text; ``* `` marks the fallback."""
    new_content = _message(author_name, text, html, subject=subject, msgtype=msgtype, profile_id=profile_id)
    content = {
        **new_content,
        "body": EDIT_FALLBACK_PREFIX + new_content["body"],
        "formatted_body": html_lib.escape(EDIT_FALLBACK_PREFIX) + new_content["formatted_body"],
        "m.new_content": new_content,
        "m.relates_to": {"rel_type": "m.replace", "event_id": target_event_id},
        ORIGIN_MARKER_KEY: dict(origin_marker),
    }
    # Mentions in an edit notify only people not already mentioned (spec); we never re-notify.
    content["m.mentions"] = {}
    return content


def attachment_content(
    msgtype: str,
    mxc: str,
    filename: str,
    mimetype: str,
    size: int,
    *,
    thread_root: str | None,
    reply_to: str | None,
    origin_marker: Mapping[str, Any],
    author_name: str | None = None,
    profile_id: str | None = None,
) -> dict[str, Any]:
    """An ``m.image`` / ``m.file`` / ``m.audio`` / ``m.video`` content for an uploaded file.

    With ``author_name`` the body becomes a caption naming the author (spec v1.10 media captions: a
    ``body`` different from ``filename``), so the file is not shown as the bot's own.
    """
    content: dict[str, Any] = {
        "msgtype": msgtype,
        "body": filename,
        "filename": filename,
        "url": mxc,
        "info": {"mimetype": mimetype, "size": size},
    }
    if author_name:
        content["body"] = f"{author_name}: {filename}"
        content["format"] = HTML_FORMAT
        content["formatted_body"] = f"<b>{html_lib.escape(author_name)}</b>: {html_lib.escape(filename)}"
        content[PER_MESSAGE_PROFILE_KEY] = _profile(author_name, profile_id)
    relation = _relation(thread_root, reply_to)
    if relation:
        content["m.relates_to"] = relation
    content[ORIGIN_MARKER_KEY] = dict(origin_marker)
    return content


def reaction_content(target_event_id: str, key: str, origin_marker: Mapping[str, Any]) -> dict[str, Any]:
    """An ``m.reaction`` annotating ``target_event_id`` with ``key``."""
    return {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key},
        ORIGIN_MARKER_KEY: dict(origin_marker),
    }


def text_to_html(text: str) -> str:
    """Plain text as HTML that shows the same: escaped, line breaks kept."""
    return html_lib.escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def _message(
    author_name: str,
    text: str,
    html: str | None,
    *,
    subject: str | None,
    msgtype: str,
    profile_id: str | None,
) -> dict[str, Any]:
    name = " ".join(author_name.split()) or "?"
    shown_html = html if html and html.strip() else text_to_html(text)
    body = f"**{name}**: {text}"
    formatted = _prefix_html(f"<b>{html_lib.escape(name)}</b>: ", shown_html)
    if subject and subject.strip():
        subject = " ".join(subject.split())
        body = f"**{subject}**\n{body}"
        formatted = f"<b>{html_lib.escape(subject)}</b><br>{formatted}"
    mentions = mentioned_user_ids(shown_html) if html else []
    return {
        "msgtype": msgtype,
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": formatted,
        "m.mentions": {"user_ids": mentions} if mentions else {},
        PER_MESSAGE_PROFILE_KEY: _profile(name, profile_id),
    }


def _prefix_html(prefix: str, html: str) -> str:
    """``prefix`` inside the first paragraph when the HTML starts with one, so the name and the first
    line stay on one line."""
    stripped = html.lstrip()
    if stripped[:3].lower() == "<p>":
        return stripped[:3] + prefix + stripped[3:]
    return prefix + html


def _profile(name: str, profile_id: str | None) -> dict[str, Any]:
    return {
        "id": _truncate(profile_id or name.casefold()),
        "displayname": _truncate(name),
        "has_fallback": True,
    }


def _relation(thread_root: str | None, reply_to: str | None) -> dict[str, Any] | None:
    if thread_root:
        return {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": reply_to or thread_root},
        }
    if reply_to:
        return {"m.in_reply_to": {"event_id": reply_to}}
    return None


def _truncate(value: str) -> str:
    encoded = value.replace("\0", "").encode()
    if len(encoded) <= PROFILE_FIELD_MAX_BYTES:
        return value.replace("\0", "")
    return encoded[:PROFILE_FIELD_MAX_BYTES].decode(errors="ignore")
