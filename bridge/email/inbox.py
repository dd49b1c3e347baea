"""The list mailbox read as a stream: every new message handed to the relay once, in UID order.

DESIGN §3 is the contract here. The cursor (UIDVALIDITY + last UID) is saved only after ``handle`` returned
for that message, and a message is flagged or moved only after that too, so a crash at any instant
replays a message and never skips one (ingest deduplicates by Message-ID). A ``handle`` that fails holds
the stream at that message and is retried with backoff, loudly once it keeps failing. The relay's
``handle`` raises only for failures worth waiting on (a server or the database down): a message that
cannot be handled is parked by it and returns normally (``bridge.relay.shunt``), so it never holds the
list for long.

Deciding "nothing new, wait now" is done on a fresh SELECT, not on EXISTS pushes seen so far: aioimaplib
drops an untagged EXISTS that arrives during FETCH or SEARCH, so a count could miss a message delivered
at that moment. SELECT hears every untagged line, reports UIDNEXT, and re-reads UIDVALIDITY each cycle;
anything delivered after it is announced to the IDLE that follows. Without IDLE the same SELECT polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import aioimaplib

from bridge.config.schema import ImapConfig
from bridge.email.imap_connection import ImapCommandError, ImapConnection, ImapConnectionLost
from bridge.email.imap_responses import FetchedItem, ImapResponseError
from bridge.email.imap_session import ImapSessionError, open_imap
from bridge.health import LoopStatus
from bridge.probe import describe_network_error

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 25 * 60
"""RFC 2177: re-issue IDLE well before a server's 30-minute inactivity logout."""

# Everything the server or the network can do to a session; other errors are bugs or a failing store
# and go up to the Supervisor, which logs the traceback and restarts ``run``.
_SESSION_ERRORS = (
    OSError,
    TimeoutError,
    aioimaplib.AioImapException,
    ImapSessionError,
    ImapCommandError,
    ImapResponseError,
)


@dataclass(frozen=True, slots=True)
class InboxCursor:
    """How far the mailbox has been read: every UID up to ``last_uid`` of ``uidvalidity`` is stored."""

    uidvalidity: int
    last_uid: int


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One message as the server holds it: the raw bytes for the parser, UID and date for the logs."""

    uid: int
    uidvalidity: int
    raw: bytes
    flags: tuple[str, ...]
    internal_date: datetime | None


class InboxCursorStore(Protocol):
    """Where the cursor lives (the store, in the daemon)."""

    async def load(self) -> InboxCursor | None: ...

    async def save(self, cursor: InboxCursor) -> None: ...


MailHandler = Callable[[FetchedMail], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays that double from ``first`` up to ``longest`` seconds."""

    first: float = 1.0
    longest: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.first * float(2 ** min(max(attempt - 1, 0), 30)), self.longest)


@dataclass(slots=True)
class InboxStats:
    """Running figures, for benchmarks and the health endpoint."""

    connects: int = 0
    connect_failures: int = 0
    messages_fetched: int = 0
    messages_handled: int = 0
    handle_failures: int = 0
    idle_wakeups: int = 0
    """Rounds started by an IDLE push announcing new mail."""
    polls: int = 0
    replays: int = 0
    """UIDVALIDITY changes, each replaying the mailbox from UID 1."""
    last_fetch_seconds: float | None = None
    """Round trip of the latest UID FETCH."""
    waiting_with: Literal["idle", "poll"] | None = None


class ImapInbox:
    """Reads ``config.mailbox`` forever: ``await run()`` in a supervised task; ``stop()`` ends it."""

    def __init__(
        self,
        config: ImapConfig,
        password: str,
        *,
        cursor: InboxCursorStore,
        handle: MailHandler,
        ssl_context: ssl.SSLContext | None = None,
        chunk_size: int = 50,
        timeout: float = 15.0,
        reconnect: Backoff = Backoff(),
        retry: Backoff = Backoff(),
        stuck_after: int = 5,
        idle_renew_seconds: float = IDLE_RENEW_SECONDS,
        status: LoopStatus | None = None,
    ) -> None:
        self._config = config
        self._password = password
        self._cursors = cursor
        self._handle = handle
        self._ssl_context = ssl_context
        self._chunk_size = chunk_size
        self._timeout = timeout
        self._reconnect = reconnect
        self._retry = retry
        self._stuck_after = stuck_after
        self._idle_renew_seconds = idle_renew_seconds
        self.stats = InboxStats()
        self.status = status if status is not None else LoopStatus()  # for /healthz and /metrics
        self._stopping = asyncio.Event()
        self._cursor: InboxCursor | None = None
        self._cursor_loaded = False
        self._failing: tuple[tuple[int, int], int] | None = None  # ((uidvalidity, uid), attempts)
        self._reconnect_attempt = 0
        self._outage_since: float | None = None
        self._announced = False

    @property
    def target(self) -> str:
        config = self._config
        return f"imap {config.host}:{config.effective_port} ({config.user}, {config.mailbox})"

    def stop(self) -> None:
        """Finish the message in hand, leave IDLE, log out and return from ``run``."""
        self._stopping.set()

    async def run(self) -> None:
        """Read the mailbox until ``stop()``. Server and network trouble is retried here with backoff;
        anything else (a failing cursor store, a bug) propagates to the supervisor."""
        self.status.starting()
        self._cursor_loaded = False  # read afresh: another process may have moved it since the last run
        while not self._stopping.is_set():
            try:
                connection = await self._connect()
            except _SESSION_ERRORS as error:
                self.stats.connect_failures += 1
                self._trouble("%s unreachable: %s; retrying with backoff", error)
                await self._pause_after_failure()
                continue
            failure: BaseException | None = None
            try:
                await self._serve(connection)
            except _SESSION_ERRORS as error:
                failure = error
            finally:
                self.stats.waiting_with = None
                await connection.close(wait_for_logout=failure is None and self._stopping.is_set())
            if failure is not None and not self._stopping.is_set():
                self._trouble("%s: connection lost (%s); reconnecting", failure)
                await self._pause_after_failure()

    def _trouble(self, message: str, error: BaseException) -> None:
        """One warning per outage; the retries during it are debug lines."""
        self.status.disconnected(message % (self.target, _reason(error)))
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(message, self.target, _reason(error))
        else:
            log.debug(message, self.target, _reason(error))

    def _healthy(self, connection: ImapConnection) -> None:
        """Called when a session is up to date and about to wait: the end of any outage."""
        self.status.succeeded()
        self._reconnect_attempt = 0
        if self._outage_since is not None:
            log.info("%s back after %.1f s", self.target, time.monotonic() - self._outage_since)
            self._outage_since = None
        elif not self._announced:
            config = self._config
            if config.idle and connection.has("IDLE"):
                mode = "IDLE"
            else:
                mode = f"polling every {config.poll_interval_seconds:g} s"
                mode += ": the server offers no IDLE" if config.idle else ""
            log.info("%s: reading new mail (%s)", self.target, mode)
        self._announced = True

    # -- one connection -------------------------------------------------------------------------

    async def _connect(self) -> ImapConnection:
        client = await open_imap(
            self._config, self._password, timeout=self._timeout, ssl_context=self._ssl_context
        )
        self.stats.connects += 1
        return ImapConnection(client, timeout=self._timeout)

    async def _serve(self, connection: ImapConnection) -> None:
        if not self._cursor_loaded:
            self._cursor = await self._cursors.load()
            self._cursor_loaded = True
        covered: tuple[int | None, int] | None = None  # the SELECT state everything was fetched for
        while not self._stopping.is_set():
            status = await connection.select(self._config.mailbox)
            cursor = self._cursor
            if cursor is None or cursor.uidvalidity != status.uidvalidity:
                await self._start_over(cursor, status.uidvalidity)
                covered = None
            # Without UIDNEXT (servers SHOULD send it) the message count stands in for it.
            state = (status.uidnext, 0 if status.uidnext is not None else status.exists)
            if state != covered:
                if await self._catch_up(connection, status.uidvalidity):
                    covered = state
                    self.status.succeeded()
                continue
            self._healthy(connection)
            await self._wait_for_mail(connection, status.exists)

    async def _start_over(self, old: InboxCursor | None, uidvalidity: int) -> None:
        if old is not None:
            self.stats.replays += 1
            log.warning(
                "%s: UIDVALIDITY changed from %d to %d; reading the mailbox again from UID 1 "
                "(messages already stored are recognised by Message-ID)",
                self.target,
                old.uidvalidity,
                uidvalidity,
            )
        self._cursor = InboxCursor(uidvalidity, 0)
        await self._cursors.save(self._cursor)

    async def _catch_up(self, connection: ImapConnection, uidvalidity: int) -> bool:
        """Hand every message after the cursor to ``handle``; False when one failed or stop came."""
        assert self._cursor is not None
        uids = await connection.uids_from(self._cursor.last_uid + 1)
        for start in range(0, len(uids), self._chunk_size):
            began = time.monotonic()
            items = await connection.fetch(uids[start : start + self._chunk_size])
            self.stats.last_fetch_seconds = time.monotonic() - began
            self.stats.messages_fetched += len(items)
            handled: list[int] = []
            complete = True
            for item in items:
                if self._stopping.is_set() or not await self._hand_over(item, uidvalidity):
                    complete = False
                    break
                handled.append(item.uid)
            if handled:  # not on an exception: the session is gone, and the cursor covers them anyway
                await self._mark_processed(connection, handled)
            if not complete:
                return False
        return True

    async def _hand_over(self, item: FetchedItem, uidvalidity: int) -> bool:
        """``handle`` one message, then move the cursor past it; False (after a pause) when it raised."""
        mail = FetchedMail(item.uid, uidvalidity, item.raw, item.flags, item.internal_date)
        try:
            await self._handle(mail)
        except Exception as error:
            await self._pause(self._note_failure(mail, error))
            return False
        self._cursor = InboxCursor(uidvalidity, item.uid)
        await self._cursors.save(self._cursor)
        self.stats.messages_handled += 1
        if self._failing is not None and self._failing[0] == (uidvalidity, item.uid):
            log.info("%s: message UID %d handled after %d failures", self.target, item.uid, self._failing[1])
            self._failing = None
        return True

    def _note_failure(self, mail: FetchedMail, error: Exception) -> float:
        """Log a failed ``handle`` and return how long to wait before trying that message again."""
        key = (mail.uidvalidity, mail.uid)
        attempts = self._failing[1] + 1 if self._failing and self._failing[0] == key else 1
        self._failing = (key, attempts)
        self.stats.handle_failures += 1
        reason = f"{type(error).__name__}: {error}"
        self.status.behind(f"message UID {mail.uid} failed {attempts} time(s): {reason}")
        if attempts < self._stuck_after:
            delay = self._retry.delay(attempts)
            log.warning(
                "%s: handling message UID %d failed (%s); retrying in %.1f s",
                self.target,
                mail.uid,
                reason,
                delay,
                exc_info=attempts == 1,
            )
            return delay
        delay = self._retry.longest
        log.error(
            "%s: message UID %d has failed %d times (%s); every later message waits behind it; "
            "retrying every %.0f s",
            self.target,
            mail.uid,
            attempts,
            reason,
            delay,
        )
        return delay

    async def _mark_processed(self, connection: ImapConnection, uids: list[int]) -> None:
        if connection.lost:
            return  # the cursor already covers them; they stay as they are in the mailbox
        if self._config.processed == "move":
            complaint = await connection.move(uids, self._config.processed_mailbox)
        else:
            complaint = await connection.add_flags(uids, "\\Seen")
        if complaint is not None:
            log.warning(
                "%s: could not mark %d processed message(s) (%s): %s",
                self.target,
                len(uids),
                self._config.processed,
                complaint,
            )

    async def _wait_for_mail(self, connection: ImapConnection, exists: int) -> None:
        if self._config.idle and connection.has("IDLE"):
            self.stats.waiting_with = "idle"
            news = await connection.idle(exists, renew_after=self._idle_renew_seconds, stop=self._stopping)
            if news:
                self.stats.idle_wakeups += 1
            return
        self.stats.waiting_with = "poll"
        await connection.wait(self._config.poll_interval_seconds, self._stopping)
        self.stats.polls += 1

    # -- pauses ---------------------------------------------------------------------------------

    async def _pause_after_failure(self) -> None:
        self._reconnect_attempt += 1
        await self._pause(self._reconnect.delay(self._reconnect_attempt))

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early when ``stop`` is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _reason(error: BaseException) -> str:
    if isinstance(error, ImapSessionError | ImapCommandError | ImapResponseError | ImapConnectionLost):
        return str(error)
    return describe_network_error(error)
