"""Raw list mail to the neutral ``InboundMessage``: which list, what verdict, who wrote what, in reply
to what.

This is the only place that reads MIME on the way in. It is pure (bytes in, values out) and total: the
mailbox receives whatever the internet sends, and one malformed message must never stall the IMAP loop
behind it. Every header is read from the raw values the parser kept and decoded leniently; what could
not be read cleanly is reported in ``defects`` for the logs and replaced by a best guess.
"""

from __future__ import annotations

import email
import email.parser
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import policy
from email.message import Message
from html import escape
from types import MappingProxyType
from typing import overload

from bridge.core.loop_guard import (
    ARCHIVE_HEADERS,
    MailClass,
    MailVerdict,
    classify_archived_mail,
    classify_mail,
)
from bridge.core.message_ids import parse_message_id, parse_references
from bridge.core.model import Attachment, Channel, InboundMessage, ThreadRefs
from bridge.email.addresses import (
    ListIdentity,
    is_list_recipient,
    recipient_from_verp,
    reply_token_from_address,
)
from bridge.email.header_text import addr_specs, header_text, mailbox, parse_date, raw_first, raw_values
from bridge.email.mail_shape import mail_shape
from bridge.email.mime_parts import BodyPiece, MailBody, extract_body
from bridge.formatting.charset import decode_bytes
from bridge.formatting.html_text import html_to_text
from bridge.formatting.markdown import markdown_to_html
from bridge.formatting.quotes import strip_quoted_html, strip_quoted_text
from bridge.formatting.sanitize import sanitize_html

__all__ = [
    "ArchivedMail",
    "ListIdentity",
    "MailSummary",
    "ParsedMail",
    "parse_archived_mail",
    "parse_list_mail",
    "summarise_mail",
]

RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "to", "cc")
"""Where the list address is looked for, strongest evidence first: ``Delivered-To`` names the address
the MTA delivered this copy to, ``X-Original-To`` the envelope recipient before aliasing."""

ORIGIN_HASH_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Everything the relay needs from one raw mail, and what was wrong with it.

    ``community_slug`` is None when no list of ours is among the recipients (``reason`` says so); the
    message is built anyway, with an empty ``community_slug``, so the caller can log who sent what.
    ``verp_recipient`` is the member a bounce names through its VERP return path. ``content_ids`` maps
    the Content-ID of an inline part to its index in ``message.attachments``, for ``cid:`` images.
    """

    community_slug: str | None
    reason: str
    verdict: MailVerdict
    message: InboundMessage
    reply_token: str | None = None
    verp_recipient: str | None = None
    content_ids: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    defects: tuple[str, ...] = ()


def parse_list_mail(raw: bytes, communities: Sequence[ListIdentity], *, now: datetime) -> ParsedMail:
    """Parse one raw mail from the list mailbox; never raises."""
    defects: list[str] = []
    message = _parse_bytes(raw, defects)
    match = _match_list(message, communities)
    verdict = _classify(message, communities, match)
    written = _written(raw, message, defects)
    if written.sent_at is None:
        defects.append("no readable Date: arrival time used")
    inbound = replace(
        written.message,
        community_slug=match.community.slug if match.community else "",
        refs=replace(written.message.refs, reply_token=match.reply_token),
        sent_at=written.sent_at or now,
    )
    return ParsedMail(
        community_slug=match.community.slug if match.community else None,
        reason=match.reason,
        verdict=verdict,
        message=inbound,
        reply_token=match.reply_token,
        verp_recipient=match.verp_recipient,
        content_ids=MappingProxyType(written.content_ids),
        defects=tuple(dict.fromkeys(defects)),
    )


@dataclass(frozen=True, slots=True)
class MailSummary:
    """What a convener needs to recognise a mail that could not be handled; empty where unreadable."""

    community_slug: str | None
    sender: str | None
    subject: str | None


def summarise_mail(raw: bytes, communities: Sequence[ListIdentity]) -> MailSummary:
    """Which list, who and what, from the headers alone; never raises (the mail may be what broke)."""
    try:
        message = email.parser.BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
        match = _match_list(message, communities)
        _, address = mailbox(raw_first(message, "from") or raw_first(message, "sender"))
        subject = raw_first(message, "subject")
        return MailSummary(
            match.community.slug if match.community else None,
            address or None,
            header_text(subject)[:200] if subject is not None else None,
        )
    except Exception:  # a summary is a courtesy: the raw bytes are kept whatever happens here
        return MailSummary(None, None, None)


@dataclass(frozen=True, slots=True)
class ArchivedMail:
    """A mail read from an archive of the list: what was written, whether it is automatic mail, and
    what was wrong with it.

    ``message.sent_at`` is None when the Date header is missing or unreadable: an archive's own
    timeline has other evidence (the mbox ``From `` line), and the time of the import is never a
    post's date. ``automatic`` is the loop guard's verdict when the mail is a bounce or an
    automatic reply (``classify_archived_mail``), else None.
    """

    message: InboundMessage
    automatic: MailVerdict | None
    defects: tuple[str, ...] = ()


def parse_archived_mail(raw: bytes, community_slug: str) -> ArchivedMail:
    """Parse one mail of ``community_slug``'s archive as the relay parses live mail; never raises.

    The list is known (the archive is the community's), so no recipient has to name it, and the
    list's own headers on archived copies (List-Id, Precedence: list) say nothing about automatic mail.
    """
    defects: list[str] = []
    message = _parse_bytes(raw, defects)
    written = _written(raw, message, defects)
    headers = [
        (name, header_text(str(value)))
        for name, value in message.raw_items()
        if name.lower() in ARCHIVE_HEADERS
    ]
    verdict = classify_archived_mail(headers)
    return ArchivedMail(
        message=replace(written.message, community_slug=community_slug, sent_at=written.sent_at),
        automatic=None if verdict.relay else verdict,
        defects=tuple(dict.fromkeys(defects)),
    )


@dataclass(frozen=True, slots=True)
class _Written:
    message: InboundMessage  # without community, reply token or fallback date
    sent_at: datetime | None
    content_ids: dict[str, int]


def _written(raw: bytes, message: Message, defects: list[str]) -> _Written:
    """Who wrote what, when, in reply to what: everything of a mail that does not depend on the list."""
    name, address = mailbox(raw_first(message, "from") or raw_first(message, "sender"))
    if not address:
        defects.append("no sender address in From or Sender")
    message_id = parse_message_id(header_text(raw_first(message, "message-id")) or None)
    origin_key = message_id or ORIGIN_HASH_PREFIX + hashlib.sha256(raw).hexdigest()
    sent_at = parse_date(raw_first(message, "date"))
    text, html, full_text, body_defects, attachments, content_ids = _read_body(message)
    defects.extend(body_defects)
    refs = ThreadRefs(
        in_reply_to=parse_message_id(header_text(raw_first(message, "in-reply-to")) or None),
        references=parse_references(" ".join(header_text(v) for v in raw_values(message, "references"))),
    )
    inbound = InboundMessage(
        channel=Channel.EMAIL,
        origin_key=origin_key,
        community_slug="",
        sender_address=address,
        sender_name=_without_nul(name),
        text=_without_nul(text),
        html=_without_nul(html),
        full_text=_without_nul(full_text),
        subject=_without_nul(_subject(raw_first(message, "subject"))),
        refs=refs,
        attachments=attachments,
        email_message_id=message_id,
    )
    return _Written(inbound, sent_at, content_ids)


@overload
def _without_nul(text: str) -> str: ...
@overload
def _without_nul(text: None) -> None: ...
def _without_nul(text: str | None) -> str | None:
    """NUL characters removed: binary junk in a text part carries no words, and PostgreSQL refuses them
    in text columns (SQLite keeps them), so both stores get the same text."""
    return text.replace("\x00", "") if text is not None and "\x00" in text else text


def _subject(value: str | None) -> str | None:
    """The decoded subject; None when the mail has no Subject header at all."""
    return None if value is None else header_text(value)


def _parse_bytes(raw: bytes, defects: list[str]) -> Message:
    """The parsed tree; the modern policy if the legacy one trips, an empty message as a last resort.

    The legacy (compat32) policy first: everything here reads the raw header values the parser kept
    (``header_text``), so the modern policy's header objects were built only to be ignored, and building
    them made parsing five times slower (an archive import parses millions of mails).
    """
    for chosen in (policy.compat32, policy.default):
        try:
            message = email.message_from_bytes(raw, policy=chosen)
        except (
            Exception
        ) as error:  # the parser has raised on hostile input before; a mail is not worth a crash
            defects.append(f"parser failed ({type(error).__name__}); retrying leniently")
            continue
        defects.extend(_defect_names(message))
        return message
    fallback = Message(policy=policy.compat32)
    fallback.set_payload(raw.decode("ascii", "surrogateescape"))
    return fallback


def _defect_names(message: Message) -> list[str]:
    names: list[str] = []
    try:
        for part in message.walk():
            names.extend(type(defect).__name__ for defect in part.defects)
    except Exception:  # walking a broken tree for log lines must not fail the mail
        names.append("MIME tree could not be walked")
    return names


# -- which list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ListMatch:
    community: ListIdentity | None
    reason: str
    reply_token: str | None = None
    verp_recipient: str | None = None


def _match_list(message: Message, communities: Sequence[ListIdentity]) -> _ListMatch:
    """The first header, in order of evidence, that names one of our lists decides the community;
    the token and VERP recipient are then read from any recipient address of that list."""
    by_header = [(name, addr_specs(raw_values(message, name))) for name in RECIPIENT_HEADERS]
    for header, addresses in by_header:
        for address in addresses:
            community = next((c for c in communities if is_list_recipient(address, c.list_address)), None)
            if community is None:
                continue
            ordered = [address] + [a for _, found in by_header for a in found]
            ours = [a for a in ordered if is_list_recipient(a, community.list_address)]
            token = next(
                (t for a in ours if (t := reply_token_from_address(a, community.list_address))), None
            )
            verp = next((r for a in ours if (r := recipient_from_verp(a, community.list_address))), None)
            return _ListMatch(community, f"{header} names {address}", token, verp)
    return _ListMatch(None, "no list address in " + ", ".join(RECIPIENT_HEADERS))


def _classify(message: Message, communities: Sequence[ListIdentity], match: _ListMatch) -> MailVerdict:
    """The loop guard's verdict against every list identity we have (the matched one first); mail to a
    VERP return path that looks human is still a bounce: people do not write to return paths."""
    headers = [(name, header_text(str(value))) for name, value in message.raw_items()]
    ordered = ([match.community] if match.community else []) + list(communities)
    list_ids = [c.list_id for c in communities]
    seen: set[tuple[str, str]] = set()
    shape = mail_shape(message)
    verdict = MailVerdict(MailClass.RELAY, "no automatic or looping signs")
    for community in ordered:
        key = (community.domain, community.own_message_id_domain)
        if key in seen:
            continue
        seen.add(key)
        found = classify_mail(
            headers,
            own_domain=community.domain,
            list_ids=list_ids,
            own_message_id_domain=community.own_message_id_domain,
            shape=shape,
        )
        if not found.relay:
            verdict = found
            break
    if verdict.relay and match.verp_recipient is not None:
        return MailVerdict(MailClass.BOUNCE, f"sent to the return path of {match.verp_recipient}")
    return verdict


# -- what was written -----------------------------------------------------------------------------


def _read_body(
    message: Message,
) -> tuple[str, str | None, str | None, list[str], tuple[Attachment, ...], dict[str, int]]:
    try:
        body = extract_body(message)
    except Exception as error:  # the MIME walk met something no rule foresaw: read the body as text
        body = MailBody(pieces=[BodyPiece(plain=_raw_body_text(message))])
        body.defects.append(f"MIME structure unreadable ({type(error).__name__}): body kept as text")
    try:
        text, html, full_text = render_pieces(body.pieces)
    except Exception as error:  # a converter bug must not stall the mailbox: keep the words, lose the form
        body.defects.append(f"body could not be rendered ({type(error).__name__}): kept as plain text")
        full_text = "\n\n".join(p.plain or p.html or "" for p in body.pieces)
        text, html = full_text, None
    return text, html, full_text or None, body.defects, tuple(body.attachments), body.content_ids


def _raw_body_text(message: Message) -> str:
    try:
        payload = message.get_payload()
    except Exception:  # nothing more to salvage
        return ""
    if isinstance(payload, str):
        return decode_bytes(payload.encode("utf-8", "surrogateescape"), None)
    return ""


def render_pieces(pieces: Sequence[BodyPiece]) -> tuple[str, str | None, str | None]:
    """``(text, html, full_text)`` of a body: the new content as plain text and sanitised HTML, and the
    complete original text for the archive.

    An empty plain alternative next to a real HTML one (some clients send that) counts as missing; an
    HTML form with no words left after sanitising gives way to the plain text rendered as Markdown.
    """
    pieces = [_usable(piece) for piece in pieces]
    pieces = [piece for piece in pieces if piece.plain is not None or piece.html is not None]
    if not pieces:
        return "", None, None
    full_text = "\n\n".join(
        piece.plain if piece.plain is not None else html_to_text(piece.html or "") for piece in pieces
    ).strip("\n")
    has_plain = any(piece.plain is not None for piece in pieces)
    has_html = any(piece.html is not None for piece in pieces)
    source_html = "\n".join(
        piece.html if piece.html is not None else _plain_as_html(piece.plain or "") for piece in pieces
    )
    new_html = strip_quoted_html(source_html) if has_html else None
    text = strip_quoted_text(full_text).strip("\n") if has_plain else html_to_text(new_html or "")
    html = sanitize_html(new_html).strip() if new_html is not None else ""
    if text.strip() and (not html or not html_to_text(html).strip()):
        html = markdown_to_html(text)
    return text, html or None, full_text or None


def _usable(piece: BodyPiece) -> BodyPiece:
    plain = piece.plain.strip("\n") if piece.plain is not None and piece.plain.strip() else None
    html = piece.html if piece.html is not None and piece.html.strip() else None
    return BodyPiece(plain=plain, html=html)


def _plain_as_html(text: str) -> str:
    """A plain stretch between HTML stretches (Apple Mail's split bodies), kept as preformatted text."""
    return f"<pre>{escape(text)}</pre>" if text.strip() else ""
