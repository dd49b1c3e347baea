"""Split mbox files into messages: Mailman 2 pipermail, Mailman 3 / HyperKitty, Google Groups, gzip.

Every message is numbered from 1 in its file and knows the line it starts on, so a message that cannot
be imported is named ``FILE#INDEX`` (``(line N)`` follows the reason) and found again with any mail
reader or editor. A message starts at a ``From `` line that looks like an envelope line (sender, then
an asctime date, as Mailman, HyperKitty, Python's ``mailbox``, Thunderbird and Google's takeouts write
it), at the start of the file or after a blank line; a body line that merely begins with "From "
(pipermail does not escape them) stays in its message. A file that does not start with an envelope line
is read as one message (a single ``.eml``).

Pipermail hides addresses as ``ana at example.org``; the ``From:`` header and the envelope line are
given their ``@`` back before the message is read, so the sender is recognised as the member they are.
gzip is recognised by its first bytes, whatever the file is called. Nothing here decodes MIME: the
bytes of each message are handed on as they are.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

READ_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_ENVELOPE = re.compile(
    rb"From (?P<sender>\S.*?) +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? +(?P<month>[A-Za-z]{3}) +(?P<day>\d{1,2})"
    rb" +(?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?: +(?P<zone>[+-]\d{4}|[A-Z]{3,4}))? +(?P<year>\d{4})"
    rb"(?: +(?P<zone2>[+-]\d{4}))?[ \t]*\r?$",
    re.IGNORECASE,
)
_OBFUSCATED = re.compile(rb"([\w.!#$%&'*+/=?^`{|}~-]+) at ([\w-]+(?:\.[\w-]+)+)")
_FROM_HEADER = re.compile(rb"^From:[^\n]*(?:\n[ \t][^\n]*)*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class MboxEntry:
    """One message of a file: ``index`` counts from 1; ``line`` is the file's line (from 1) where it
    starts, its envelope line in an mbox; ``envelope_date`` is the ``From `` line's date."""

    file: str
    index: int
    raw: bytes
    envelope_date: datetime | None = None
    line: int = 1

    @property
    def where(self) -> str:
        return f"{self.file}#{self.index} (line {self.line})"


_WHERE = re.compile(r"(?P<name>.*#\d+) \(line (?P<line>\d+)\)")


def report_line(where: str, reason: str) -> str:
    """The stderr line naming a message that was not imported: ``FILE#INDEX: reason (line N)``.

    ``FILE#INDEX:`` comes first, as DESIGN §6.1 names a message, so a script can read it; the line
    where the message starts follows the reason, for a person with an editor."""
    located = _WHERE.fullmatch(where)
    if located is None:
        return f"{where}: {reason}"
    return f"{located['name']}: {reason} (line {located['line']})"


def name_of(where: str) -> str:
    """``FILE#INDEX`` of a message's ``where``, without the line."""
    located = _WHERE.fullmatch(where)
    return located["name"] if located is not None else where


class MboxReadError(Exception):
    """The file could not be read to its end (truncated gzip, I/O error); what came before was read."""


class MboxFile:
    """One file to import: its messages (``entries``) and how far reading has got, for progress."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        self.path = path
        self.name = name if name is not None else str(path)
        self.size = path.stat().st_size
        self._plain: BinaryIO | None = None

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for gzip)."""
        try:
            return self._plain.tell() if self._plain is not None and not self._plain.closed else self.size
        except (OSError, ValueError):
            return self.size

    def entries(self) -> Iterator[MboxEntry]:
        """The messages in file order; raises ``MboxReadError`` where the file stops being readable."""
        with self.path.open("rb") as plain:
            self._plain = plain
            stream: BinaryIO = plain
            if plain.read(2) == GZIP_MAGIC:
                plain.seek(0)
                stream = gzip.GzipFile(fileobj=plain)  # type: ignore[assignment]
            else:
                plain.seek(0)
            try:
                yield from _split(stream, self.name)
            except (OSError, EOFError, zlib.error) as error:
                raise MboxReadError(f"{self.name}: unreadable from here on: {error}") from error


def read_mbox(path: Path, name: str | None = None) -> Iterator[MboxEntry]:
    """The messages of ``path`` in file order; ``name`` is how ``FILE#INDEX (line N)`` names the file."""
    return MboxFile(path, name).entries()


def _split(stream: BinaryIO, label: str) -> Iterator[MboxEntry]:
    index = 0
    envelope: bytes | None = None
    lines: list[bytes] = []
    previous_blank = True
    mbox: bool | None = None  # decided by the first line that is not blank
    start = 1  # the file's line where the message being collected starts
    for number, line in enumerate(_lines(stream), start=1):
        blank = not line.strip()
        if mbox is None and not blank:
            mbox = line.startswith(b"From ") and _ENVELOPE.match(line) is not None
            start = number
        if mbox and previous_blank and line.startswith(b"From ") and _ENVELOPE.match(line):
            if lines or envelope is not None:
                index += 1
                yield _entry(label, index, envelope, lines, start)
            envelope, lines, start = line, [], number
        elif mbox is not None:
            lines.append(line)
        previous_blank = blank
    if lines or envelope is not None:
        index += 1
        yield _entry(label, index, envelope, lines, start)


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines with their endings, read in large blocks (a line-by-line read of gzip is slow)."""
    rest = b""
    while True:
        block = stream.read(READ_SIZE)
        if not block:
            break
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        yield from block[:cut].splitlines(keepends=True)
    if rest:
        yield rest


def _entry(label: str, index: int, envelope: bytes | None, lines: list[bytes], start: int) -> MboxEntry:
    # The blank line that separates messages belongs to the mbox format, not to the message.
    if lines and not lines[-1].strip():
        lines = lines[:-1]
    raw = b"".join(lines)
    date = None
    if envelope is not None:
        match = _ENVELOPE.match(envelope)
        if match is not None:
            date = _envelope_date(match)
            if b" at " in match["sender"]:
                raw = _unobfuscate_from(raw)
    return MboxEntry(label, index, raw, date, start)


def _envelope_date(match: re.Match[bytes]) -> datetime | None:
    month = _MONTHS.get(match["month"].decode("ascii").lower())
    if month is None:
        return None
    clock = [int(part) for part in match["time"].split(b":")] + [0]
    try:
        moment = datetime(
            int(match["year"]), month, int(match["day"]), clock[0], clock[1], clock[2], tzinfo=UTC
        )
    except ValueError:
        return None
    zone = match["zone"] or match["zone2"]
    if zone and zone[:1] in (b"+", b"-"):
        sign = -1 if zone[:1] == b"-" else 1
        offset = sign * (int(zone[1:3]) * 60 + int(zone[3:5]))
        moment -= timedelta(minutes=offset)
    return moment


def _unobfuscate_from(raw: bytes) -> bytes:
    """``From: ana at example.org (Ana Souza)`` as pipermail wrote it, with its ``@`` back."""
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, sep, body = raw.partition(b"\r\n\r\n")
    head = _FROM_HEADER.sub(lambda found: _OBFUSCATED.sub(rb"\1@\2", found[0]), head, count=1)
    return head + sep + body
