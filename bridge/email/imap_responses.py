"""Reading aioimaplib's responses: SELECT status, UID SEARCH results, FETCH items, IDLE pushes.

aioimaplib hands back raw lines (untagged lines without their ``* ``, literals as ``bytearray``, the
tagged status text last) and leaves parsing to the caller. These pure functions do that parsing for the
inbox loop, so the loop reads as protocol steps and the parsing is tested without a server.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_EXISTS = re.compile(rb"^(\d+) EXISTS\b", re.IGNORECASE)
_EXPUNGE = re.compile(rb"^(\d+) EXPUNGE\b", re.IGNORECASE)
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.IGNORECASE)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.IGNORECASE)
_FETCH_START = re.compile(rb"^\d+ FETCH \(", re.IGNORECASE)
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)", re.IGNORECASE)
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"', re.IGNORECASE)
_INTERNALDATE_FORMAT = re.compile(
    r"^\s*(\d{1,2})-(\w{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$"
)
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# RFC 3501 atom-specials: anything else must be sent as a quoted string.
_ATOM = re.compile(r"^[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]+$")


class ImapResponseError(ValueError):
    """The server's answer lacks something the protocol promises (a UIDVALIDITY, say)."""


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """What SELECT says about the mailbox."""

    uidvalidity: int
    uidnext: int | None  # servers SHOULD send it; the inbox copes without
    exists: int


@dataclass(frozen=True, slots=True)
class FetchedItem:
    """One message of a ``UID FETCH (UID FLAGS INTERNALDATE BODY.PEEK[])`` answer."""

    uid: int
    raw: bytes
    flags: tuple[str, ...]
    internal_date: datetime | None


def untagged(lines: Sequence[bytes | bytearray]) -> list[bytes | bytearray]:
    """The untagged part of a response: aioimaplib appends the tagged status text as the last line."""
    return list(lines[:-1])


def parse_select(lines: Sequence[bytes | bytearray]) -> MailboxStatus:
    uidvalidity = uidnext = exists = None
    for line in lines:
        if isinstance(line, bytearray):
            continue
        if match := _UIDVALIDITY.search(line):
            uidvalidity = int(match[1])
        elif match := _UIDNEXT.search(line):
            uidnext = int(match[1])
        elif match := _EXISTS.match(line):
            exists = int(match[1])
    if uidvalidity is None:
        raise ImapResponseError("SELECT answered without UIDVALIDITY")
    return MailboxStatus(uidvalidity, uidnext, exists or 0)


def parse_search(lines: Sequence[bytes | bytearray]) -> list[int]:
    """The UIDs of a ``UID SEARCH`` answer, ascending."""
    uids: set[int] = set()
    for line in untagged(lines):
        words = bytes(line).split()
        if words and words[0].upper() == b"SEARCH":  # kept by some aioimaplib paths, dropped by others
            words = words[1:]
        uids.update(int(word) for word in words if word.isdigit())
    return sorted(uids)


def parse_fetch(lines: Sequence[bytes | bytearray]) -> list[FetchedItem]:
    """The messages of a FETCH answer, by UID; unsolicited flag updates (no body) are skipped."""
    items: dict[int, FetchedItem] = {}
    text: list[bytes] = []
    body: bytes | None = None

    def finish() -> None:
        attributes = b" ".join(text)
        uid = _UID.search(attributes)
        if uid is None or body is None:
            return
        flags = _FLAGS.search(attributes)
        date = _INTERNALDATE.search(attributes)
        items[int(uid[1])] = FetchedItem(
            uid=int(uid[1]),
            raw=body,
            flags=tuple(flags[1].decode("ascii", "replace").split()) if flags else (),
            internal_date=parse_internal_date(date[1].decode("ascii", "replace")) if date else None,
        )

    for line in untagged(lines):
        if isinstance(line, bytearray):
            body = bytes(line)
        elif _FETCH_START.match(line):
            finish()
            text, body = [line], None
        else:
            text.append(line)
    finish()
    return [items[uid] for uid in sorted(items)]


def idle_news(pushes: Sequence[bytes | bytearray], known_exists: int) -> tuple[bool, int]:
    """Read IDLE pushes: (is there new mail, the message count now).

    Pushes arrive split or merged and an EXPUNGE lowers the count, so new mail is an EXISTS above the
    count known so far, not merely any EXISTS line.
    """
    news = False
    for line in pushes:
        if isinstance(line, bytearray):
            continue
        if match := _EXISTS.match(line):
            count = int(match[1])
            news = news or count > known_exists
            known_exists = count
        elif _EXPUNGE.match(line):
            known_exists = max(known_exists - 1, 0)
    return news, known_exists


def parse_internal_date(text: str) -> datetime | None:
    """``25-Nov-2025 02:53:00 +0000`` → an aware datetime (month names are English whatever the locale)."""
    match = _INTERNALDATE_FORMAT.match(text)
    if match is None or match[2].lower() not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, off_hours, off_minutes = match.groups()
    offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
    zone = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(
            int(year), _MONTHS[match[2].lower()], int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:
        return None


def uid_set(uids: Sequence[int]) -> str:
    """A compact UID set: 1,2,3,7 → ``1:3,7``."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = previous = ordered[0] if ordered else 0
    for uid in ordered[1:]:
        if uid != previous + 1:
            ranges.append(f"{start}:{previous}" if previous != start else str(start))
            start = uid
        previous = uid
    if ordered:
        ranges.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(ranges)


def mailbox_name(name: str) -> str:
    """A mailbox name as a command argument: modified UTF-7 (RFC 3501 §5.1.3), quoted when needed."""
    encoded = _modified_utf7(name)
    if _ATOM.match(encoded):
        return encoded
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _modified_utf7(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(utf16).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)
