"""A reader's digest as the bytes handed to the mail server, composed without the email package.

``email.message.EmailMessage`` takes about a millisecond to lay out and encode a 40 KB page, which alone
would cap a run at a few hundred digests a second. A digest has one fixed shape (``multipart/
alternative``: text, then HTML, both UTF-8 and quoted-printable), so it is written out directly, with
the C quoted-printable encoder of ``binascii``; headers that may carry non-ASCII text are encoded by the
standard library (RFC 2047). Tests parse the result with the email package to check it.

Headers of a mature list manager: ``List-Id``, ``List-Unsubscribe`` with a signed one-click link and
``List-Unsubscribe-Post`` (RFC 8058), ``List-Subscribe``/``List-Help``/``List-Archive`` (RFC 2369),
``Precedence: bulk`` and ``Auto-Submitted: auto-generated`` (no vacation notice answers a digest),
``X-Loop`` for the loop guard. ``From`` is the list's request address, so a reply reaches the command
handler (its answer explains the commands) and never the list.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import lru_cache

from bridge.email.addresses import ListIdentity

CRLF = "\r\n"
ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True, slots=True)
class DigestEnvelope:
    """What the headers of one reader's digest say, beside the rendered body."""

    community: ListIdentity
    recipient: str
    recipient_name: str
    subject: str
    message_id: str
    date: datetime
    unsubscribe_url: str
    subscribe_url: str
    archive_url: str


def request_address(list_address: str, command: str = "request") -> str:
    """``LIST+request@domain`` (or ``+subscribe``, ``+unsubscribe``): where mail commands go."""
    local, _, domain = list_address.rpartition("@")
    return f"{local}+{command}@{domain}"


def digest_message_id(digest_id: int, domain: str) -> str:
    """The Message-ID of a digest, derived from its claim so a resend after a crash is the same mail.

    Not an ``icop.<post>`` id: a reply citing it must not be threaded under a post of the same number."""
    check = hashlib.sha256(f"digest:{digest_id}@{domain}".encode()).hexdigest()[:10]
    return f"icop-digest.{digest_id}.{check}@{domain}"


def compose_digest(envelope: DigestEnvelope, text: str, html: str) -> bytes:
    """The whole message, CRLF line ends, 7-bit, ready for SMTP."""
    return compose_encoded(envelope, qp_encode(text), qp_encode(html))


def compose_encoded(envelope: DigestEnvelope, text_qp: str, html_qp: str) -> bytes:
    """The whole message from parts already quoted-printable (``qp_encode`` or ``EncodedBody``)."""
    community = envelope.community
    boundary = f"icop-digest-{secrets.token_hex(12)}"
    name = community.name or community.slug
    subscribe_mailto = request_address(community.list_address, "subscribe")
    headers = [
        ("From", formataddr((f"{name} digest", request_address(community.list_address)), charset="utf-8")),
        ("To", formataddr((envelope.recipient_name, envelope.recipient), charset="utf-8")),
        ("Subject", _encoded(envelope.subject)),
        ("Date", format_datetime(envelope.date)),
        ("Message-ID", f"<{envelope.message_id}>"),
        ("MIME-Version", "1.0"),
        ("List-Id", _list_id(community)),
        (
            "List-Unsubscribe",
            f"<{envelope.unsubscribe_url}>,{CRLF} "
            f"<mailto:{request_address(community.list_address)}?subject=digest%20off>",
        ),
        ("List-Unsubscribe-Post", ONE_CLICK),
        (
            "List-Subscribe",
            f"<{envelope.subscribe_url}>,{CRLF} <mailto:{subscribe_mailto}>",
        ),
        ("List-Help", f"<mailto:{request_address(community.list_address)}?subject=help>"),
        ("List-Archive", f"<{envelope.archive_url}>"),
        ("Precedence", "bulk"),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Loop", community.list_address),
        ("Content-Type", f'multipart/alternative;{CRLF} boundary="{boundary}"'),
    ]
    head = "".join(f"{key}: {value}{CRLF}" for key, value in headers)
    parts = [
        f"--{boundary}{CRLF}" + _part("text/plain", text_qp),
        f"--{boundary}{CRLF}" + _part("text/html", html_qp),
        f"--{boundary}--{CRLF}",
    ]
    return (head + CRLF + "".join(parts)).encode("ascii")


def _part(content_type: str, encoded: str) -> str:
    return (
        f"Content-Type: {content_type}; charset=utf-8{CRLF}"
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}{encoded}"
        + ("" if encoded.endswith(CRLF) else CRLF)
        + CRLF  # the line break before a boundary belongs to the boundary (RFC 2046 §5.1.1)
    )


def qp_encode(body: str) -> str:
    """UTF-8 text as quoted-printable with CRLF line ends (lines of at most 76 characters)."""
    data = CRLF.join(body.splitlines()).encode("utf-8") + b"\r\n"
    return _crlf(binascii.b2a_qp(data, quotetabs=False, istext=True, header=False))


def _crlf(encoded: bytes) -> str:
    # b2a_qp breaks soft lines with the line end it saw first, or a bare LF when it saw none.
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").decode("ascii")


SOFT_BREAK = f"={CRLF}"


class EncodedBody:
    """A rendered part encoded once, with holes where the reader's values go.

    The page is cut at its placeholders; each fixed piece is quoted-printable encoded once and ends
    with a soft line break, and each reader's value is encoded on its own line between two soft
    breaks, so every line stays within 76 characters and the decoded text is exactly the page with
    the values in place. Filling it for a reader is a join, not an encoding of the whole page.
    """

    def __init__(self, body: str, placeholders: Sequence[str]) -> None:
        normalised = CRLF.join(body.splitlines()) + CRLF
        pattern = re.compile("|".join(re.escape(p) for p in placeholders))
        self.pieces: list[tuple[bool, str]] = []  # (is a placeholder, encoded text or its name)
        position = 0
        for match in pattern.finditer(normalised):
            self._fixed(normalised[position : match.start()])
            self.pieces.append((True, match.group(0)))
            position = match.end()
        self._fixed(normalised[position:], last=True)

    def _fixed(self, text: str, *, last: bool = False) -> None:
        if not text:
            return
        encoded = _crlf(binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False))
        self.pieces.append((False, encoded if last or encoded.endswith(CRLF) else encoded + SOFT_BREAK))

    def fill(self, values: Mapping[str, str]) -> str:
        encoded = {key: _value(value) + SOFT_BREAK if value else "" for key, value in values.items()}
        return "".join(encoded[text] if is_placeholder else text for is_placeholder, text in self.pieces)


def _value(value: str) -> str:
    """One value on its own encoded line(s), no line end of its own (values hold no line breaks)."""
    encoded = binascii.b2a_qp(
        " ".join(value.split()).encode("utf-8"), quotetabs=True, istext=False, header=False
    )
    return _crlf(encoded) if b"\n" in encoded else encoded.decode("ascii")


@lru_cache(maxsize=1024)
def _encoded(value: str) -> str:
    value = " ".join(value.split())
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name="Subject").encode(linesep=CRLF)


@lru_cache(maxsize=256)
def _list_id(community: ListIdentity) -> str:
    name = " ".join((community.name or community.slug).split()).replace('"', "'")
    if name.isascii():
        return f'"{name}" {community.list_id}'
    return f"{Header(name, 'utf-8').encode(linesep=CRLF)} {community.list_id}"
