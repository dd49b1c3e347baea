"""Relay cases end to end: edits, redactions, the batched policy, files both ways, hostile HTML, odd mail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import pytest
from nio import AsyncClient, RoomSendResponse, UploadResponse

from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge
from tests.e2e.test_relay import mail_from

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
MatrixClient = Callable[[MatrixUser], AsyncClient]


def plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


async def send(client: AsyncClient, room_id: str, content: dict[str, object]) -> str:
    response = await client.room_send(room_id, "m.room.message", content)
    assert isinstance(response, RoomSendResponse), response
    return str(response.event_id)


async def test_matrix_edit_mails_a_correction_in_the_same_thread(
    bridge_factory: BridgeFactory, read_mailbox: ReadMailbox, matrix_client: MatrixClient
) -> None:
    bridge = await bridge_factory()
    community = bridge.community
    kenji = community.member("kenji").matrix
    assert kenji is not None
    client = matrix_client(kenji)
    original = await send(client, community.room_id, {"msgtype": "m.text", "body": "Retro is on Tuesday"})
    [first] = await read_mailbox(community.member("siobhan").email, 1)
    assert "Retro is on Tuesday" in plain(first)
    await send(
        client,
        community.room_id,
        {
            "msgtype": "m.text",
            "body": "* Retro is on Wednesday",
            "m.new_content": {"msgtype": "m.text", "body": "Retro is on Wednesday"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )
    mails = await read_mailbox(community.member("siobhan").email, 2)
    correction = mails[1]
    assert "Retro is on Wednesday" in plain(correction)
    assert correction["In-Reply-To"] == first["Message-ID"]
    assert correction["Message-ID"] != first["Message-ID"]


async def test_redacted_message_not_yet_mailed_is_never_mailed(
    bridge_factory: BridgeFactory, read_mailbox: ReadMailbox, matrix_client: MatrixClient
) -> None:
    """Under the batched policy a message waits; redacting it in that time withdraws it."""
    bridge = await bridge_factory(relay_policy="batched", batch_quiet_seconds=4)
    community = bridge.community
    kenji = community.member("kenji").matrix
    assert kenji is not None
    client = matrix_client(kenji)
    oops = await send(client, community.room_id, {"msgtype": "m.text", "body": "wrong room, sorry"})
    await client.room_redact(community.room_id, oops, reason="wrong room")
    await send(client, community.room_id, {"msgtype": "m.text", "body": "Agenda for Friday"})
    [mail] = await read_mailbox(community.member("siobhan").email, 1, timeout=40)
    assert "Agenda for Friday" in plain(mail)
    assert "wrong room" not in plain(mail)


async def test_batched_policy_folds_a_chat_burst_into_one_mail(
    bridge_factory: BridgeFactory, read_mailbox: ReadMailbox, matrix_client: MatrixClient
) -> None:
    bridge = await bridge_factory(relay_policy="batched", batch_quiet_seconds=3)
    community = bridge.community
    ana, kenji = community.member("ana").matrix, community.member("kenji").matrix
    assert ana is not None
    assert kenji is not None
    await send(matrix_client(ana), community.room_id, {"msgtype": "m.text", "body": "Who runs Friday?"})
    await send(matrix_client(kenji), community.room_id, {"msgtype": "m.text", "body": "I can."})
    await send(matrix_client(ana), community.room_id, {"msgtype": "m.text", "body": "Great, thanks!"})
    [mail] = await read_mailbox(community.member("priya").email, 1, timeout=40)
    text = plain(mail)
    assert text.index("Who runs Friday?") < text.index("I can.") < text.index("Great, thanks!")
    await asyncio.sleep(4)  # a second mail for the same burst would have arrived by now
    assert len(await read_mailbox(community.member("priya").email, 1)) == 1


async def test_files_both_ways(
    bridge_factory: BridgeFactory,
    send_mail: SendMail,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
) -> None:
    bridge = await bridge_factory()
    community = bridge.community
    # Email → room: the attachment is uploaded and posted in the message's thread.
    message = mail_from(bridge, "siobhan", "Our template", "Here is the estimation sheet.")
    sheet = b"phase,days\nplan,3\nbuild,10\n"
    message.add_attachment(sheet, maintype="text", subtype="csv", filename="estimate.csv")
    await send_mail(message)
    events = await bridge.wait_for_bot_events(2)
    files = [e for e in events if e["content"].get("msgtype") == "m.file"]
    assert len(files) == 1
    assert files[0]["content"]["body"] == "estimate.csv"
    assert files[0]["content"]["url"].startswith("mxc://")
    # Room → email: an image posted in chat arrives as a real attachment.
    kenji = community.member("kenji").matrix
    assert kenji is not None
    client = matrix_client(kenji)
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082"
    )
    upload, _ = await client.upload(
        lambda *_: png, content_type="image/png", filename="board.png", filesize=len(png)
    )
    assert isinstance(upload, UploadResponse)
    await send(
        client,
        community.room_id,
        {
            "msgtype": "m.image",
            "body": "board.png",
            "url": upload.content_uri,
            "info": {"mimetype": "image/png", "size": len(png)},
        },
    )
    mails = await read_mailbox(community.member("priya").email, 2)
    parts = [p for p in mails[-1].iter_attachments() if p.get_filename() == "board.png"]
    assert len(parts) == 1
    assert parts[0].get_content() == png


async def test_hostile_html_mail_is_neutralised_in_the_room(
    bridge_factory: BridgeFactory, send_mail: SendMail
) -> None:
    bridge = await bridge_factory()
    message = mail_from(bridge, "priya", "Formatting", "Plain version")
    message.add_alternative(
        '<p onclick="steal()">Hello <b>team</b><script>alert(1)</script>'
        '<a href="javascript:alert(2)">click</a><img src="https://tracker.example/p.png" alt="logo"></p>',
        subtype="html",
    )
    await send_mail(message)
    [event] = await bridge.wait_for_bot_events(1)
    html = event["content"]["formatted_body"]
    assert "<b>team</b>" in html
    for bad in ("<script", "onclick", "javascript:", "<img", "alert(1)"):
        assert bad not in html, bad


async def test_mail_without_message_id_is_relayed_once(
    bridge_factory: BridgeFactory, send_mail: SendMail
) -> None:
    bridge = await bridge_factory()
    message = mail_from(bridge, "priya", "No id", "Sent by a very old client")
    del message["Message-ID"]
    await send_mail(message)
    await bridge.wait_for_bot_events(1)
    bridge.stop()
    bridge.start()  # the mailbox is read again from the saved cursor: still one post
    await asyncio.sleep(4)
    assert len(bridge.bot_events()) == 1


async def test_member_names_in_mail_become_mentions_in_the_room(
    bridge_factory: BridgeFactory, send_mail: SendMail
) -> None:
    bridge = await bridge_factory()
    kenji = bridge.community.member("kenji").matrix
    assert kenji is not None
    await send_mail(mail_from(bridge, "priya", "Question", "@Kenji Watanabe could you share your sheet?"))
    [event] = await bridge.wait_for_bot_events(1)
    assert f'href="https://matrix.to/#/{kenji.user_id}"' in event["content"]["formatted_body"]
    assert event["content"]["m.mentions"] == {"user_ids": [kenji.user_id]}
