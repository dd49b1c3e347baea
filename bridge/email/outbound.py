"""Posts to list mail: the MIME message every member receives, with the headers of a mature list manager.

Members judge the bridge by its mail. It must thread in every client (stable Message-IDs, In-Reply-To,
References, a subject that stays ``Re: [tag] Subject``), pass DMARC although it speaks for people from
other domains (``From`` is the list, the person's name is in the display name), be recognised as list
mail by filters and unsubscribe buttons (RFC 2369, RFC 2919, RFC 8058 one-click), and never come back
in as a new post (``X-Loop``, our own Message-ID and List-Id feed the loop guard). The bodies are
rendered from the template pairs in ``templates/email/``; a reply to any of them reaches the room
through the signed ``Reply-To``.

Pure: values in, ``EmailMessage`` out. Sending is the transport's business.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import quote

from markupsafe import Markup

from bridge.core.message_ids import parse_message_id
from bridge.core.model import Attachment, Channel
from bridge.core.subjects import list_subject, reply_subject
from bridge.core.zones import zone as time_zone
from bridge.email.addresses import ListIdentity
from bridge.email.calendar import FILENAME, METHOD
from bridge.email.header_fold import COMPOSE_POLICY
from bridge.email.mail_context import (
    BatchContext,
    BatchEntryContext,
    FileLink,
    FooterContext,
    MessageContext,
    NoticeAction,
    NoticeContext,
    PostContext,
    ReminderContext,
    WelcomeContext,
)
from bridge.email.outgoing import (
    BatchEntry,
    ListMail,
    OutgoingBatch,
    OutgoingEdit,
    OutgoingNotice,
    OutgoingPost,
    OutgoingReminder,
)
from bridge.formatting.markdown import markdown_to_html
from bridge.formatting.sanitize import sanitize_html
from bridge.rendering import Renderer

__all__ = [
    "BatchEntry",
    "ListIdentity",
    "ListMail",
    "OutgoingBatch",
    "OutgoingEdit",
    "OutgoingNotice",
    "OutgoingPost",
    "OutgoingReminder",
    "as_smtp_bytes",
    "compose_batch_mail",
    "compose_edit_mail",
    "compose_notice_mail",
    "compose_post_body",
    "compose_post_mail",
    "compose_reminder_mail",
    "compose_welcome_mail",
    "thread_references",
]

MAX_REFERENCES = 20
"""References kept in outgoing mail: the root and the most recent, as RFC 5322 §3.6.4 suggests."""
MAX_NAME = 64
ONE_CLICK = "List-Unsubscribe=One-Click"
AUTO_RESPONSE_SUPPRESS = "OOF, AutoReply"
"""Asks Exchange not to answer list mail with out-of-office notices (they would be dropped anyway)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,"]')
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


# -- composing -----------------------------------------------------------------------------------


def compose_post_mail(mail: OutgoingPost, *, renderer: Renderer | None = None) -> EmailMessage:
    """The list mail of one post, ready for ``as_smtp_bytes``."""
    message = _list_message(mail, via(mail.author_name, mail.community))
    _post_body(message, mail, renderer)
    return message


def compose_post_body(
    mail: OutgoingPost, *, renderer: Renderer | None = None
) -> tuple[EmailMessage, str, str]:
    """The MIME body of ``compose_post_mail`` without the list headers (serialised, it is what follows
    them), and the text and HTML it was made of."""
    message = EmailMessage(policy=COMPOSE_POLICY)
    text, html = _post_body(message, mail, renderer)
    return message, text, html


def _post_body(message: EmailMessage, mail: OutgoingPost, renderer: Renderer | None) -> tuple[str, str]:
    context: PostContext = {
        **_footer(mail),
        **_message_context(mail.author_name, mail.author_channel, mail.text, mail.html, mail.attachments),
    }
    text, html = _renderer(renderer).render_pair("email/post", context)
    _set_body(message, text, html, mail.attachments)
    return text, html


def compose_edit_mail(mail: OutgoingEdit, *, renderer: Renderer | None = None) -> EmailMessage:
    """A short correction in the same thread as the post it corrects; the subject is unchanged."""
    context: PostContext = {
        **_footer(mail),
        **_message_context(mail.author_name, mail.author_channel, mail.text, mail.html, mail.attachments),
    }
    message = _list_message(mail, via(mail.author_name, mail.community))
    text, html = _renderer(renderer).render_pair("email/edit", context)
    _set_body(message, text, html, mail.attachments)
    return message


def compose_batch_mail(mail: OutgoingBatch, *, renderer: Renderer | None = None) -> EmailMessage:
    """Several chat messages in one mail, each with its author and local time."""
    if not mail.entries:
        raise ValueError("a batch mail needs at least one message")
    zone = time_zone(mail.time_zone)
    entries: list[BatchEntryContext] = [
        {
            **_message_context(e.author_name, e.author_channel, e.text, e.html, e.attachments),
            "time": _local_time(e.sent_at, zone, mail.entries[0].sent_at),
        }
        for e in mail.entries
    ]
    context: BatchContext = {**_footer(mail), "entries": entries}
    authors = list(dict.fromkeys(_clean_name(e.author_name) for e in mail.entries))
    message = _list_message(mail, via(_authors_label(authors), mail.community))
    text, html = _renderer(renderer).render_pair("email/batch", context)
    _set_body(message, text, html, tuple(a for e in mail.entries for a in e.attachments))
    return message


def compose_reminder_mail(mail: OutgoingReminder, *, renderer: Renderer | None = None) -> EmailMessage:
    """A meeting reminder in its notes thread, with the invitation as an RFC 6047 ``text/calendar``
    alternative (``method=PUBLISH``) and as an ``invite.ics`` file for clients that ignore the former."""
    context: ReminderContext = {
        **_footer(mail),
        "title": mail.title,
        "community": _community_name(mail.community),
        "lead": mail.lead,
        "when_local": mail.when_local,
        "when_utc": mail.when_utc,
        "call_url": ascii_url(mail.call_url) if mail.call_url else None,
        "description": mail.description,
        "opens_notes": mail.opens_notes,
    }
    message = _list_message(mail, _community_name(mail.community))
    text, html = _renderer(renderer).render_pair("email/reminder", context)
    _set_body(message, text, html, ())
    _add_calendar(message, mail.calendar)
    return message


def _add_calendar(message: EmailMessage, calendar: bytes) -> None:
    """The invitation inside ``multipart/alternative`` (what Outlook and Gmail show as an event) and
    as a file (what every other client offers to open). Base64 keeps its CRLF lines intact."""
    if message.get_content_type() != "multipart/alternative":
        raise ValueError("a reminder mail is its text and HTML alternatives before the invitation")
    message.add_alternative(
        calendar.decode("utf-8"), subtype="calendar", charset="utf-8", cte="base64", params={"method": METHOD}
    )
    message.add_attachment(calendar, maintype="application", subtype="ics", filename=FILENAME)
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]


def compose_notice_mail(notice: OutgoingNotice, *, renderer: Renderer | None = None) -> EmailMessage:
    """A notice from the bridge to one person, marked as automatic."""
    community = notice.community
    subject = list_subject(notice.subject, community.subject_prefix)
    context: NoticeContext = {
        **_notice_footer(notice, subject),
        "title": notice.title,
        "paragraphs": list(notice.paragraphs),
        "items": list(notice.items),
        "actions": [NoticeAction(label=label, url=ascii_url(url)) for label, url in notice.actions],
    }
    message = _notice_message(notice, subject)
    text, html = _renderer(renderer).render_pair("email/notice", context)
    _set_body(message, text, html, ())
    return message


def compose_welcome_mail(
    notice: OutgoingNotice, welcome: WelcomeContext, *, renderer: Renderer | None = None
) -> EmailMessage:
    """A newcomer's welcome: headers of a notice (``title`` and ``paragraphs`` unused), body from the
    ``email/welcome`` pair."""
    subject = list_subject(notice.subject, notice.community.subject_prefix)
    message = _notice_message(notice, subject)
    context = {**_notice_footer(notice, subject), **welcome}
    text, html = _renderer(renderer).render_pair("email/welcome", context)
    _set_body(message, text, html, ())
    return message


def _notice_footer(notice: OutgoingNotice, subject: str) -> FooterContext:
    return {
        "subject": subject,
        "community_name": _community_name(notice.community),
        "reply_hint": False,
        "archive_url": None,
        "unsubscribe_url": None,
        "footer_lines": list(notice.footer_lines),
    }


def _notice_message(notice: OutgoingNotice, subject: str) -> EmailMessage:
    community = notice.community
    message = EmailMessage(policy=COMPOSE_POLICY)
    message["From"] = Address(
        _community_name(community), addr_spec=notice.from_address or community.list_address
    )
    message["To"] = notice.recipient
    if notice.reply_to:
        message["Reply-To"] = notice.reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(notice.date or datetime.now(UTC))
    _set_ids(message, notice.message_id, notice.in_reply_to, notice.references)
    message["List-Id"] = _list_id_value(community)
    message["X-Loop"] = community.list_address
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    return message


def as_smtp_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire: CRLF line ends, no line over 998 octets, 7-bit headers."""
    return message.as_bytes(policy=SMTP)


# -- headers -------------------------------------------------------------------------------------


def _list_message(mail: ListMail, from_name: str) -> EmailMessage:
    message = EmailMessage(policy=COMPOSE_POLICY)
    for name, value in list_headers(mail, from_name):
        message[name] = value
    return message


def list_headers(mail: ListMail, from_name: str) -> list[tuple[str, str | Address]]:
    """The headers of a list mail, in order, before its MIME headers (``bridge.email.shared_mail``
    compares two members' lists to find what their copies do not share)."""
    community = mail.community
    local, _, domain = community.list_address.rpartition("@")
    parent = _clean_id(mail.in_reply_to)
    chain = thread_references(mail.references, parent)
    return [
        ("From", _address(from_name, community.list_address)),
        ("Reply-To", mail.reply_to),
        ("Sender", community.list_address),
        ("To", _address(_community_name(community), community.list_address)),
        ("Subject", _subject(mail)),
        ("Date", format_datetime(mail.date or datetime.now(UTC))),
        ("Message-ID", f"<{_own_id(mail.message_id)}>"),
        *([("In-Reply-To", f"<{parent}>")] if parent is not None else []),
        *([("References", " ".join(f"<{ref}>" for ref in chain))] if chain else []),
        ("List-Id", _list_id_value(community)),
        ("List-Post", f"<mailto:{community.list_address}>"),
        *([("List-Archive", f"<{ascii_url(mail.archive_url)}>")] if mail.archive_url else []),
        *([("Archived-At", f"<{ascii_url(mail.archived_at)}>")] if mail.archived_at else []),
        (
            "List-Unsubscribe",
            f"<{ascii_url(mail.unsubscribe_url)}>, <{ascii_url(mail.unsubscribe_mailto)}>",
        ),
        ("List-Unsubscribe-Post", ONE_CLICK),
        ("List-Subscribe", f"<mailto:{local}+subscribe@{domain}>"),
        ("List-Help", f"<mailto:{local}+request@{domain}?subject=help>"),
        ("Precedence", "list"),
        ("X-Loop", community.list_address),
        ("X-Auto-Response-Suppress", AUTO_RESPONSE_SUPPRESS),
    ]


@lru_cache(maxsize=512)
def _address(name: str, addr_spec: str) -> Address:
    """An address of the list (immutable, so one object serves every mail: parsing it is not free)."""
    return Address(name, addr_spec=addr_spec)


def _subject(mail: ListMail) -> str:
    prefix = mail.community.subject_prefix
    return reply_subject(mail.subject, prefix) if mail.is_reply else list_subject(mail.subject, prefix)


def _set_ids(
    message: EmailMessage, message_id: str, in_reply_to: str | None, references: tuple[str, ...]
) -> None:
    message["Message-ID"] = f"<{_own_id(message_id)}>"
    parent = _clean_id(in_reply_to)
    if parent is not None:
        message["In-Reply-To"] = f"<{parent}>"
    chain = thread_references(references, parent)
    if chain:
        message["References"] = " ".join(f"<{ref}>" for ref in chain)


def _own_id(message_id: str) -> str:
    own = _clean_id(message_id)
    if own is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return own


def thread_references(references: tuple[str, ...], parent: str | None) -> tuple[str, ...]:
    """The References of a reply: the parent's chain plus the parent, each once, unusable ids dropped;
    beyond ``MAX_REFERENCES`` the root and the most recent are kept."""
    ids = [clean for ref in (*references, parent) if (clean := _clean_id(ref)) is not None]
    chain = list(dict.fromkeys(ids))
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[len(chain) - MAX_REFERENCES + 1 :]]
    return tuple(chain)


def _clean_id(value: str | None) -> str | None:
    """An id fit for a header: brackets and whitespace gone, ASCII, with an ``@``, of sane length."""
    found = parse_message_id(value) if value else None
    if found is None or not found.isascii() or "@" not in found or len(found) > 250:
        return None
    return found


def _list_id_value(community: ListIdentity) -> str:
    """``Name <slug.domain>`` (RFC 2919): the name quoted when it holds specials, RFC 2047-encoded when
    it is not ASCII, so the header stays ASCII and folds between words."""
    name = _clean_name(_community_name(community))
    if not name:
        return community.list_id
    if not name.isascii():
        phrase = " ".join(Header(name, "utf-8").encode(maxlinelen=76).split())
    elif _PHRASE_SPECIALS.search(name):
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = name
    return f"{phrase} {community.list_id}"


def ascii_url(url: str) -> str:
    return quote(url.strip(), safe=_URL_SAFE)


def _community_name(community: ListIdentity) -> str:
    return _clean_name(community.name) or community.slug


def _clean_name(name: str) -> str:
    name = " ".join(_CONTROL.sub(" ", name).split())
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1].rstrip() + "…"


def via(author: str, community: ListIdentity) -> str:
    """The DMARC-safe display name: the person's name, sent by the list."""
    author = _clean_name(author)
    name = _community_name(community)
    return f"{author} via {name}" if author else name


def _authors_label(authors: list[str]) -> str:
    named = [a for a in authors if a]
    if len(named) <= 1:
        return named[0] if named else ""
    if len(named) == 2:
        return f"{named[0]} and {named[1]}"
    return f"{named[0]} and {len(named) - 1} others"


# -- bodies --------------------------------------------------------------------------------------


def _renderer(renderer: Renderer | None) -> Renderer:
    """The caller's renderer (the composition root passes one, so templates compile once), else a
    fresh one."""
    return renderer if renderer is not None else Renderer()


def _footer(mail: ListMail) -> FooterContext:
    return {
        "subject": _subject(mail),
        "community_name": _community_name(mail.community),
        "reply_hint": True,
        "archive_url": ascii_url(thread) if (thread := mail.archived_at or mail.archive_url) else None,
        "unsubscribe_url": ascii_url(mail.unsubscribe_url),
        "footer_lines": list(mail.footer_lines),
    }


def _message_context(
    author: str, channel: Channel, text: str, html: str | None, attachments: tuple[Attachment, ...]
) -> MessageContext:
    safe = sanitize_html(html) if html else markdown_to_html(text)
    return {
        "author_name": _clean_name(author) or "Someone",
        "from_chat": channel is Channel.MATRIX,
        "text": text.strip("\n") if text.strip() else "",
        "html": Markup(safe),  # noqa: S704 - the sanitiser produced it just above
        "attached": [_clean_name(a.filename) or "attachment" for a in attachments if a.data is not None],
        "links": _links(attachments),
    }


def _links(attachments: tuple[Attachment, ...]) -> list[FileLink]:
    return [
        FileLink(filename=a.filename, size=a.size, url=ascii_url(a.url))
        for a in attachments
        if a.data is None and a.url
    ]


def _local_time(moment: datetime, zone: tzinfo, first: datetime) -> str:
    """``14:05``, or ``Tue 1 Oct 14:05`` when the batch spans more than one day."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(zone)
    start = (first if first.tzinfo else first.replace(tzinfo=UTC)).astimezone(zone)
    if local.date() == start.date():
        return local.strftime("%H:%M")
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _set_body(message: EmailMessage, text: str, html: str, attachments: tuple[Attachment, ...]) -> None:
    """``multipart/alternative`` (plain, HTML), inside ``multipart/mixed`` when files are attached.

    Quoted-printable keeps every line short and the mail 7-bit, whatever relays it passes."""
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        if attachment.data is None:
            continue
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype or "/" in subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            attachment.data,
            maintype=maintype.strip().lower(),
            subtype=subtype.split(";", 1)[0].strip().lower(),
            filename=_clean_name(attachment.filename) or "attachment",
        )
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]  # the library stamps it on parts it creates; it belongs on top only
