"""The variables of the relay mail templates (``templates/email/``), one typed dict per template.

Templates are strict about undefined names; these types make the same promise on the Python side, so
a renamed variable is a mypy error in the composer rather than a failed delivery. HTML that reaches a
template is ``Markup`` and was produced by the sanitiser: nothing else is ever marked safe.
"""

from __future__ import annotations

from typing import TypedDict

from markupsafe import Markup


class FileLink(TypedDict):
    """A file too large to attach, offered as a link."""

    filename: str
    size: int
    url: str


class FooterContext(TypedDict):
    """What every relay mail ends with (``_footer.*.j2``)."""

    subject: str
    community_name: str
    reply_hint: bool  # "Reply to this email to answer in the room"
    archive_url: str | None
    unsubscribe_url: str | None
    footer_lines: list[str]


class MessageContext(TypedDict):
    """One message and who wrote it where."""

    author_name: str
    from_chat: bool
    text: str
    html: Markup
    attached: list[str]  # names of the files attached to the mail
    links: list[FileLink]


class PostContext(FooterContext, MessageContext):
    """``post.*.j2`` and ``edit.*.j2``."""


class BatchEntryContext(MessageContext):
    time: str  # local time of the message, e.g. "14:05"


class BatchContext(FooterContext):
    """``batch.*.j2``: several chat messages of one burst folded into one mail."""

    entries: list[BatchEntryContext]


class NoticeAction(TypedDict):
    label: str
    url: str


class NoticeContext(FooterContext):
    """``notice.*.j2``: the bridge writing to a person (held messages, dead deliveries)."""

    title: str
    paragraphs: list[str]
    items: list[str]
    actions: list[NoticeAction]


class ReminderContext(FooterContext):
    """``reminder.*.j2``: a meeting reminder to one member, in their own time zone."""

    title: str
    community: str
    lead: str  # "24 hours": how long before the start this reminder goes out
    when_local: str  # the member's local time of the meeting, with the zone named
    when_utc: str
    call_url: str | None
    description: str
    opens_notes: bool  # this mail starts the meeting's notes thread


class NamedLink(TypedDict):
    label: str
    url: str


class WelcomeContext(TypedDict):
    """``email/welcome.*.j2`` and ``room/welcome.*.j2``: what a newcomer needs to take part."""

    person: str  # the newcomer's name
    member: bool  # a member (may post), or a visitor of the room who is not one yet
    reader: bool  # a member who only reads (digests)
    community: str
    mission: str  # the community's description
    conveners: list[str]
    core_team: list[str]
    list_address: str
    request_address: str  # LIST+request@domain: subscription and digest commands by mail
    room: str  # the room's alias (or id)
    room_url: str  # a matrix.to link to it
    archive_url: str
    practices_url: str
    tags: list[NamedLink]  # the main tags, most used first
    practices: list[NamedLink]  # confirmed practices
    meetings: list[str]  # the coming meetings, in the newcomer's zone
