"""The relay end to end: icop run as a process, real Synapse, Postfix and Dovecot, read from both sides."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from nio import AsyncClient, RoomSendResponse

from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
MatrixClient = Callable[[MatrixUser], AsyncClient]


def mail_from(bridge: RunningBridge, who: str, subject: str, text: str, **headers: str) -> EmailMessage:
    member = bridge.community.member(who)
    message = EmailMessage()
    message["From"] = f"{member.name} <{member.email}>"
    message["To"] = headers.pop("to", bridge.community.list_address)
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", make_msgid(domain="example.test"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


async def send_in_thread(client: AsyncClient, room_id: str, root: str, text: str) -> str:
    content = {
        "msgtype": "m.text",
        "body": text,
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }
    response = await client.room_send(room_id, "m.room.message", content)
    assert isinstance(response, RoomSendResponse), response
    return str(response.event_id)


def thread_root_of(event: dict[str, object]) -> str | None:
    relates = event["content"].get("m.relates_to", {})  # type: ignore[union-attr]
    return relates.get("event_id") if relates.get("rel_type") == "m.thread" else None  # type: ignore[no-any-return]


async def test_three_hop_thread_is_one_thread_on_both_sides(
    bridge_factory: BridgeFactory,
    send_mail: SendMail,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
) -> None:
    """Email → a chat reply in its Matrix thread → an email reply to that: one thread everywhere."""
    bridge = await bridge_factory()
    community = bridge.community
    question = mail_from(bridge, "siobhan", "How do you estimate?", "How do you estimate big projects?")
    await send_mail(question)

    [root] = await bridge.wait_for_bot_events(1)
    assert "Siobhán Murphy" in root["content"]["body"]
    assert "How do you estimate big projects?" in root["content"]["body"]
    assert thread_root_of(root) is None

    kenji = community.member("kenji").matrix
    assert kenji is not None
    await send_in_thread(
        matrix_client(kenji), community.room_id, root["event_id"], "We use reference classes."
    )

    [relayed] = await read_mailbox(community.member("siobhan").email, 1)
    assert relayed["From"].addresses[0].addr_spec == community.list_address
    assert "Kenji Watanabe" in relayed["From"].addresses[0].display_name
    assert relayed["Subject"] == "Re: [pm-practice] How do you estimate?"
    assert relayed["In-Reply-To"] == question["Message-ID"]
    assert question["Message-ID"] in relayed["References"]
    assert relayed["List-Id"]
    assert relayed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "We use reference classes." in relayed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    reply_to = relayed["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith(community.list_address.split("@")[0] + "+")

    answer = mail_from(
        bridge,
        "siobhan",
        "Re: [pm-practice] How do you estimate?",
        "Thanks, that helps.\n\nOn Tue, Kenji wrote:\n> We use reference classes.\n",
        to=reply_to,
        In_Reply_To=relayed["Message-ID"],
        References=f"{relayed['References']} {relayed['Message-ID']}",
    )
    await send_mail(answer)
    events = await bridge.wait_for_bot_events(2)
    third = events[1]
    assert thread_root_of(third) == root["event_id"]
    assert "Thanks, that helps." in third["content"]["body"]
    assert "We use reference classes" not in third["content"]["body"]  # quoted history stripped

    # Each side saw each message exactly once.
    assert len(bridge.bot_events()) == 2
    # Priya, email only, gets the list's three posts; the list copy keeps the author's Message-ID.
    priya = await read_mailbox(community.member("priya").email, 3)
    assert [m["Subject"] for m in priya] == [
        "[pm-practice] How do you estimate?",
        "Re: [pm-practice] How do you estimate?",
        "Re: [pm-practice] How do you estimate?",
    ]
    assert [m["Message-ID"] for m in priya] == [
        question["Message-ID"],
        relayed["Message-ID"],
        answer["Message-ID"],
    ]
    assert priya[2]["In-Reply-To"] == relayed["Message-ID"]
    # Siobhán does not get her own two posts back, only Kenji's reply.
    assert len(await read_mailbox(community.member("siobhan").email, 1)) == 1


async def test_restart_and_kill_mid_conversation_double_nothing(
    bridge_factory: BridgeFactory, send_mail: SendMail, read_mailbox: ReadMailbox
) -> None:
    bridge = await bridge_factory()
    await send_mail(mail_from(bridge, "siobhan", "First", "one"))
    await bridge.wait_for_bot_events(1)
    assert bridge.stop(signal.SIGTERM) == 0
    await send_mail(mail_from(bridge, "siobhan", "Second", "two"))  # arrives while the daemon is down
    bridge.start()
    await bridge.wait_for_bot_events(2)
    bridge.stop(signal.SIGKILL)
    await send_mail(mail_from(bridge, "priya", "Third", "three"))
    bridge.start()
    events = await bridge.wait_for_bot_events(3)
    await asyncio.sleep(2)  # a late duplicate would show up here
    bodies = [e["content"]["body"] for e in bridge.bot_events()]
    assert len(bodies) == 3, bodies
    assert [b.rsplit(": ", 1)[-1] for b in bodies] == ["one", "two", "three"]
    assert len(events) == 3
    # Mail is at-least-once with receivers deduplicating (DESIGN §3): a kill -9 between the SMTP
    # server's 250 and the delivery's record sends that mail again under its own Message-ID, which a
    # mail reader shows once. Each post reaches Ana under one Message-ID, never under two.
    mails = await read_mailbox(bridge.community.member("ana").email, 3)
    by_id = {m["Message-ID"]: m["Subject"] for m in mails}
    assert sorted(by_id.values()) == ["[pm-practice] First", "[pm-practice] Second", "[pm-practice] Third"]
    assert len(mails) - len(by_id) <= 1  # at most the one mail in flight at the kill came again
