"""Signed tokens: reply addresses that authenticate a member; expiring links for (un)subscribing.

A reply sent to ``list+TOKEN@domain`` proves it answers mail we sent to that member about that
thread, even when a client or a forwarder mangled the headers (DESIGN §5). The token sits in an
email local part, which MTAs and LMTP servers may lowercase, so it is lowercase base32 and verified
case-insensitively. Links in mail (unsubscribe, confirm a subscription) carry a purpose-bound,
expiring token instead.

Every token is an HMAC-SHA256 over a domain-separated message, compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

REPLY_TOKEN_VERSION = 1
REPLY_MAC_BYTES = 10  # 80 bits: forging needs ~2**79 online guesses, and the token stays ~24 characters
LINK_MAC_BYTES = 16

_REPLY_DOMAIN = b"icop-reply-token\x00"
_LINK_DOMAIN = b"icop-link-token\x00"


@dataclass(frozen=True, slots=True)
class ReplyTokenClaims:
    """Who a reply token was issued to, and for which thread."""

    membership_id: int
    thread_id: int


def _require_key(key: bytes) -> None:
    if not key:
        raise ValueError("a signing key is required; an empty key would make every token forgeable")


def _mac(key: bytes, domain: bytes, message: bytes) -> bytes:
    return hmac.new(key, domain + message, hashlib.sha256).digest()


def _uvarint(value: int) -> bytes:
    """LEB128: small ids take one or two bytes, which keeps the token short."""
    if value < 0:
        raise ValueError("ids are non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_uvarint(data: bytes, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < len(data) and shift <= 63:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _b32decode(text: str) -> bytes | None:
    text = text.strip().upper()
    if not text.isascii() or not text.isalnum():
        return None
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None


def sign_reply_token(key: bytes, membership_id: int, thread_id: int) -> str:
    """A token for the reply address of mail sent to one member about one thread."""
    _require_key(key)
    payload = bytes([REPLY_TOKEN_VERSION]) + _uvarint(membership_id) + _uvarint(thread_id)
    return _b32encode(payload + _mac(key, _REPLY_DOMAIN, payload)[:REPLY_MAC_BYTES])


def verify_reply_token(key: bytes, token: str) -> ReplyTokenClaims | None:
    """The claims of a genuine token, in any letter case; None for anything forged, damaged or
    foreign."""
    _require_key(key)
    raw = _b32decode(token)
    if raw is None or len(raw) <= REPLY_MAC_BYTES + 1:
        return None
    payload, mac = raw[:-REPLY_MAC_BYTES], raw[-REPLY_MAC_BYTES:]
    expected = _mac(key, _REPLY_DOMAIN, payload)[:REPLY_MAC_BYTES]
    if not hmac.compare_digest(mac, expected) or payload[0] != REPLY_TOKEN_VERSION:
        return None
    membership = _read_uvarint(payload, 1)
    if membership is None:
        return None
    thread = _read_uvarint(payload, membership[1])
    if thread is None or thread[1] != len(payload):
        return None
    return ReplyTokenClaims(membership_id=membership[0], thread_id=thread[0])


def _split_address(address: str) -> tuple[str, str] | None:
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return None
    return local, domain


def reply_address(list_address: str, token: str, *, separator: str = "+") -> str:
    """``list+TOKEN@domain``: the list's address with the token as its subaddress (RFC 5233)."""
    parts = _split_address(list_address)
    if parts is None:
        raise ValueError(f"not an email address: {list_address!r}")
    local, domain = parts
    return f"{local}{separator}{token}@{domain}"


def token_from_address(address: str, list_address: str, *, separator: str = "+") -> str | None:
    """The token of a reply address of ``list_address``, lowercased; None for any other address.

    Domain and local part compare case-insensitively: the list's own mailbox is ours, however an MTA
    spelled it on the way in.
    """
    got, ours = _split_address(address), _split_address(list_address)
    if got is None or ours is None or got[1].casefold() != ours[1].casefold():
        return None
    head = ours[0].casefold() + separator
    if not got[0].casefold().startswith(head):
        return None
    token = got[0][len(head) :]
    return token.lower() or None


def _link_message(purpose: str, payload: bytes) -> bytes:
    if "\x00" in purpose:
        raise ValueError("a token purpose cannot contain NUL")
    return purpose.encode() + b"\x00" + payload


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("token times must be timezone-aware")
    return int(moment.timestamp())


def sign_link_token(key: bytes, purpose: str, subject: str, expires_at: datetime) -> str:
    """A URL-safe token saying ``subject`` (e.g. a membership id or address) may do ``purpose``
    until ``expires_at`` (whole seconds).

    The purpose is part of the MAC and not of the token, so an unsubscribe token cannot confirm a
    subscription.
    """
    _require_key(key)
    payload = _epoch(expires_at).to_bytes(8, "big", signed=True) + subject.encode()
    mac = _mac(key, _LINK_DOMAIN, _link_message(purpose, payload))[:LINK_MAC_BYTES]
    return f"{_b64encode(payload)}.{_b64encode(mac)}"


def verify_link_token(key: bytes, purpose: str, token: str, now: datetime) -> str | None:
    """The subject of a genuine, unexpired token for ``purpose``; None otherwise."""
    _require_key(key)
    head, dot, tail = token.strip().partition(".")
    payload, mac = _b64decode(head), _b64decode(tail)
    if not dot or payload is None or mac is None or len(payload) < 8:
        return None
    expected = _mac(key, _LINK_DOMAIN, _link_message(purpose, payload))[:LINK_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        return None
    if _epoch(now) >= int.from_bytes(payload[:8], "big", signed=True):
        return None
    try:
        return payload[8:].decode()
    except UnicodeDecodeError:
        return None


_CODE_DOMAIN = b"icop-code\x00"
CODE_MAC_BYTES = 10


def sign_code(key: bytes, purpose: str, number: int, expires_at: datetime) -> str:
    """A short, case-insensitive token (lowercase base32) saying ``number`` may do ``purpose`` until
    ``expires_at`` (whole minutes).

    For what travels in an email local part as well as in a link, such as a subscription's
    confirmation (``list+confirm-CODE@domain``): MTAs may lowercase an address, so the token cannot
    depend on letter case the way a link token does.
    """
    _require_key(key)
    payload = _uvarint(number) + _uvarint(-(-_epoch(expires_at) // 60))
    mac = _mac(key, _CODE_DOMAIN, _link_message(purpose, payload))[:CODE_MAC_BYTES]
    return _b32encode(payload + mac)


def verify_code(key: bytes, purpose: str, code: str, now: datetime) -> int | None:
    """The number of a genuine, unexpired code for ``purpose``, in any letter case; None otherwise."""
    _require_key(key)
    raw = _b32decode(code)
    if raw is None or len(raw) <= CODE_MAC_BYTES + 1:
        return None
    payload, mac = raw[:-CODE_MAC_BYTES], raw[-CODE_MAC_BYTES:]
    expected = _mac(key, _CODE_DOMAIN, _link_message(purpose, payload))[:CODE_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        return None
    number = _read_uvarint(payload, 0)
    if number is None:
        return None
    minutes = _read_uvarint(payload, number[1])
    if minutes is None or minutes[1] != len(payload) or _epoch(now) >= minutes[0] * 60:
        return None
    return number[0]
