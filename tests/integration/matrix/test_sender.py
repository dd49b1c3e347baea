"""Sending into the room against the real Synapse: deduplicated retries, redactions, media both ways,
and errors that tell the outbox whether to retry or park."""

from __future__ import annotations

import io
import logging
import struct
import time
import zlib
from typing import Any

import pytest
from nio import AsyncClient, MessageDirection, RoomGetEventResponse, RoomMessagesResponse, UploadResponse

from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.message_ids import matrix_txn_id
from bridge.devstack.synapse import MatrixUser
from bridge.matrix.events import MatrixMessage
from bridge.matrix.sender import MatrixSender
from bridge.matrix.session import MatrixPermanentError, MatrixSession
from bridge.matrix.sync import SyncLoop
from bridge.matrix.to_matrix import PER_MESSAGE_PROFILE_KEY, attachment_content, edit_content, post_content
from tests.integration.matrix.conftest import Position, create_room, send

pytestmark = pytest.mark.servers

log = logging.getLogger(__name__)


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, tiny PNG (red pixels), so the homeserver sees a valid image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def shared_room(bot: MatrixSession, client: AsyncClient) -> str:
    room_id = await create_room(client, invite=[bot.user_id])
    assert await bot.ensure_joined([room_id]) == set()
    return room_id


async def timeline(client: AsyncClient, room_id: str) -> list[dict[str, Any]]:
    answer = await client.room_messages(room_id, start="", direction=MessageDirection.back, limit=100)
    assert isinstance(answer, RoomMessagesResponse), answer
    return [event.source for event in reversed(answer.chunk) if event.source.get("type") == "m.room.message"]


async def get_event(client: AsyncClient, room_id: str, event_id: str) -> dict[str, Any]:
    answer = await client.room_get_event(room_id, event_id)
    assert isinstance(answer, RoomGetEventResponse), answer
    source: dict[str, Any] = answer.event.source
    return source


async def test_the_same_transaction_id_twice_posts_once(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    sender = MatrixSender(bot)
    content = post_content(
        "Ana Souza",
        "Agenda attached",
        None,
        thread_root=None,
        reply_to=None,
        subject="Kick-off",
        origin_marker={"post": 1},
    )
    first = await sender.send(room_id, content, matrix_txn_id(41))
    again = await sender.send(room_id, content, matrix_txn_id(41))  # a retry after a crash
    assert again == first
    bodies = [event["content"]["body"] for event in await timeline(client, room_id)]
    assert bodies == ["**Kick-off**\n**Ana Souza**: Agenda attached"]


async def test_a_post_in_a_thread_arrives_as_sent_and_an_edit_replaces_it(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    root = await send(client, room_id, {"msgtype": "m.text", "body": "Agenda?"})
    sender = MatrixSender(bot)
    content = post_content(
        "Ben Okafor",
        "See below",
        "<p>See <b>below</b></p>",
        thread_root=root,
        reply_to=None,
        subject=None,
        origin_marker={"post": 2},
    )
    event_id = await sender.send(room_id, content, matrix_txn_id(1))
    seen = await get_event(client, room_id, event_id)
    assert seen["sender"] == bot.user_id
    assert seen["content"]["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }
    assert seen["content"][PER_MESSAGE_PROFILE_KEY]["displayname"] == "Ben Okafor"
    assert seen["content"]["formatted_body"] == "<p><b>Ben Okafor</b>: See <b>below</b></p>"
    assert seen["content"][ORIGIN_MARKER_KEY] == {"post": 2}

    edit = edit_content(event_id, "See above", None, author_name="Ben Okafor", origin_marker={"post": 2})
    edit_id = await sender.send(room_id, edit, matrix_txn_id(2))
    seen_edit = await get_event(client, room_id, edit_id)
    assert seen_edit["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": event_id}
    assert seen_edit["content"]["m.new_content"]["body"] == "**Ben Okafor**: See above"


async def test_redaction_with_a_transaction_id(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    sender = MatrixSender(bot)
    content = post_content(
        "Ana", "oops", None, thread_root=None, reply_to=None, subject=None, origin_marker={}
    )
    event_id = await sender.send(room_id, content, matrix_txn_id(7))
    redaction = await sender.redact(room_id, event_id, "withdrawn by its author", matrix_txn_id(8))
    assert await sender.redact(room_id, event_id, "withdrawn by its author", matrix_txn_id(8)) == redaction
    seen = await get_event(client, room_id, event_id)
    assert seen["content"] == {}
    assert seen["unsigned"]["redacted_because"]["event_id"] == redaction


async def test_sending_to_a_room_we_are_not_in_is_permanent(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await create_room(client)
    with pytest.raises(MatrixPermanentError, match="M_FORBIDDEN") as raised:
        await MatrixSender(bot).send(room_id, {"msgtype": "m.text", "body": "x"}, matrix_txn_id(1))
    assert raised.value.http_status == 403


async def test_a_bad_event_is_permanent(bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    huge = {"msgtype": "m.text", "body": "x" * 70_000}  # events are limited to 64 KiB
    with pytest.raises(MatrixPermanentError) as raised:
        await MatrixSender(bot).send(room_id, huge, matrix_txn_id(1))
    assert raised.value.http_status in {400, 413}


async def test_an_image_uploaded_by_the_bridge_round_trips(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    sender = MatrixSender(bot)
    image = png()
    mxc = await sender.upload(image, "image/png", "whiteboard.png")
    assert mxc.startswith("mxc://localhost/")
    content = attachment_content(
        "m.image",
        mxc,
        "whiteboard.png",
        "image/png",
        len(image),
        thread_root=None,
        reply_to=None,
        origin_marker={"post": 3},
        author_name="Ana Souza",
    )
    event_id = await sender.send(room_id, content, matrix_txn_id(3))
    seen = await get_event(client, room_id, event_id)
    assert seen["content"]["url"] == mxc
    assert seen["content"]["info"] == {"mimetype": "image/png", "size": len(image)}
    assert await sender.download(mxc) == (image, "image/png")


async def test_an_image_from_a_member_is_converted_and_downloadable(
    bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]
) -> None:
    _, client = ana
    room_id = await shared_room(bot, client)
    position = Position()
    loop = SyncLoop(
        bot,
        load_since=position.load,
        save_since=position.save,
        handle=position.handle,
        rooms={room_id},
        timeout_ms=500,
    )
    position.since = await loop.sync_once(None)
    image = png(3, 1)
    uploaded, _ = await client.upload(
        io.BytesIO(image), content_type="image/png", filename="photo.png", filesize=len(image)
    )
    assert isinstance(uploaded, UploadResponse), uploaded
    content = {
        "msgtype": "m.image",
        "body": "photo.png",
        "url": uploaded.content_uri,
        "info": {"mimetype": "image/png", "size": len(image), "w": 3, "h": 1},
    }
    event_id = await send(client, room_id, content)
    for _ in range(10):
        position.since = await loop.sync_once(position.since)
        if position.events:
            break
    (event,) = position.events
    assert isinstance(event, MatrixMessage)
    assert event.event_id == event_id
    (attachment,) = event.message.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "photo.png",
        "image/png",
        len(image),
    )
    assert attachment.url == uploaded.content_uri
    assert await MatrixSender(bot).download(attachment.url) == (image, "image/png")


async def test_downloading_a_missing_file_is_permanent(bot: MatrixSession) -> None:
    with pytest.raises(MatrixPermanentError, match="404"):
        await MatrixSender(bot).download("mxc://localhost/doesnotexist")
    with pytest.raises(MatrixPermanentError, match="not an mxc"):
        await MatrixSender(bot).download("https://example.com/x.png")


async def test_send_latency(bot: MatrixSession, ana: tuple[MatrixUser, AsyncClient]) -> None:
    """Not a benchmark: a figure to notice regressions by (printed with -s)."""
    _, client = ana
    room_id = await shared_room(bot, client)
    sender = MatrixSender(bot)
    count = 50
    began = time.perf_counter()
    for n in range(count):
        content = post_content(
            "Ana", f"message {n}", None, thread_root=None, reply_to=None, subject=None, origin_marker={}
        )
        await sender.send(room_id, content, matrix_txn_id(1000 + n))
    elapsed = time.perf_counter() - began
    print(f"\n{count} sends: {elapsed * 1000 / count:.1f} ms each")
    assert elapsed / count < 1.0
