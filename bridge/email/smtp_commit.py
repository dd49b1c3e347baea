"""SMTP DATA with a commit point before the final dot: the store records a mail as sent *before* the
server can have it whole, so a sender killed at any instant sends it at most once.

An SMTP server takes responsibility for a message when it reads the terminating ``.`` of DATA (RFC
5321 §4.1.1.4), and it discards a transaction whose connection drops before that. The usual order,
send then record, leaves a window in which a kill -9 after the server's ``250`` but before the record
resends the mail on restart. Here the order is: ``MAIL``, ``RCPT``, ``DATA`` and the whole message
except the dot; then ``commit()`` (the store marks the mail sent, in its own transaction); then the dot.
Killed before the commit, the server drops the unfinished mail and the record still says unsent, so the
next sender sends it once. Killed after the commit, the dot is either in the kernel's socket buffer
(the kernel still delivers it when the process dies, and the server accepts the mail) or, for the
instant between the commit and the ``write`` call, not yet: that mail is recorded as sent and lost,
the only loss window, a few microseconds wide instead of a round trip. A refusal after the dot (4xx,
5xx) is reported to the caller, who takes the record back.

aiosmtplib has no hook between the message and its dot, so this speaks DATA on the client's protocol
itself (the same steps as ``SMTPProtocol.execute_data_command`` in aiosmtplib 5.x, which the lock pins).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

START_INPUT = 354
COMPLETED = 250


async def data_with_commit(
    client: aiosmtplib.SMTP, message: bytes, commit: Callable[[], Awaitable[None]], *, timeout: float
) -> aiosmtplib.SMTPResponse:
    """Send DATA for an open transaction, calling ``commit`` just before the terminating dot.

    When ``commit`` raises, the dot is never sent: the connection is closed so the server drops the
    transaction, and the error propagates. A cancellation that arrives during ``commit`` waits for it
    and for the server's answer, then propagates: the one mail in flight ends consistent."""
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    body = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))
    async with protocol._command_lock:
        protocol._response_pending = True
        protocol.write(b"DATA\r\n")
        start = await protocol.read_response(timeout=timeout)
        if start.code != START_INPUT:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol.write(body)
        cancelled = await _commit_whole(client, commit)
        protocol._response_pending = True
        protocol.write(b".\r\n")
        response = await protocol.read_response(timeout=timeout)
        if cancelled:  # the daemon is stopping: this mail is finished and recorded, now stop
            raise asyncio.CancelledError
    if response.code != COMPLETED:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


async def _commit_whole(client: aiosmtplib.SMTP, commit: Callable[[], Awaitable[None]]) -> bool:
    """Run ``commit`` to its end even when the caller is cancelled meanwhile (a stopping daemon): a
    commit cut in the middle would leave the store and the server disagreeing. Returns whether a
    cancellation came; raises (after closing the connection, so no dot follows) when the commit failed."""
    done = asyncio.ensure_future(commit())
    cancelled = False
    while True:
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            if done.cancelled():
                client.close()
                raise
            cancelled = True
            continue
        except BaseException:
            client.close()  # no dot: the server discards the unfinished mail
            raise
        return cancelled
