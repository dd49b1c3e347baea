"""A TCP forwarder the tests can cut: it stands between a client and a real server.

Dropping every connection at once, or refusing new ones for a while, is how a network failure or a
server restart looks to the client, without stopping the session's shared Dovecot.
"""

from __future__ import annotations

import asyncio
import contextlib

from bridge.devstack.process import free_port


class TcpLink:
    """``127.0.0.1:port`` forwards to ``target_host:target_port`` while ``up``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.connections = 0
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[object]] = set()

    @property
    def open_connections(self) -> int:
        return len(self._handlers)

    async def up(self) -> None:
        """Accept connections (again)."""
        if self._server is None:
            self._server = await asyncio.start_server(self._forward, self.host, self.port)

    async def down(self) -> None:
        """Refuse new connections and cut the open ones: the server looks gone."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.cut()

    async def cut(self) -> None:
        """Close every open connection, as a reset network would."""
        for writer in list(self._writers):
            writer.close()
        running = [*self._pipes, *self._handlers]
        if running:
            await asyncio.wait(running, timeout=5)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._relay(reader, writer)
        finally:
            self._handlers.discard(handler)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, upstream_writer))
        pipes = [
            asyncio.create_task(_pipe(reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for one in (writer, upstream_writer):
                one.close()
                self._writers.discard(one)
            await asyncio.wait(pipes)
            self._pipes.difference_update(pipes)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
