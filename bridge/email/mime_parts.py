"""The readable body and the files of an inbound mail, from whatever MIME tree its client built.

Clients disagree on structure: Gmail sends ``alternative(plain, html)``, Apple Mail splits the text
around an inline picture in ``mixed``, Outlook nests ``related`` inside ``alternative`` and adds a
calendar part, signed mail wraps everything once more. This module walks any of these into ordered
pieces of body (each with its plain and/or HTML form) and a list of attachments, and reads every
header and payload through the raw values the parser kept, so a garbled ``Content-Type`` or a lying
charset costs a best guess, never an exception.
"""

from __future__ import annotations

import binascii
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from email.errors import InvalidBase64LengthDefect
from email.message import Message
from email.policy import compat32

from bridge.core.model import Attachment
from bridge.email.header_text import header_text, raw_first, recover_8bit
from bridge.formatting.charset import decode_bytes, python_codec

MAX_DEPTH = 40
"""Deeper MIME nesting than this is hostile or broken; what lies below is ignored."""

BODY_TYPES = frozenset({"text/plain", "text/html"})
SIGNATURE_TYPES = frozenset(
    {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
)
MAX_FILENAME = 180

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f]+")
_PATH_SEPARATOR = re.compile(r"[/\\]")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


@dataclass(slots=True)
class BodyPiece:
    """One stretch of the body in the forms the sender gave: plain, HTML, or both."""

    plain: str | None = None
    html: str | None = None


@dataclass(slots=True)
class MailBody:
    pieces: list[BodyPiece] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    content_ids: dict[str, int] = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)


def extract_body(message: Message) -> MailBody:
    """Walk ``message`` into body pieces and attachments; never raises."""
    body = MailBody()
    _collect(message, body.pieces, body, 0)
    return body


def _collect(part: Message, pieces: list[BodyPiece], body: MailBody, depth: int) -> None:
    if depth > MAX_DEPTH:
        body.defects.append(f"MIME nesting deeper than {MAX_DEPTH}: the rest ignored")
        return
    view = _headers_of(part)
    content_type = view.get_content_type()
    if content_type in SIGNATURE_TYPES:
        return
    children = _children(part)
    if content_type.startswith("multipart/"):
        if children is None:
            body.defects.append(f"{content_type} without parts: read as plain text")
            pieces.append(BodyPiece(plain=_text_of(part, view, body)))
        elif content_type == "multipart/alternative":
            _collect_alternative(children, pieces, body, depth)
        elif content_type == "multipart/related" and children:
            _collect(children[0], pieces, body, depth + 1)
            for child in children[1:]:
                _attach(child, body)
        else:
            for child in children:
                _collect(child, pieces, body, depth + 1)
        return
    if content_type in BODY_TYPES and not _is_attachment(view):
        text = _text_of(part, view, body)
        pieces.append(BodyPiece(plain=text) if content_type == "text/plain" else BodyPiece(html=text))
        return
    _attach(part, body)


def _collect_alternative(
    children: list[Message], pieces: list[BodyPiece], body: MailBody, depth: int
) -> None:
    """One piece from the alternatives: the first plain form and the last (richest) HTML form."""
    chosen = BodyPiece()
    for child in children:
        found: list[BodyPiece] = []
        _collect(child, found, body, depth + 1)
        plain = _joined([p.plain for p in found if p.plain is not None], "\n\n")
        html = _joined([p.html for p in found if p.html is not None], "\n")
        if chosen.plain is None and plain is not None:
            chosen.plain = plain
        if html is not None:
            chosen.html = html
    if chosen.plain is not None or chosen.html is not None:
        pieces.append(chosen)


def _joined(texts: list[str], separator: str) -> str | None:
    return separator.join(texts) if texts else None


def _children(part: Message) -> list[Message] | None:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [child for child in payload if isinstance(child, Message)]
    return None


def _headers_of(part: Message) -> Message:
    """A compat32 copy of the part's MIME headers: the legacy accessors read raw strings and never
    run the header registry, so they cannot raise on garbage."""
    view = Message(policy=compat32)
    view.set_default_type(part.get_default_type())
    for name in ("content-type", "content-disposition", "content-transfer-encoding", "content-id"):
        value = raw_first(part, name)
        if value is not None:
            view[name] = recover_8bit(value)
    return view


def _is_attachment(view: Message) -> bool:
    disposition = (view.get_content_disposition() or "").lower()
    return disposition == "attachment" or bool(view.get_filename())


def payload_bytes(part: Message, view: Message | None = None) -> bytes:
    """The decoded payload of a leaf part (base64, quoted-printable undone); the raw bytes of 8-bit
    text as they arrived, for the charset decoder to judge."""
    if part.is_multipart():
        return b""
    known_defects = len(part.defects)
    try:
        decoded = part.get_payload(decode=True)
    except Exception:  # the standard decoder failed on this part: undo the encoding by hand
        decoded = None
    # On base64 it cannot decode at all, the standard decoder hands back the encoded text itself.
    given_up = any(isinstance(d, InvalidBase64LengthDefect) for d in part.defects[known_defects:])
    if isinstance(decoded, bytes) and not given_up:
        return decoded
    payload = part.get_payload()
    data = payload if isinstance(payload, bytes) else str(payload or "").encode("utf-8", "surrogateescape")
    view = view or _headers_of(part)
    encoding = str(view.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64":
        return _lenient_base64(data)
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _lenient_base64(data: bytes) -> bytes:
    cleaned = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
    cleaned = cleaned[: len(cleaned) - len(cleaned) % 4]
    try:
        return binascii.a2b_base64(cleaned)
    except (binascii.Error, ValueError):
        return b""


def _text_of(part: Message, view: Message, body: MailBody) -> str:
    data = payload_bytes(part, view)
    charset = _charset(view)
    if charset is None and view.get_content_type() == "text/html":
        found = _META_CHARSET.search(data[:4096])
        charset = found[1].decode("ascii") if found else None
    _note_charset(data, charset, body)
    text = decode_bytes(data, charset).replace("\r\n", "\n").replace("\r", "\n")
    if view.get_content_type() == "text/plain" and _param(view, "format") == "flowed":
        text = unflow(text, delsp=_param(view, "delsp") == "yes")
    return text


def _note_charset(data: bytes, charset: str | None, body: MailBody) -> None:
    if charset is None:
        if not data.isascii():
            body.defects.append("8-bit text without a declared charset")
        return
    codec = python_codec(charset)
    if codec is None:
        body.defects.append(f"unknown charset {charset!r}")
        return
    try:
        data.decode(codec)
    except (UnicodeError, LookupError):
        body.defects.append(f"text is not valid {charset!r}")


def _charset(view: Message) -> str | None:
    try:
        charset = view.get_content_charset()
    except (LookupError, ValueError, TypeError, UnicodeError):
        return None
    return str(charset) if charset else None


def _param(view: Message, name: str) -> str:
    try:
        value = view.get_param(name)
    except (ValueError, TypeError, IndexError):
        return ""
    return value.strip().lower() if isinstance(value, str) else ""


def unflow(text: str, *, delsp: bool = False) -> str:
    """Join the soft line breaks of ``format=flowed`` text (RFC 3676) back into paragraphs."""
    out: list[str] = []
    carry: tuple[int, str] | None = None
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if carry is not None and carry[0] == depth:
            content = carry[1] + content
        elif carry is not None:
            out.append(_quoted(carry[0], carry[1]))
        carry = (depth, content) if flowed else None
        if not flowed:
            out.append(_quoted(depth, content))
    if carry is not None:
        out.append(_quoted(carry[0], carry[1]))
    return "\n".join(out)


def _quoted(depth: int, content: str) -> str:
    return (">" * depth + " " + content) if depth and content else ">" * depth + content


def _attach(part: Message, body: MailBody) -> None:
    view = _headers_of(part)
    content_type = view.get_content_type()
    if content_type.startswith("message/"):
        data = _message_bytes(part)
        name = _filename(view) or _forwarded_name(part)
    else:
        data = payload_bytes(part, view)
        name = _filename(view)
    name = name or _generated_name(content_type, len(body.attachments) + 1)
    content_id = header_text(view.get("content-id")).strip().strip("<>").strip()
    if content_id:
        body.content_ids[content_id] = len(body.attachments)
    body.attachments.append(Attachment(filename=name, content_type=content_type, size=len(data), data=data))


def _message_bytes(part: Message) -> bytes:
    children = _children(part)
    inner = children[0] if children else None
    if inner is None:
        return payload_bytes(part)
    try:
        return inner.as_bytes(policy=compat32)
    except Exception:  # an unserialisable forwarded message is kept as well as we can
        return str(inner.get_payload()).encode("utf-8", "surrogateescape")


def _forwarded_name(part: Message) -> str | None:
    children = _children(part)
    subject = header_text(raw_first(children[0], "subject")) if children else ""
    return f"{subject[:80]}.eml" if subject else "forwarded-message.eml"


def _filename(view: Message) -> str | None:
    """The part's file name: RFC 2231 parameters (via the legacy accessor), then RFC 2047 words that
    Outlook and others put in a quoted ``name``; only the last path component, control characters
    removed."""
    try:
        raw = view.get_filename() or view.get_param("name")
    except (ValueError, TypeError, IndexError, LookupError, UnicodeError):
        return None
    if isinstance(raw, tuple):  # an RFC 2231 value the legacy code left undecoded
        raw = raw[2]
    if not isinstance(raw, str):
        return None
    name = _PATH_SEPARATOR.split(header_text(raw))[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    if len(name) > MAX_FILENAME:
        _, dot, extension = name.rpartition(".")
        keep = extension if dot and len(extension) <= 10 else ""
        name = name[: MAX_FILENAME - len(keep) - 1] + ("." + keep if keep else "")
    return name or None


def _generated_name(content_type: str, number: int) -> str:
    extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"attachment-{number}{extension}"
