"""One logged-in IMAP connection as the inbox loop uses it: commands that notice a dropped connection.

aioimaplib tells nobody when the server goes away: a command in flight just waits (IDLE forever, most
others until their timeout). This wrapper listens for ``connection_lost`` and races every command against
it, so a reset or a server restart is seen at once and the loop reconnects instead of hanging. It also
keeps aioimaplib's IDLE rules in one place: nothing else may be sent while IDLE runs, so DONE is sent and
the IDLE command awaited before anything else, and pushes are read from the client's own queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Sequence
from typing import Any, Literal, TypeVar

import aioimaplib

from bridge.email.imap_responses import (
    FetchedItem,
    MailboxStatus,
    idle_news,
    mailbox_name,
    parse_fetch,
    parse_search,
    parse_select,
    uid_set,
)

T = TypeVar("T")
FETCH_ITEMS = "(UID FLAGS INTERNALDATE BODY.PEEK[])"
GOODBYE_SECONDS = 5.0


class ImapConnectionLost(ConnectionError):
    """The server closed the connection, or the network dropped it."""


class ImapCommandError(RuntimeError):
    """The server answered NO or BAD where the loop cannot go on without the answer."""


class ImapConnection:
    """A connection with the list mailbox selected (from ``open_imap``), owned by one inbox loop."""

    def __init__(self, client: aioimaplib.IMAP4, *, timeout: float) -> None:
        self._client = client
        self._protocol: Any = client.protocol
        self._timeout = timeout
        self._lost = asyncio.Event()
        self.lost_reason = "connection closed"
        self.processed_folder_ready = False
        """Set once the folder for processed mail is known to exist on this connection."""
        self._protocol.conn_lost_cb = self._on_lost
        transport = self._protocol.transport
        if transport is None or transport.is_closing():
            self._lost.set()
        else:
            _keep_alive(transport)

    def has(self, capability: str) -> bool:
        return bool(self._client.has_capability(capability))

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    # -- commands -------------------------------------------------------------------------------

    async def select(self, mailbox: str) -> MailboxStatus:
        response = await self._command(self._protocol.select(mailbox_name(mailbox)), "SELECT")
        return parse_select(_ok(response, "SELECT"))

    async def uids_from(self, first_uid: int) -> list[int]:
        """The UIDs at or above ``first_uid`` (``first:*`` also names the highest UID when none is)."""
        search = self._protocol.search("UID", f"{first_uid}:*", by_uid=True, charset=None)
        response = await self._command(search, "UID SEARCH")
        return [uid for uid in parse_search(_ok(response, "UID SEARCH")) if uid >= first_uid]

    async def fetch(self, uids: Sequence[int]) -> list[FetchedItem]:
        # aioimaplib's FETCH timer restarts with every chunk received: a large message is not a timeout.
        fetch = self._protocol.fetch(uid_set(uids), FETCH_ITEMS, by_uid=True, timeout=self._timeout)
        response = await self._command(fetch, "UID FETCH", timeout=None)
        return parse_fetch(_ok(response, "UID FETCH"))

    async def add_flags(self, uids: Sequence[int], flags: str) -> str | None:
        """Add ``flags`` (e.g. ``\\Seen``); returns the server's complaint, or None when it agreed."""
        store = self._protocol.store(uid_set(uids), "+FLAGS.SILENT", f"({flags})", by_uid=True)
        return _complaint(await self._command(store, "UID STORE"))

    async def move(self, uids: Sequence[int], folder: str) -> str | None:
        """Move to ``folder`` (MOVE, else COPY + \\Deleted + EXPUNGE); returns a complaint or None."""
        target = mailbox_name(folder)
        if not self.processed_folder_ready:
            created = await self._command(self._protocol.simple_command("CREATE", target), "CREATE")
            # NO [ALREADYEXISTS] is the usual answer after the first run.
            self.processed_folder_ready = True
            if created.result != "OK" and b"ALREADYEXISTS" not in b" ".join(map(bytes, created.lines)):
                return f"CREATE {folder}: {_text(created)}"
        if self.has("MOVE"):
            return _complaint(
                await self._command(self._protocol.move(uid_set(uids), target, by_uid=True), "MOVE")
            )
        copied = await self._command(self._protocol.copy(uid_set(uids), target, by_uid=True), "UID COPY")
        if (complaint := _complaint(copied)) is not None:
            return complaint
        if (complaint := await self.add_flags(uids, "\\Deleted")) is not None:
            return complaint
        if self.has("UIDPLUS"):  # removes only these messages, never another client's \Deleted ones
            expunge = self._protocol.expunge(uid_set(uids), by_uid=True)
        else:
            expunge = self._protocol.expunge()
        return _complaint(await self._command(expunge, "EXPUNGE"))

    async def idle(self, known_exists: int, *, renew_after: float, stop: asyncio.Event) -> bool:
        """IDLE until new mail (True), or until ``renew_after`` seconds pass or ``stop`` is set (False).

        Ends the IDLE command (DONE, then its tagged answer) before returning, so the connection is free.
        """
        queue: asyncio.Queue[list[bytes]] = self._protocol.idle_queue
        while not queue.empty():  # pushes left over from an earlier IDLE describe counts already read
            queue.get_nowait()
        idle: asyncio.Future[Any] = asyncio.ensure_future(self._protocol.idle())
        try:
            await self._idle_started(idle)
            news = await self._wait_for_news(queue, known_exists, renew_after, stop)
        except BaseException:
            await _cancel(idle)
            raise
        self._client.idle_done()
        _ok(await self._command(idle, "IDLE"), "IDLE")
        return news

    async def wait(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep between polls; wakes early on ``stop`` and raises when the connection drops."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await self._first_of({stopping}, timeout=seconds)
        finally:
            await _cancel(stopping)

    async def close(self, *, wait_for_logout: bool) -> None:
        """Log out (awaited, or just sent when ``wait_for_logout`` is False) and close the transport."""
        try:
            if wait_for_logout and not self.lost:
                with contextlib.suppress(Exception):
                    await self._command(self._protocol.logout(), "LOGOUT", timeout=GOODBYE_SECONDS)
        finally:  # even when cancelled while waiting for the LOGOUT answer
            transport = self._protocol.transport
            if transport is not None and not transport.is_closing():
                if self._protocol.state != aioimaplib.LOGOUT:
                    self._say_goodbye()
                transport.close()
        if transport is not None:
            # connection_lost runs on a later turn of the loop; until then the socket is not released.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), 1.0)

    # -- internals ------------------------------------------------------------------------------

    def _say_goodbye(self) -> None:
        """End IDLE and log out without waiting: ``transport.close()`` still sends what is buffered."""
        with contextlib.suppress(Exception):
            if self._protocol.has_pending_idle_command():
                self._protocol.idle_done()
            self._protocol.send(f"{self._protocol.new_tag()} LOGOUT")

    async def _idle_started(self, idle: asyncio.Future[Any]) -> None:
        acknowledged = asyncio.ensure_future(self._protocol.wait_for_idle_response())
        try:
            done = await self._first_of({idle, acknowledged}, timeout=self._timeout)
        finally:
            await _cancel(acknowledged)
        if idle in done:  # a tagged answer before the continuation: the server refused IDLE
            raise ImapCommandError(f"IDLE refused: {_text(idle.result())}")
        if not done:
            raise TimeoutError(f"IDLE not acknowledged within {self._timeout:.0f} s")

    async def _wait_for_news(
        self, queue: asyncio.Queue[list[bytes]], known_exists: int, renew_after: float, stop: asyncio.Event
    ) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + renew_after
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while (remaining := deadline - loop.time()) > 0 and not stop.is_set():
                push = asyncio.ensure_future(queue.get())
                try:
                    done = await self._first_of({push, stopping}, timeout=remaining)
                finally:
                    if not push.done():
                        await _cancel(push)
                if push in done:
                    news, known_exists = idle_news(push.result(), known_exists)
                    if news:
                        return True
            return False
        finally:
            await _cancel(stopping)

    async def _command(
        self, command: Awaitable[T], name: str, *, timeout: float | Literal["default"] | None = "default"
    ) -> T:
        task = asyncio.ensure_future(command)
        limit = self._timeout if timeout == "default" else timeout
        try:
            done = await self._first_of({task}, timeout=limit)
        except BaseException:
            await _cancel(task)
            raise
        if not done:
            await _cancel(task)
            raise TimeoutError(f"{name} got no answer within {limit:.0f} s")
        return task.result()

    async def _first_of(self, tasks: set[asyncio.Future[Any]], *, timeout: float | None) -> set[Any]:
        """Wait for the first of ``tasks``; raises when the connection drops first. Empty on timeout."""
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({*tasks, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(lost)
        done.discard(lost)
        if not done and self.lost:
            raise ImapConnectionLost(self.lost_reason)
        return done

    def _on_lost(self, error: Exception | None) -> None:
        if error is not None:
            self.lost_reason = str(error) or type(error).__name__
        self._lost.set()


def _keep_alive(transport: Any) -> None:
    """TCP keepalive: a peer that vanished without a reset (a NAT timeout, a dead host) is noticed in
    about two minutes instead of at the next IDLE renewal, 25 minutes later."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, option):  # Linux names; other systems keep their defaults
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


async def _cancel(*tasks: asyncio.Future[Any]) -> None:
    """Cancel and reap, so no task outlives its owner and no exception goes unretrieved."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _ok(response: Any, name: str) -> list[bytes | bytearray]:
    if response.result != "OK":
        raise ImapCommandError(f"{name} answered {response.result}: {_text(response)}")
    return list(response.lines)


def _complaint(response: Any) -> str | None:
    return None if response.result == "OK" else f"{response.result} {_text(response)}"


def _text(response: Any) -> str:
    lines = [bytes(line) for line in response.lines if not isinstance(line, bytearray)]
    return lines[-1].decode("utf-8", "replace") if lines else ""
