"""Header values of inbound mail as readable text, whatever the sending software did to them.

Real headers carry raw 8-bit bytes in no declared charset, RFC 2047 words with a wrong charset, a
multi-byte character split across two encoded words, base64 without padding, or Q-encoding with
spaces in it. The standard library's header registry raises or gives up on some of these, and takes
seconds on a ``To`` with ten thousand addresses. These functions read the raw values the parser
kept, never raise, and degrade to replacement characters rather than lose the header.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from bridge.formatting.charset import decode_bytes

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_ADDR_SPEC = re.compile(r"[^\s<>,;:\"()\[\]\\@]+@[^\s<>,;:\"()\[\]\\@]+")
_WHITESPACE = re.compile(r"\s+")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def raw_values(message: Message, name: str) -> list[str]:
    """Every raw value of header ``name``, in order, without the header registry's parsing."""
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def raw_first(message: Message, name: str) -> str | None:
    values = raw_values(message, name)
    return values[0] if values else None


def recover_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes become text (UTF-8, else
    Windows-1252)."""
    if value.isascii() or not _ESCAPED_BYTE.search(value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"), None)


def unfold(value: str) -> str:
    return _WHITESPACE.sub(" ", value).strip()


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words leniently; adjacent words of one charset are joined as bytes
    first, so a character split across two words survives."""
    value = recover_8bit(value)
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    pending: tuple[str, bytearray] | None = None
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if pending is not None and _BETWEEN_WORDS.fullmatch(gap) is None:
            out.append(decode_bytes(bytes(pending[1]), pending[0]))
            pending = None
        if pending is None:
            out.append(gap)
        charset = match[1].split("*", 1)[0]
        data = _decode_b(match[3]) if match[2] in "bB" else _decode_q(match[3])
        if pending is not None and pending[0].lower() == charset.lower():
            pending[1].extend(data)
        else:
            if pending is not None:
                out.append(decode_bytes(bytes(pending[1]), pending[0]))
            pending = (charset, bytearray(data))
        pos = match.end()
    if pending is not None:
        out.append(decode_bytes(bytes(pending[1]), pending[0]))
    out.append(value[pos:])
    return "".join(out)


def _decode_b(text: str) -> bytes:
    data = _NOT_BASE64.sub(b"", text.encode("ascii", "ignore"))
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data + b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return b""


def _decode_q(text: str) -> bytes:
    data = text.replace("_", " ").encode("utf-8", "surrogateescape")
    return _Q_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), data)


def header_text(value: str | None) -> str:
    """A header value as one line of readable text: 8-bit recovered, encoded words decoded,
    unfolded."""
    if value is None:
        return ""
    return unfold(decode_words(value))


def addr_specs(values: Iterable[str]) -> list[str]:
    """Every ``local@domain`` in address header values, lowercased, in order.

    A linear scan rather than a full RFC 5322 parse: it only has to find our own addresses among
    thousands, and must not choke on a garbled list.
    """
    found: list[str] = []
    for value in values:
        found.extend(match.lower() for match in _ADDR_SPEC.findall(recover_8bit(value)))
    return found


def mailbox(value: str | None) -> tuple[str, str]:
    """``(display name, address)`` of the first mailbox in a ``From``-like value; the name decoded,
    the address lowercased; empty strings when there is none."""
    if not value:
        return "", ""
    text = unfold(recover_8bit(value))
    try:
        pairs = getaddresses([text])
    except Exception:  # a garbled header must not stop the mail
        pairs = []
    for name, address in pairs:
        if "@" in address:
            return header_text(name).strip().strip('"').strip(), address.strip().lower()
    match = _ADDR_SPEC.search(text)
    if match is None:
        return header_text(text), ""
    name = (text[: match.start()] + text[match.end() :]).strip(" <>\"'")
    return header_text(name), match[0].lower()


def parse_date(value: str | None) -> datetime | None:
    """The moment a ``Date`` value names, in UTC when it gives no zone; None when unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(unfold(recover_8bit(value)))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return moment
