"""Outgoing mail over a few reused SMTP sessions, with every failure sorted into "later" or "never".

The outbox sends in bursts (one mail per member per post); a fresh TCP + TLS + EHLO + AUTH per mail would
cost more than the mail itself, so a small pool (``connections``) keeps sessions open. Servers drop idle
clients, so a session that sat idle is checked with NOOP before it is trusted, and one the server closed
under us anyway is replaced once, transparently. A retry after a drop in the middle of DATA may deliver a
mail twice; that is the at-least-once contract of DESIGN §3, and receivers recognise our Message-IDs.

Failures are classified for the outbox: ``SmtpTemporaryError`` (no connection, timeouts, 4xx: try again
later) or ``SmtpPermanentError`` (5xx: park the delivery), each carrying the server's own reply.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiosmtplib

from bridge.config.schema import SmtpConfig
from bridge.email.smtp_commit import data_with_commit
from bridge.probe import describe_network_error

GOODBYE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """A server reply: its code and text, e.g. ``550 5.1.1 no such user``."""

    code: int
    text: str

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True, slots=True)
class SendResult:
    """The mail was accepted for ``accepted``; ``refused`` lists the others with the server's reply."""

    accepted: tuple[str, ...]
    refused: Mapping[str, SmtpReply]
    reply: str
    """The server's answer to DATA (often its queue id)."""


class SmtpError(Exception):
    """Sending failed; ``reply`` is the server's answer when there was one, ``refused`` per recipient."""

    def __init__(
        self, message: str, *, reply: SmtpReply | None = None, refused: Mapping[str, SmtpReply] | None = None
    ) -> None:
        super().__init__(message)
        self.reply = reply
        self.refused: Mapping[str, SmtpReply] = refused or {}


class SmtpTemporaryError(SmtpError):
    """Worth retrying later: the server was unreachable, timed out, or answered 4xx."""


class SmtpPermanentError(SmtpError):
    """Retrying the same mail will not help: the server answered 5xx (for every recipient)."""


@dataclass(slots=True)
class SmtpStats:
    """Running figures, for benchmarks and the health endpoint."""

    connects: int = 0
    reuses: int = 0
    """Mails sent over a session opened for an earlier mail."""
    replaced: int = 0
    """Pooled sessions found closed by the server and replaced."""
    mails_sent: int = 0
    recipients_refused: int = 0
    failures: int = 0
    last_send_seconds: float | None = None


@dataclass(slots=True)
class _Session:
    client: aiosmtplib.SMTP
    last_used: float = field(default_factory=time.monotonic)
    reused: bool = False


class SmtpSender:
    """Sends mail through ``config``'s server over at most ``config.connections`` reused sessions."""

    def __init__(
        self,
        config: SmtpConfig,
        password: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        check_idle_after: float = 10.0,
    ) -> None:
        if config.user and password is None:
            raise ValueError(f"SMTP user {config.user} is set but no password was given")
        self._config = config
        self._password = password
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._check_idle_after = check_idle_after
        self._slots = asyncio.Semaphore(config.connections)
        self._idle: list[_Session] = []  # most recently used last: reused first, least likely dropped
        self._closed = False
        self.stats = SmtpStats()

    @property
    def target(self) -> str:
        return f"smtp {self._config.host}:{self._config.effective_port}"

    async def send(
        self, message_bytes: bytes, *, envelope_from: str, recipients: Sequence[str]
    ) -> SendResult:
        """Send one mail; raises ``SmtpTemporaryError`` or ``SmtpPermanentError`` when no recipient got it."""
        if not recipients:
            raise ValueError("a mail needs at least one recipient")
        if self._closed:  # shutting down: the delivery stays queued for the next run
            raise SmtpTemporaryError(f"{self.target}: the sender is closed")
        began = time.monotonic()
        async with self._slots:
            session: _Session | None = None
            try:
                session = await self._take()
                try:
                    refused, reply = await session.client.sendmail(envelope_from, recipients, message_bytes)
                except aiosmtplib.SMTPServerDisconnected:
                    if not session.reused:
                        raise
                    # The server had closed the pooled session before we noticed: once more, on a new one.
                    self.stats.replaced += 1
                    session.client.close()
                    session = None
                    session = await self._open()
                    refused, reply = await session.client.sendmail(envelope_from, recipients, message_bytes)
            except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as error:
                if session is not None and not _session_survives(error):
                    session.client.close()
                self.stats.failures += 1
                raise _classify(error, self.target) from error
            except BaseException:  # cancelled half-way: the session's state is unknown
                if session is not None:
                    session.client.close()
                raise
            finally:
                if session is not None:
                    self._give_back(session)
        if session.reused:
            self.stats.reuses += 1
        refusals = {address: SmtpReply(answer.code, answer.message) for address, answer in refused.items()}
        self.stats.mails_sent += 1
        self.stats.recipients_refused += len(refusals)
        self.stats.last_send_seconds = time.monotonic() - began
        accepted = tuple(address for address in recipients if address not in refusals)
        return SendResult(accepted, refusals, reply)

    async def send_committed(
        self,
        message_bytes: bytes,
        *,
        envelope_from: str,
        recipient: str,
        commit: Callable[[], Awaitable[None]],
    ) -> None:
        """Send one mail to one recipient, calling ``commit`` just before the server can accept it
        (``bridge.email.smtp_commit``): at most once, even when the process is killed mid-send.

        Raises like ``send``; when the failure came after ``commit``, the caller takes its record back.
        """
        if self._closed:
            raise SmtpTemporaryError(f"{self.target}: the sender is closed")
        async with self._slots:
            session: _Session | None = None
            try:
                session = await self._take()
                try:
                    await session.client.mail(envelope_from)
                except aiosmtplib.SMTPServerDisconnected:
                    if not session.reused:
                        raise
                    self.stats.replaced += 1
                    session.client.close()
                    session = None
                    session = await self._open()
                    await session.client.mail(envelope_from)
                await session.client.rcpt(recipient)
                await data_with_commit(
                    session.client, message_bytes, commit, timeout=self._config.timeout_seconds
                )
            except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as error:
                if session is not None:
                    if _session_survives(error):
                        await _reset(session.client)
                    else:
                        session.client.close()
                self.stats.failures += 1
                if isinstance(error, aiosmtplib.SMTPRecipientRefused):
                    error = aiosmtplib.SMTPRecipientsRefused([error])
                raise _classify(error, self.target) from error
            except BaseException:
                if session is not None:
                    session.client.close()
                raise
            finally:
                if session is not None:
                    self._give_back(session)
        self.stats.mails_sent += 1
        if session.reused:
            self.stats.reuses += 1

    async def close(self) -> None:
        """Say QUIT on every pooled session and close it; sessions in use close when they come back."""
        self._closed = True
        sessions, self._idle = self._idle, []
        for session in sessions:
            await _quit(session.client)

    # -- internals ------------------------------------------------------------------------------

    async def _take(self) -> _Session:
        """A pooled session that is still open, else a new one."""
        while self._idle:
            session = self._idle.pop()
            if await self._still_open(session):
                session.reused = True
                return session
            self.stats.replaced += 1
            session.client.close()
        return await self._open()

    async def _still_open(self, session: _Session) -> bool:
        if not session.client.is_connected:
            return False
        if time.monotonic() - session.last_used < self._check_idle_after:
            return True
        try:
            await session.client.noop()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return False
        return True

    async def _open(self) -> _Session:
        security = self._config.security
        client = aiosmtplib.SMTP(
            hostname=self._config.host,
            port=self._config.effective_port,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            tls_context=self._ssl_context,
            timeout=self._config.timeout_seconds,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            if self._config.user:
                await client.login(self._config.user, self._password or "")
        except BaseException:
            client.close()
            raise
        self.stats.connects += 1
        return _Session(client)

    def _give_back(self, session: _Session | None) -> None:
        if session is None:
            return
        if self._closed or not session.client.is_connected:
            session.client.close()
            return
        session.last_used = time.monotonic()
        self._idle.append(session)


def _session_survives(error: BaseException) -> bool:
    """After a refusal aiosmtplib has reset the envelope and the session is fine; after anything else
    (a timeout half-way, a cancelled send) its state is unknown and it must not be reused."""
    return isinstance(error, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused | ValueError)


def _classify(error: Exception, target: str) -> SmtpError:
    """The outbox's view of a failed send: temporary or permanent, with the server's words."""
    if isinstance(error, ValueError):  # aiosmtplib refuses an address it cannot put on the wire
        return SmtpPermanentError(f"{target}: {error}")
    if not isinstance(error, aiosmtplib.SMTPException):
        return SmtpTemporaryError(f"{target}: {describe_network_error(error)}")
    if isinstance(error, aiosmtplib.SMTPConnectResponseError):  # a refusing greeting: the server's state
        reply = SmtpReply(error.code, error.message)
        return SmtpTemporaryError(f"{target}: greeting refused: {reply}", reply=reply)
    if isinstance(error, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPTimeoutError):
        return SmtpTemporaryError(f"{target}: {describe_network_error(error)}")
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refused = {
            refusal.recipient: SmtpReply(refusal.code, refusal.message) for refusal in error.recipients
        }
        replies = "; ".join(f"{address}: {reply}" for address, reply in refused.items())
        kind = (
            SmtpPermanentError if all(reply.permanent for reply in refused.values()) else SmtpTemporaryError
        )
        first = next(iter(refused.values()), None)
        return kind(f"{target} refused every recipient: {replies}", reply=first, refused=refused)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # The mail is not at fault: keep it queued while the operator fixes the credentials.
        reply = SmtpReply(error.code, error.message)
        return SmtpTemporaryError(f"{target}: login refused: {reply}", reply=reply)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        reply = SmtpReply(error.code, error.message)
        step = {
            aiosmtplib.SMTPSenderRefused: "sender refused",
            aiosmtplib.SMTPDataError: "message refused",
        }.get(type(error), "error")
        kind = SmtpPermanentError if reply.permanent else SmtpTemporaryError
        return kind(f"{target}: {step}: {reply}", reply=reply)
    return SmtpTemporaryError(f"{target}: {error}")


async def _reset(client: aiosmtplib.SMTP) -> None:
    """RSET after a refusal, so the pooled session starts its next mail clean."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await asyncio.wait_for(client.quit(), GOODBYE_SECONDS)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        client.close()
    await asyncio.sleep(0)  # let the transport finish closing before the caller's loop may end
