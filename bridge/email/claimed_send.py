"""Sending one mail whose row the store has claimed, so that it goes out once: the digests' and the
monthly reports' way.

The row is marked sent by ``commit``, just before the final dot of SMTP DATA
(``SmtpSender.send_committed``): a sender killed before that leaves an unfinished mail the server
discards and a claim another sender takes over; killed after it, the server has the dot. A temporary
failure hands the row back for a later attempt (a minute, doubling, at most an hour); a permanent one,
or the ``MAX_ATTEMPTS``-th failure, parks it as dead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bridge.email.smtp import SmtpPermanentError, SmtpSender, SmtpTemporaryError

LEASE = timedelta(minutes=10)
"""How long a claim is a sender's own: past it, another sender takes the mail over."""
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)


class Attempted(Protocol):
    @property
    def attempts(self) -> int: ...


class ClaimedRows(Protocol):
    """A repository of claimed mails (``Digests``, ``ReportMails``)."""

    async def mark_sent(self, row_id: int, message_id: str, at: datetime, /) -> None: ...

    async def retry_later(self, row_id: int, error: str, at: datetime, /) -> None: ...

    async def give_up(self, row_id: int, error: str, /) -> None: ...

    async def get(self, row_id: int, /) -> Attempted | None: ...


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "will retry"
    FAILED = "failed for good"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed sends."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (1 << min(max(attempts - 1, 0), 16)))


async def send_claimed(
    smtp: SmtpSender | None,
    rows: ClaimedRows,
    row_id: int,
    raw: bytes,
    *,
    message_id: str,
    envelope_from: str,
    recipient: str,
    clock: Callable[[], datetime],
) -> tuple[Outcome, str]:
    """Send the claimed row's mail; the outcome and, when it was not sent, the server's words."""

    async def commit() -> None:
        await rows.mark_sent(row_id, message_id, clock())

    try:
        if smtp is None:
            raise SmtpTemporaryError("no SMTP sender")
        await smtp.send_committed(raw, envelope_from=envelope_from, recipient=recipient, commit=commit)
    except SmtpPermanentError as error:
        await rows.give_up(row_id, str(error))
        return Outcome.FAILED, str(error)
    except SmtpTemporaryError as error:
        record = await rows.get(row_id)
        attempts = record.attempts if record is not None else MAX_ATTEMPTS
        if attempts >= MAX_ATTEMPTS:
            await rows.give_up(row_id, f"after {attempts} attempts: {error}")
        else:
            await rows.retry_later(row_id, str(error), clock() + retry_delay(attempts))
        return Outcome.RETRY, str(error)
    return Outcome.SENT, ""
