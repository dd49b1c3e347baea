"""The real-server stack does what the bridge relies on: Matrix threads, mail with IDLE, a clean stop.

If one of these fails, every integration test after it would fail for the stack's reason, not the bridge's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import pytest
from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomSendResponse, SyncResponse

from bridge.devstack.process import StackError
from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from tests.fixtures.servers import Mailbox, stack_unavailable

pytestmark = pytest.mark.servers

TIMELINE_FILTER = {"room": {"timeline": {"limit": 50}}}


async def test_a_threaded_reply_reaches_the_other_member_with_its_relation(
    matrix_user: Callable[..., MatrixUser],
    matrix_client: Callable[[MatrixUser], AsyncClient],
) -> None:
    ana, ben = matrix_user("ana"), matrix_user("ben")
    ana_client, ben_client = matrix_client(ana), matrix_client(ben)
    created = await ana_client.room_create(name="Smoke test", invite=[ben.user_id])
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    joined = await ben_client.join(room_id)
    assert isinstance(joined, JoinResponse), joined

    root_content = {"msgtype": "m.text", "body": "Hello from Ana"}
    root_id = await _send(ana_client, room_id, root_content)
    thread = {
        "rel_type": "m.thread",
        "event_id": root_id,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root_id},
    }
    reply_content = {"msgtype": "m.text", "body": "Ben answers in the thread", "m.relates_to": thread}
    reply_id = await _send(ben_client, room_id, reply_content)

    for client in (ben_client, ana_client):
        seen = await _sync_until_seen(client, room_id, {root_id, reply_id})
        assert seen[root_id]["sender"] == ana.user_id
        assert seen[root_id]["content"]["body"] == "Hello from Ana"
        assert "m.relates_to" not in seen[root_id]["content"]
        assert seen[reply_id]["sender"] == ben.user_id
        assert seen[reply_id]["content"]["body"] == "Ben answers in the thread"
        assert seen[reply_id]["content"]["m.relates_to"] == thread


async def test_mail_sent_over_smtp_is_announced_by_imap_idle(
    mail_address: Callable[..., str],
    send_mail: Callable[..., Awaitable[None]],
    imap_mailbox: Callable[[str], Mailbox],
) -> None:
    local, domain = mail_address("list").split("@")
    recipient = f"{local}+token42@{domain}"
    subject = "Grüße aus Köln — Protokoll ✓"
    body = "Hallo zusammen,\nwir sprechen über Matrix und E-Mail.\n"
    message = EmailMessage()
    message["From"] = "Zoë Müller <zoe@example.org>"
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)

    async with imap_mailbox(recipient) as inbox:
        assert inbox.exists == 0
        async with inbox.idle():
            await send_mail(message)
            assert await inbox.wait_for_messages(1) == 1
        received = await inbox.messages()

    assert len(received) == 1
    mail = received[0]
    assert mail["Subject"] == subject
    assert mail["Delivered-To"] == recipient
    assert mail["From"].addresses[0].display_name == "Zoë Müller"
    assert mail.get_content().splitlines() == body.splitlines()  # IMAP serves CRLF


def test_a_stopped_stack_leaves_nothing_running() -> None:
    stack = Stack()
    try:
        stack.start()
    except StackError as error:
        stack_unavailable(str(error))
    try:
        root = stack.root
        assert set(stack.server_startup_seconds) == {"synapse", "dovecot", stack.smtp_server}
        assert 0 < stack.startup_seconds < 60
        running = " ".join(process.command for process in stack.leftover_processes())
        assert "synapse.app.homeserver" in running
        assert "dovecot" in running
        assert ("master" if stack.smtp_server == "postfix" else "smtp_relay") in running
    finally:
        stack.stop()
    assert stack.leftover_processes() == []
    assert not root.exists()


async def _send(client: AsyncClient, room_id: str, content: dict[str, Any]) -> str:
    sent = await client.room_send(room_id, "m.room.message", content)
    assert isinstance(sent, RoomSendResponse), sent
    return str(sent.event_id)


async def _sync_until_seen(
    client: AsyncClient, room_id: str, event_ids: set[str], timeout: float = 10.0
) -> dict[str, dict[str, Any]]:
    """Sync until every event in ``event_ids`` came down the room's timeline; their sources by id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen: dict[str, dict[str, Any]] = {}
    while not event_ids <= seen.keys():
        assert loop.time() < deadline, f"{client.user_id} saw {sorted(seen)}, not {sorted(event_ids)}"
        synced = await client.sync(timeout=1000, sync_filter=TIMELINE_FILTER)
        assert isinstance(synced, SyncResponse), synced
        room = synced.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            seen[event.event_id] = event.source
    return seen
