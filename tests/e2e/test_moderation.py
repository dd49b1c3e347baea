"""Moderation end to end: held posts, the convener's notices and commands, forged senders — read from
Synapse's timeline and the members' IMAP mailboxes."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from nio import AsyncClient, JoinResponse, RoomSendResponse

from bridge.devstack.community import room_messages
from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_relay import mail_from, thread_root_of

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
MatrixClient = Callable[[MatrixUser], AsyncClient]

HELD = re.compile(r"Held for a convener: post (\d+) ")


def stranger_mail(bridge: RunningBridge, address: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Sam Stranger <{address}>"
    message["To"] = bridge.community.list_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content(text)
    return message


async def say(client: AsyncClient, room_id: str, text: str) -> None:
    response = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
    assert isinstance(response, RoomSendResponse), response


def notices(bridge: RunningBridge) -> list[dict[str, Any]]:
    return [e for e in bridge.bot_events() if e["content"].get("msgtype") == "m.notice"]


def relayed(bridge: RunningBridge) -> list[dict[str, Any]]:
    return [e for e in bridge.bot_events() if e["content"].get("msgtype") != "m.notice"]


async def held_number(bridge: RunningBridge, count: int) -> int:
    """Wait for the ``count``-th held notice in the room; the number of the post it announces."""
    found: list[dict[str, Any]] = await wait_for(
        lambda: [n for n in notices(bridge) if HELD.search(n["content"]["body"])][count - 1 :],
        30,
        f"held notice {count}",
    )
    match = HELD.search(found[0]["content"]["body"])
    assert match is not None
    return int(match[1])


async def answer_to(bridge: RunningBridge, prefix: str) -> str:
    found: list[str] = await wait_for(
        lambda: [n["content"]["body"] for n in notices(bridge) if n["content"]["body"].startswith(prefix)],
        30,
        f"an answer starting {prefix!r}",
    )
    return found[0]


def icop(bridge: RunningBridge, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(bridge.community.config_path)
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--config", config, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def held_list(bridge: RunningBridge) -> list[dict[str, Any]]:
    done = icop(bridge, "held", "list", "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def moderators_room(bridge: RunningBridge) -> list[dict[str, Any]]:
    """The bot's messages in the community's moderators' room, oldest first."""
    community = bridge.community
    ana = community.member("ana").matrix
    assert ana is not None
    assert community.moderators_room_id is not None
    events = room_messages(bridge.stack.homeserver_url, ana.access_token, community.moderators_room_id)
    return [e for e in events if e["sender"] == community.bot.user_id]


async def test_a_strangers_mail_is_held_announced_then_approved_once_or_rejected_with_a_reason(
    bridge_factory: BridgeFactory,
    send_mail: SendMail,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
) -> None:
    """Held: not in the room, not on the list. The room learns only "post N (by email)"; Ana and Kenji
    get the details by mail and in the moderators' room, where `!icop held` lists the sender too.
    `!icop approve N` relays it to the room and to the list exactly once; `!icop reject N reason` mails
    the stranger the reason. `!icop search` and `icop search` find the approved post, not the rejected."""
    bridge = await bridge_factory(moderators_room=True)
    community = bridge.community
    stranger = f"sam-{secrets.token_hex(3)}@example.test"
    ana = community.member("ana")
    assert ana.matrix is not None
    ana_client = matrix_client(ana.matrix)

    await send_mail(stranger_mail(bridge, stranger, "Hello list", "May I ask about estimation?"))
    number = await held_number(bridge, 1)
    [room_notice] = notices(bridge)
    assert room_notice["content"]["body"].startswith(f"Held for a convener: post {number} (by email).")
    for private in ("Hello list", "estimation", "Sam", stranger):
        assert private not in room_notice["content"]["body"]
    [details] = await wait_for(lambda: moderators_room(bridge), 30, "the held notice in the moderators' room")
    assert (
        f"post {number} from Sam Stranger <{stranger}> (by email): “Hello list”" in details["content"]["body"]
    )
    [to_kenji] = await read_mailbox(community.member("kenji").email, 1)  # core team: told by mail too
    assert to_kenji["Subject"] == "[pm-practice] Held for you: Hello list"
    assert community.moderators_room_id is not None
    await say(ana_client, community.moderators_room_id, "!icop held")
    listing = await wait_for(lambda: moderators_room(bridge)[1:], 30, "the held list in the moderators' room")
    assert f"{number}: Sam Stranger <{stranger}> (email): Hello list" in listing[0]["content"]["body"]
    await say(ana_client, community.room_id, "!icop held")
    short = await answer_to(bridge, "Held posts:")
    assert short.startswith(f"Held posts: {number} (by email).")
    assert stranger not in short
    [notice_mail] = await read_mailbox(ana.email, 1)
    assert notice_mail["Subject"] == "[pm-practice] Held for you: Hello list"
    assert notice_mail["Auto-Submitted"] == "auto-generated"
    assert f"!icop approve {number}" in notice_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert relayed(bridge) == []  # not in the room
    assert [(h["id"], h["sender"], h["summary"]) for h in held_list(bridge)] == [
        (number, stranger, "Hello list")
    ]

    await say(ana_client, community.room_id, f"!icop approve {number}")
    answer = await answer_to(bridge, "Approved post")
    assert answer == f"Approved post {number}: relayed."
    [post] = await wait_for(lambda: relayed(bridge), 30, "the approved post in the room")
    assert "May I ask about estimation?" in post["content"]["body"]
    [on_list] = await read_mailbox(community.member("priya").email, 1)
    assert on_list["Subject"] == "[pm-practice] Hello list"
    assert held_list(bridge) == []

    await send_mail(stranger_mail(bridge, stranger, "Buy now", "Cheap watches"))
    second = await held_number(bridge, 2)
    await say(ana_client, community.room_id, f"!icop reject {second} not what this list is for")
    assert (await answer_to(bridge, "Rejected post")).endswith("The sender is told by mail.")
    [rejection] = await read_mailbox(stranger, 1)
    assert rejection["Subject"] == "[pm-practice] Your message was not posted: Buy now"
    assert "Reason: not what this list is for" in rejection.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    # The approved post is in the archive, the rejected one is not; a search is answered, never relayed.
    await say(ana_client, community.room_id, "!icop search estimation")
    found = await answer_to(bridge, "Found in the archive for estimation:")
    assert "Hello list" in found
    assert f"/c/{community.slug}/t/" in found
    await say(ana_client, community.room_id, "!icop search watches")
    assert (await answer_to(bridge, "Nothing found for watches")).endswith(
        f"/c/{community.slug}/search?q=watches"
    )
    searched = icop(bridge, "search", "estimation", "--json")
    assert searched.returncode == 0, searched.stderr
    [result] = [json.loads(line) for line in searched.stdout.splitlines()]
    assert (result["subject"], result["matched"], result["posts"]) == ("Hello list", 1, 1)

    await asyncio.sleep(2)  # a late duplicate or a relayed command would show up here
    assert len(relayed(bridge)) == 1
    priya = await read_mailbox(community.member("priya").email, 1)
    assert [m["Subject"] for m in priya] == ["[pm-practice] Hello list"]  # no command, no rejected post
    assert len(await read_mailbox(ana.email, 2)) == 3  # two held notices and the approved post


async def test_a_forged_member_is_held_but_their_signed_reply_is_not(
    bridge_factory: BridgeFactory, send_mail: SendMail, read_mailbox: ReadMailbox
) -> None:
    """A trusted dmarc=fail holds a mail from Kenji's address; the same failing header on a reply through
    Kenji's own reply address is relayed, because the token authenticates him."""
    bridge = await bridge_factory(extra_config='[mail]\ntrusted_authserv_ids = ["mx.example.test"]\n')
    community = bridge.community
    failing = (
        "mx.example.test; spf=fail smtp.mailfrom=example.test; dkim=none; dmarc=fail header.from=example.test"
    )

    await send_mail(mail_from(bridge, "siobhan", "Planning", "How far ahead do you plan?"))
    [root] = await bridge.wait_for_bot_events(1)
    [to_kenji] = await read_mailbox(community.member("kenji").email, 1)
    reply_to = to_kenji["Reply-To"].addresses[0].addr_spec

    await send_mail(
        mail_from(bridge, "kenji", "Urgent", "Please wire money.", Authentication_Results=failing)
    )
    number = await held_number(bridge, 1)
    assert [h["id"] for h in held_list(bridge)] == [number]
    rejected = icop(bridge, "held", "reject", str(number), "--reason", "forged")
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.startswith(f"Rejected post {number} from Kenji Watanabe")
    again = icop(bridge, "held", "approve", str(number))
    assert again.returncode == 1  # decided already: said so, nothing relayed
    assert again.stderr.strip() == f"Post {number} is not held any more: rejected by cli."
    assert icop(bridge, "held", "approve", "999999").returncode == 1

    await send_mail(
        mail_from(
            bridge,
            "kenji",
            "Re: [pm-practice] Planning",
            "Two sprints at most.",
            to=reply_to,
            In_Reply_To=to_kenji["Message-ID"],
            Authentication_Results=failing,
        )
    )
    events = await wait_for(lambda: relayed(bridge)[1:], 30, "Kenji's signed reply in the room")
    assert "Two sprints at most." in events[0]["content"]["body"]
    assert thread_root_of(events[0]) == root["event_id"]
    assert all("wire money" not in e["content"]["body"] for e in relayed(bridge))


async def test_a_matrix_visitor_is_told_once_how_to_join_and_cannot_moderate(
    bridge_factory: BridgeFactory, stack: Stack, matrix_client: MatrixClient, read_mailbox: ReadMailbox
) -> None:
    """A non-member's room message is held (the default policy) and answered once with how to join, even
    across a restart; their `!icop held` gets a polite refusal and is not relayed."""
    bridge = await bridge_factory()
    community = bridge.community
    visitor = stack.register_user(f"visitor-{secrets.token_hex(3)}", "visitor-password")
    client = matrix_client(visitor)
    joined = await client.join(community.room_id)
    assert isinstance(joined, JoinResponse), joined

    await say(client, community.room_id, "Hi, is anyone here?")
    await held_number(bridge, 1)
    hint = await answer_to(bridge, "Hello ")
    assert community.list_address in hint
    assert "To join, ask Ana Souza" in hint

    bridge.stop()
    bridge.start()
    await say(client, community.room_id, "!icop held")
    refusal = await answer_to(bridge, "Sorry, only the conveners")
    assert "not relayed" in refusal
    await say(client, community.room_id, "Hello again")
    await held_number(bridge, 2)
    await asyncio.sleep(2)  # a second hint would show up here
    assert len([n for n in notices(bridge) if n["content"]["body"].startswith("Hello ")]) == 1
    assert relayed(bridge) == []
    mails = await read_mailbox(community.member("ana").email, 2)
    assert all("Held for you" in str(m["Subject"]) for m in mails)  # no command, no post relayed
