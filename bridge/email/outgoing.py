"""What the relay hands the mail composer: one post, edit, batch or notice for one recipient.

Plain frozen values, so the relay can build them from its rows and tests can build them by hand; the
composer (``bridge.email.outbound``) turns each into a MIME message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.core.model import Attachment, Channel
from bridge.email.addresses import ListIdentity


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMail:
    """What every mail the list sends to one member carries, whatever its body.

    ``subject`` is the thread's root subject, undecorated; ``is_reply`` gives it ``Re:``. Ids are
    without angle brackets; ``message_id`` is derived by the caller (``post_message_id``) so a resend
    is the same message. ``reply_to`` is the signed ``list+TOKEN@`` address of this member and thread.
    ``recipient`` is the envelope recipient; it never appears in the headers (``To`` is the list).
    """

    community: ListIdentity
    recipient: str
    subject: str
    is_reply: bool
    message_id: str
    reply_to: str
    unsubscribe_url: str
    unsubscribe_mailto: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    archive_url: str | None = None  # List-Archive (RFC 2369): the community's archive page
    archived_at: str | None = None  # Archived-At (RFC 5064): this thread's archive page
    footer_lines: tuple[str, ...] = ()
    date: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingPost(ListMail):
    """One post relayed to the list. ``html`` is the sanitised HTML of ``text`` (made from the text as
    Markdown when None). Attachments with ``data`` become parts; those with only a ``url`` (too large)
    become link lines."""

    author_name: str
    author_channel: Channel
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingEdit(ListMail):
    """A correction of an earlier post, sent in the same thread: ``in_reply_to`` is the original
    post's Message-ID, ``message_id`` its own (``post_message_id(..., kind="edit", revision=n)``)."""

    author_name: str
    author_channel: Channel
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One chat message inside a batch mail."""

    author_name: str
    sent_at: datetime
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    author_channel: Channel = Channel.MATRIX


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingBatch(ListMail):
    """Several chat messages of one burst or thread folded into one mail; times are shown in
    ``time_zone`` (the community's)."""

    entries: tuple[BatchEntry, ...]
    time_zone: str = "UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingReminder(ListMail):
    """A meeting reminder to one member, in the meeting's notes thread: the time in the member's own
    zone (``when_local``) and in UTC, the call link, and ``calendar``, the ``.ics`` invitation
    (``bridge.email.calendar``) carried as an RFC 6047 ``text/calendar`` part and as a file."""

    title: str
    lead: str
    when_local: str
    when_utc: str
    call_url: str | None = None
    description: str = ""
    opens_notes: bool = True
    calendar: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingNotice:
    """A notice from the bridge to one person (held messages, dead deliveries): not list mail, marked
    ``Auto-Submitted: auto-generated`` so no responder answers it. ``from_address`` defaults to the
    list address; ``subject`` gets the list tag."""

    community: ListIdentity
    recipient: str
    subject: str
    title: str
    message_id: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    actions: tuple[tuple[str, str], ...] = ()  # (label, url)
    from_address: str | None = None
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    footer_lines: tuple[str, ...] = ()
    date: datetime | None = None
