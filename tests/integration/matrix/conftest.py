"""Fixtures for the Matrix adapter against the real Synapse: a bridge account, its sessions, a room.

Every ``MatrixSession`` made here is closed at the end of its test, before the session-wide stack can
stop: an open aiohttp session would fail the run under ``filterwarnings = error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from nio import AsyncClient, RoomCreateResponse, RoomSendResponse

from bridge.config.schema import MatrixConfig
from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from bridge.matrix.events import MatrixEvent, SyncBatch
from bridge.matrix.session import MatrixSession, StoredLogin


@dataclass
class MemoryTokenStore:
    """A ``TokenStore`` in memory that counts what it was asked."""

    login: StoredLogin | None = None
    saves: int = 0

    async def load(self) -> StoredLogin | None:
        return self.login

    async def save(self, login: StoredLogin) -> None:
        self.login = login
        self.saves += 1


@dataclass
class Position:
    """Where a sync loop stands, and the order in which it handled and saved."""

    since: str | None = None
    log: list[str] = field(default_factory=list)
    events: list[MatrixEvent] = field(default_factory=list)
    handled: asyncio.Event = field(default_factory=asyncio.Event)

    async def load(self) -> str | None:
        return self.since

    async def save(self, since: str) -> None:
        self.log.append(f"save {since}")
        self.since = since

    async def handle(self, batch: SyncBatch) -> None:
        self.log.append(f"handle {batch.next_batch} ({len(batch.events)} events)")
        self.events.extend(batch.events)
        self.handled.set()

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 15.0) -> None:
        """Wait until ``condition()`` holds after some batch was handled."""
        async with asyncio.timeout(timeout):
            while not condition():
                self.handled.clear()
                await self.handled.wait()


def bot_config(stack: Stack, user: MatrixUser) -> MatrixConfig:
    return MatrixConfig(
        homeserver=stack.homeserver_url,
        user_id=user.user_id,
        password_env="ICOP_TEST_UNUSED",
        device_name="icop-bridge test",
    )


@pytest_asyncio.fixture
async def matrix_session(stack: Stack) -> AsyncIterator[Callable[..., MatrixSession]]:
    """``matrix_session(user, password=…)`` or ``(user, access_token=…)``: closed after the test."""
    sessions: list[MatrixSession] = []

    def open_session(user: MatrixUser, **credential: Any) -> MatrixSession:
        session = MatrixSession(bot_config(stack, user), request_timeout=20, **credential)
        sessions.append(session)
        return session

    try:
        yield open_session
    finally:
        for session in sessions:
            await session.close()


@pytest_asyncio.fixture
async def bot(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> MatrixSession:
    """The bridge account, logged in with its access token."""
    user = matrix_user("icop")
    session = matrix_session(user, access_token=user.access_token)
    await session.login(MemoryTokenStore())
    return session


@pytest.fixture
def ana(
    matrix_user: Callable[..., MatrixUser], matrix_client: Callable[[MatrixUser], AsyncClient]
) -> tuple[MatrixUser, AsyncClient]:
    """A person in the room, with her own nio client."""
    user = matrix_user("ana")
    return user, matrix_client(user)


async def create_room(client: AsyncClient, **kwargs: Any) -> str:
    created = await client.room_create(**kwargs)
    assert isinstance(created, RoomCreateResponse), created
    room_id: str = created.room_id
    return room_id


async def send(
    client: AsyncClient, room_id: str, content: dict[str, Any], event_type: str = "m.room.message"
) -> str:
    sent = await client.room_send(room_id, event_type, content)
    assert isinstance(sent, RoomSendResponse), sent
    event_id: str = sent.event_id
    return event_id
