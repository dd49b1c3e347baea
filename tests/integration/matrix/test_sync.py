"""The sync loop against the real Synapse: order, replay after a failed handler, no history on first
start or on a late join, and gaps filled from /messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from nio import AsyncClient, RoomVisibility

from bridge.devstack.synapse import MatrixUser
from bridge.matrix.events import (
    IgnoredBecause,
    MatrixEdit,
    MatrixEvent,
    MatrixIgnored,
    MatrixMessage,
    MatrixReaction,
    MatrixRedaction,
    SyncBatch,
)
from bridge.matrix.session import MatrixSession
from bridge.matrix.sync import SyncLoop
from tests.integration.matrix.conftest import Position, create_room, send

pytestmark = pytest.mark.servers


def texts(events: list[MatrixEvent]) -> list[str]:
    return [event.message.text for event in events if isinstance(event, MatrixMessage)]


def ids(events: list[MatrixEvent]) -> list[str]:
    return [event.event_id for event in events]


async def shared_room(bot: MatrixSession, client: AsyncClient) -> str:
    room_id = await create_room(client, invite=[bot.user_id])
    assert await bot.ensure_joined([room_id]) == set()
    return room_id


def sync_loop(bot: MatrixSession, position: Position, rooms: set[str], **kwargs: Any) -> SyncLoop:
    options: dict[str, Any] = {"timeout_ms": 500, "backoff_base": 0.05, **kwargs}
    options.setdefault("handle", position.handle)
    return SyncLoop(bot, load_since=position.load, save_since=position.save, rooms=rooms, **options)


async def sync_until(
    loop: SyncLoop, position: Position, done: Callable[[], bool], *, rounds: int = 20
) -> None:
    for _ in range(rounds):
        position.since = await loop.sync_once(position.since)
        if done():
            return
    raise AssertionError(f"not done after {rounds} syncs: {position.log}")


async def test_messages_threads_edits_reactions_and_redactions_arrive_in_order_and_replay_after_a_failure(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    user, client = ana
    await client.set_displayname("Ana Souza")
    room_id = await shared_room(bot, client)
    position = Position()
    failures = [RuntimeError("the store is down")]

    async def handle(batch: SyncBatch) -> None:
        if batch.events and failures:
            position.log.append(f"fail {batch.next_batch}")
            raise failures.pop()
        await position.handle(batch)

    loop = sync_loop(bot, position, {room_id}, handle=handle)
    position.since = await loop.sync_once(None)

    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(loop.run())
        root = await send(client, room_id, {"msgtype": "m.text", "body": "Kick-off on Monday?"})
        thread = {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        }
        reply = await send(
            client, room_id, {"msgtype": "m.text", "body": "Yes, 10:00", "m.relates_to": thread}
        )
        edit_content = {
            "msgtype": "m.text",
            "body": "* Kick-off on Tuesday?",
            "m.new_content": {"msgtype": "m.text", "body": "Kick-off on Tuesday?"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": root},
        }
        edit = await send(client, room_id, edit_content)
        annotation = {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}}
        reaction = await send(client, room_id, annotation, "m.reaction")
        await position.wait_until(lambda: reaction in ids(position.events))
        redacted = await client.room_redact(room_id, reply, reason="wrong thread")
        await position.wait_until(lambda: redacted.event_id in ids(position.events))
        running.cancel()

    assert ids(position.events) == [root, reply, edit, reaction, redacted.event_id]
    first, second, third, fourth, fifth = position.events
    assert isinstance(first, MatrixMessage)
    assert first.message.sender_name == "Ana Souza"
    assert first.message.sender_address == user.user_id
    assert isinstance(second, MatrixMessage)
    assert second.message.refs.matrix_thread_root == root
    assert second.reply_is_fallback
    assert isinstance(third, MatrixEdit)
    assert (third.target_event_id, third.text) == (root, "Kick-off on Tuesday?")
    assert isinstance(fourth, MatrixReaction)
    assert fourth.key == "👍"
    assert isinstance(fifth, MatrixRedaction)
    assert (fifth.redacted_event_id, fifth.reason) == (reply, "wrong thread")

    # The failed batch was handed over again from the same position, and saved only after that.
    failed = next(entry for entry in position.log if entry.startswith("fail "))
    token = failed.removeprefix("fail ")
    handled = [entry for entry in position.log if entry.startswith(f"handle {token} ")]
    assert len(handled) == 1
    assert position.log.index(failed) < position.log.index(handled[0]) < position.log.index(f"save {token}")
    assert not any(entry == f"save {token}" for entry in position.log[: position.log.index(failed)])


async def test_first_start_does_not_replay_the_room_history(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    for n in range(3):
        await send(client, room_id, {"msgtype": "m.text", "body": f"old {n}"})
    position = Position()
    loop = sync_loop(bot, position, {room_id})
    position.since = await loop.sync_once(None)
    assert position.log == [f"save {position.since}"]
    await send(client, room_id, {"msgtype": "m.text", "body": "new"})
    await sync_until(loop, position, lambda: "new" in texts(position.events))
    assert texts(position.events) == ["new"]


async def test_history_before_a_late_join_is_not_relayed(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    position = Position()
    room_id = await create_room(client, visibility=RoomVisibility.public)
    loop = sync_loop(bot, position, {room_id})
    position.since = await loop.sync_once(None)
    await send(client, room_id, {"msgtype": "m.text", "body": "before the bridge"})
    assert await bot.ensure_joined([room_id]) == set()
    await send(client, room_id, {"msgtype": "m.text", "body": "after the bridge"})
    await sync_until(loop, position, lambda: "after the bridge" in texts(position.events))
    assert texts(position.events) == ["after the bridge"]


async def test_a_limited_timeline_is_filled_so_nothing_is_skipped(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    position = Position()
    loop = sync_loop(bot, position, {room_id}, timeline_limit=5)
    position.since = await loop.sync_once(None)
    sent = [await send(client, room_id, {"msgtype": "m.text", "body": f"burst {n}"}) for n in range(23)]
    await sync_until(loop, position, lambda: sent[-1] in ids(position.events))
    assert ids(position.events) == sent
    assert any(entry.endswith("(23 events)") for entry in position.log), position.log  # one batch, gap filled


async def test_own_events_come_back_ignored(bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    position = Position()
    loop = sync_loop(bot, position, {room_id})
    position.since = await loop.sync_once(None)
    own = await send(bot.client, room_id, {"msgtype": "m.notice", "body": "from the bridge"})
    await sync_until(loop, position, lambda: own in ids(position.events))
    (event,) = position.events
    assert isinstance(event, MatrixIgnored)
    assert event.reason is IgnoredBecause.OWN_EVENT
