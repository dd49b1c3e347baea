"""One archived mail to a post-to-be, or the reason it cannot be one; runs in worker processes.

The mail is read by ``bridge.email.inbound`` exactly as the relay reads live mail (same body, quote
and signature trimming, HTML sanitising, attachments), so an imported post looks like a relayed one.
What an archive needs on top:

- a date from the archive's own timeline: the Date header, else the envelope (``From ``) line's date;
  a date before 1970 or more than a day in the future is a broken clock, not history;
- a verdict on what is not a post: a message without headers or without a sender, and bounces and
  automatic replies (vacation notices, read receipts) that lax lists let into their archives.

Everything here is a pure function of the bytes, so chunks of messages can be read in other processes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bridge.core.model import InboundMessage
from bridge.email.inbound import parse_archived_mail
from bridge.importer.mbox import MboxEntry

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")


@dataclass(frozen=True, slots=True)
class ReadMail:
    """A mail ready to store; ``message.sent_at`` is set. The raw bytes stay with the ``MboxEntry``
    (sending them back from a worker process would only copy them twice)."""

    where: str
    message: InboundMessage
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotImported:
    """A message that is not imported: malformed (``automatic`` False, counted as failed) or a bounce or
    automatic reply (``automatic`` True, skipped)."""

    where: str
    reason: str
    automatic: bool = False


def read_entry(entry: MboxEntry, community_slug: str, *, now: datetime) -> ReadMail | NotImported:
    """Read one message of an archive; never raises."""
    raw = entry.raw
    if not raw.strip():
        return NotImported(entry.where, "empty message")
    if not _HEADER_LINE.match(raw):
        return NotImported(entry.where, "no headers: the message does not start with a header line")
    try:
        archived = parse_archived_mail(raw, community_slug)
    except Exception as error:  # parsing is total by design; a bug must cost one message, not the run
        return NotImported(entry.where, f"unreadable ({type(error).__name__}: {error})")
    message = archived.message
    if archived.automatic is not None:
        return NotImported(entry.where, f"automatic mail: {archived.automatic.reason}", automatic=True)
    if not message.sender_address:
        return NotImported(entry.where, "no sender address in From or Sender")
    notes: list[str] = []
    sent_at = _plausible(message.sent_at, now)
    if sent_at is None:
        sent_at = _plausible(entry.envelope_date, now)
        if sent_at is None:
            return NotImported(entry.where, _no_date(message.sent_at, entry.envelope_date))
        notes.append(
            "Date header "
            + (
                "missing or unreadable"
                if message.sent_at is None
                else f"{message.sent_at:%Y-%m-%d} implausible"
            )
            + ": the From line's date used"
        )
    return ReadMail(entry.where, replace(message, sent_at=sent_at), tuple(notes))


def read_entries(
    entries: Sequence[MboxEntry], community_slug: str, now: datetime
) -> list[ReadMail | NotImported]:
    """``read_entry`` over a chunk: the unit of work handed to a worker process."""
    return [read_entry(entry, community_slug, now=now) for entry in entries]


def _plausible(moment: datetime | None, now: datetime) -> datetime | None:
    if moment is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST <= utc <= now + FUTURE_SLACK else None


def _no_date(header: datetime | None, envelope: datetime | None) -> str:
    said = "no readable Date header" if header is None else f"an implausible Date ({header:%Y-%m-%d})"
    line = "no From line date" if envelope is None else f"an implausible From line date ({envelope:%Y-%m-%d})"
    return f"no usable date: {said} and {line}"
