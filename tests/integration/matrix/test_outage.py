"""A homeserver outage in the middle of a long poll: the loop backs off, says so once, and picks up
everything sent meanwhile when the homeserver is back.

The outage is made by a TCP relay between the bridge and Synapse that the test closes and reopens on
the same port: the shared Synapse keeps running for the other tests, while the bridge sees exactly
what a restart looks like from outside (connections reset, then refused, then accepted again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from nio import AsyncClient

from bridge.config.schema import MatrixConfig
from bridge.devstack.process import free_port
from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from bridge.matrix.events import MatrixMessage
from bridge.matrix.session import MatrixSession
from bridge.matrix.sync import SyncLoop
from tests.integration.matrix.conftest import MemoryTokenStore, Position, create_room, send

pytestmark = pytest.mark.servers


class Relay:
    """Forwards 127.0.0.1:``port`` to the homeserver until ``close``; ``open`` again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._writers.update({writer, upstream_writer})
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))
        finally:
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                end.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


async def test_sync_survives_an_outage_and_catches_up(
    stack: Stack,
    matrix_user: Callable[..., MatrixUser],
    ana: tuple[MatrixUser, AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, client = ana
    relay = Relay(urlsplit(stack.homeserver_url).port or 80)
    await relay.open()
    user = matrix_user("icop")
    config = MatrixConfig(homeserver=f"http://127.0.0.1:{relay.port}", user_id=user.user_id, password_env="X")
    bot = MatrixSession(config, access_token=user.access_token, request_timeout=10)
    try:
        await bot.login(MemoryTokenStore())
        room_id = await create_room(client, invite=[bot.user_id])
        await bot.ensure_joined([room_id])
        position = Position()
        loop = SyncLoop(
            bot,
            load_since=position.load,
            save_since=position.save,
            handle=position.handle,
            rooms={room_id},
            timeout_ms=2000,
            backoff_base=0.05,
            backoff_max=0.2,
        )
        position.since = await loop.sync_once(None)
        with caplog.at_level(logging.INFO, logger="bridge.matrix.sync"):
            async with asyncio.TaskGroup() as tasks:
                running = tasks.create_task(loop.run())
                await send(client, room_id, {"msgtype": "m.text", "body": "before"})
                await position.wait_until(lambda: len(position.events) == 1)
                await relay.close()  # the long poll in flight is cut, then connections are refused
                await send(client, room_id, {"msgtype": "m.text", "body": "during"})
                await asyncio.sleep(1.0)  # several failed attempts
                await relay.open()
                await position.wait_until(lambda: len(position.events) == 2)
                running.cancel()
    finally:
        await bot.close()
        with contextlib.suppress(AssertionError):
            await relay.close()

    bodies = [event.message.text for event in position.events if isinstance(event, MatrixMessage)]
    assert bodies == ["before", "during"]
    failing = [r for r in caplog.records if "matrix sync failing" in r.getMessage()]
    recovered = [r for r in caplog.records if "matrix sync working again" in r.getMessage()]
    assert len(failing) == 1, [r.getMessage() for r in caplog.records]
    assert len(recovered) == 1
    assert "failed attempts" in recovered[0].getMessage()
