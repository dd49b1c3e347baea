"""Logging in and finding the rooms, against the real Synapse."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nio import AsyncClient, LogoutResponse, RoomVisibility

from bridge.config.schema import MatrixConfig
from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from bridge.matrix.session import (
    MatrixAuthError,
    MatrixPermanentError,
    MatrixSession,
    MatrixUnavailableError,
    StoredLogin,
)
from bridge.matrix.sync import SyncLoop
from tests.integration.matrix.conftest import MemoryTokenStore, Position, create_room

pytestmark = pytest.mark.servers


async def test_login_with_a_token_checks_it_with_whoami(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> None:
    user = matrix_user("icop")
    store = MemoryTokenStore()
    session = matrix_session(user, access_token=user.access_token)
    await session.login(store)
    assert session.device_id == user.device_id
    assert store.saves == 0  # a configured token is never copied anywhere


async def test_a_refused_token_is_an_auth_error(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> None:
    user = matrix_user("icop")
    session = matrix_session(user, access_token="syt_not_a_real_token")
    with pytest.raises(MatrixAuthError, match="M_UNKNOWN_TOKEN") as raised:
        await session.login(MemoryTokenStore())
    assert "syt_not_a_real_token" not in str(raised.value)


async def test_a_token_of_another_account_is_refused(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> None:
    user, other = matrix_user("icop"), matrix_user("other")
    session = matrix_session(user, access_token=other.access_token)
    with pytest.raises(MatrixAuthError, match="belongs to"):
        await session.login(MemoryTokenStore())


async def test_password_login_stores_the_token_and_the_next_start_reuses_it(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> None:
    user = matrix_user("icop")
    store = MemoryTokenStore()
    first = matrix_session(user, password=user.password)
    await first.login(store)
    assert store.saves == 1
    assert store.login is not None
    assert store.login.user_id == user.user_id
    assert store.login.access_token != user.access_token  # a login of its own

    second = matrix_session(user, password=user.password)
    await second.login(store)
    assert store.saves == 1  # reused, no new login
    assert second.client.access_token == store.login.access_token
    assert second.device_id == store.login.device_id
    assert await second.joined_rooms() == set()


async def test_an_expired_stored_token_means_one_new_login_on_the_same_device(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> None:
    user = matrix_user("icop")
    store = MemoryTokenStore()
    first = matrix_session(user, password=user.password)
    await first.login(store)
    assert store.login is not None
    old = store.login
    assert isinstance(await first.client.logout(), LogoutResponse)

    second = matrix_session(user, password=user.password)
    await second.login(store)
    assert store.saves == 2
    assert store.login.access_token != old.access_token
    assert store.login.device_id == old.device_id


async def test_a_stored_login_of_another_account_is_not_used(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession], stack: Stack
) -> None:
    user, other = matrix_user("icop"), matrix_user("other")
    store = MemoryTokenStore(
        StoredLogin(stack.homeserver_url, other.user_id, other.device_id, other.access_token)
    )
    session = matrix_session(user, password=user.password)
    await session.login(store)
    assert store.login is not None
    assert store.login.user_id == user.user_id


async def test_a_wrong_password_is_an_auth_error(
    matrix_user: Callable[..., MatrixUser], matrix_session: Callable[..., MatrixSession]
) -> None:
    user = matrix_user("icop")
    with pytest.raises(MatrixAuthError, match="M_FORBIDDEN"):
        await matrix_session(user, password="wrong password").login(MemoryTokenStore())


async def test_an_unreachable_homeserver_is_unavailable(matrix_user: Callable[..., MatrixUser]) -> None:
    user = matrix_user("icop")
    session = MatrixSession(
        MatrixConfig(homeserver="http://127.0.0.1:9", user_id=user.user_id, password_env="X"),
        access_token=user.access_token,
    )
    try:
        with pytest.raises(MatrixUnavailableError, match=r"127\.0\.0\.1:9"):
            await session.login(MemoryTokenStore())
    finally:
        await session.close()


async def test_alias_resolution_and_joining_a_public_room(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await create_room(client, visibility=RoomVisibility.public, alias="pm-practice-public")
    assert await bot.resolve_room("#pm-practice-public:localhost") == room_id
    assert await bot.resolve_room(room_id) == room_id
    assert await bot.ensure_joined([room_id]) == set()
    assert room_id in await bot.joined_rooms()
    assert await bot.ensure_joined([room_id]) == set()  # joining again is a no-op


async def test_an_unknown_alias_is_a_permanent_error(bot: MatrixSession) -> None:
    with pytest.raises(MatrixPermanentError, match="#nowhere:localhost"):
        await bot.resolve_room("#nowhere:localhost")


async def test_a_private_room_waits_for_an_invite_and_only_configured_invites_are_accepted(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    configured = await create_room(client)
    stranger = await create_room(client)
    assert await bot.ensure_joined([configured]) == {configured}

    position = Position()
    loop = SyncLoop(
        bot, load_since=position.load, save_since=position.save, handle=position.handle, rooms={configured}
    )
    since = await loop.sync_once(None)  # the bot is in no room yet
    for room_id in (configured, stranger):
        await client.room_invite(room_id, bot.user_id)
    for _ in range(5):
        since = await loop.sync_once(since)
        if configured in await bot.joined_rooms():
            break
    assert await bot.joined_rooms() == {configured}
    members = await client.joined_members(stranger)
    assert bot.user_id not in {member.user_id for member in members.members}
