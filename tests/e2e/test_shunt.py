# ruff: noqa: E501  (real-world samples read best one per line)
"""A relay that real-world mail cannot jam, end to end: ``icop run`` against Synapse, Dovecot and Postfix,
what arrived read from the room and the IMAP mailboxes.

| input                                                | outcome                                             |
|------------------------------------------------------|-----------------------------------------------------|
| on PostgreSQL, between two good mails from a member: |                                                     |
| 64 KB Subject folded over 1,400 lines                | relayed, in order                                   |
| 20 KB Message-ID                                     | relayed, in order                                   |
| References with 5,000 ids                            | relayed, in order                                   |
| 10 KB display name                                   | relayed under the roster's name                     |
| 1 KB file name; 500-character content type           | relayed with the file                               |
| a qmail "failure notice" with the member's From      | not relayed: a bounce (the report is read)          |
| an Exchange DSN wrapped in multipart/mixed           | not relayed: a bounce                               |
| a read receipt; an ARF report; a vacation reply      | not relayed: automatic                              |
| with test faults, between good mails from a member:  |                                                     |
| a mail failing in the parser                         | parked at once; later mail flows                    |
| a mail failing in the store transaction              | parked at once; nothing half-stored                 |
| a mail raising in the handler                        | retried a few times in order, then parked           |
| a chat message raising in the handler                | the same on the Matrix side                         |
| then, after a restart without faults:                | icop parked retry relays each exactly once          |
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from nio import AsyncClient, RoomSendResponse

from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_hostile import outbox_dead, raw_mail, send_raw
from tests.fixtures.servers import Mailbox

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
MatrixClient = Callable[[MatrixUser], AsyncClient]

FAULTS = "parse=BREAK-PARSER,store=BREAK-STORE,handler=BREAK-HANDLER"


def icop(bridge: RunningBridge, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(bridge.community.config_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **bridge.env},
    )


def parked(bridge: RunningBridge, state: str = "open") -> list[dict[str, Any]]:
    done = icop(bridge, "parked", "list", "--state", state, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def bodies(bridge: RunningBridge) -> list[str]:
    return [
        e["content"].get("body", "") for e in bridge.bot_events() if e["content"].get("msgtype") != "m.notice"
    ]


TAG = re.compile(r"^(?:\*\*[^*\n]+\*\*: )?((?:good|bad) [^\n]*?)\s*$", re.MULTILINE)


def tagged(texts: list[str]) -> list[str]:
    """The markers ("good 1", "bad parse", ...) the test's messages open with, in the room's order; a
    relayed mail reads "**Subject**\n**Author**: text"."""
    return [found for text in texts for found in TAG.findall(text)]


async def test_faults_in_each_layer_park_the_message_and_the_rest_flows(
    bridge_factory: BridgeFactory,
    stack: Stack,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
    imap_mailbox: Callable[[str], Mailbox],
) -> None:
    bridge = await bridge_factory(env={"ICOP_TEST_FAULTS": FAULTS})
    assert "test-only faults are injected" in bridge.log()
    sequence = [
        ("good 1", ""),
        ("bad parse", "BREAK-PARSER"),
        ("good 2", ""),
        ("bad store", "BREAK-STORE"),
        ("good 3", ""),
        ("bad handler", "BREAK-HANDLER"),
        ("good 4", ""),
    ]
    started = time.monotonic()
    async with imap_mailbox(bridge.community.list_address) as list_mailbox:
        for count, (text, marker) in enumerate(sequence, start=1):
            body = f"{text}\r\n{marker}\r\n".encode()
            await send_raw(stack, bridge, raw_mail(bridge, "siobhan", f"Shunt {text}", body))
            await list_mailbox.wait_for_messages(count)  # in the list's mailbox in this order (UIDs)
    await wait_for(lambda: len(tagged(bodies(bridge))) >= 4, 60, "the four good mails in the room")
    elapsed = time.monotonic() - started
    assert tagged(bodies(bridge)) == ["good 1", "good 2", "good 3", "good 4"]  # in order, none waiting

    kenji = bridge.community.member("kenji").matrix
    assert kenji is not None
    client = matrix_client(kenji)
    for text in ("bad chat\nBREAK-HANDLER", "good chat"):
        sent = await client.room_send(
            bridge.community.room_id, "m.room.message", {"msgtype": "m.text", "body": text}
        )
        assert isinstance(sent, RoomSendResponse), sent
    priya = bridge.community.member("priya").email
    mails = await read_mailbox(priya, 5, timeout=60)  # siobhan's four good mails and the good chat line
    assert any("good chat" in str(m.get_body(("plain",)).get_content()) for m in mails)  # type: ignore[union-attr]

    rows = await wait_for(lambda: _at(parked(bridge), 4), 60, "four parked messages")
    assert [(r["channel"], r["failure"], r["state"], r["community"]) for r in rows] == [
        ("email", "permanent", "parked", "pm-practice"),
        ("email", "permanent", "parked", "pm-practice"),
        ("email", "unexpected", "parked", "pm-practice"),
        ("matrix", "unexpected", "parked", "pm-practice"),
    ]
    assert [r["reason"].split(" (")[0] for r in rows] == [
        "InjectedFault: injected parse fault",
        "InjectedFault: injected store fault",
        "InjectedFault: injected handler fault",
        "InjectedFault: injected handler fault",
    ]
    assert rows[0]["subject"] == "Shunt bad parse"
    assert rows[3]["sender"] == kenji.user_id
    shown = icop(bridge, "parked", "show", str(rows[1]["id"]))
    assert "BREAK-STORE" in shown.stdout
    ana = bridge.community.member("ana").email
    notices = await wait_for(
        lambda: _told(read_mailbox, ana, rows), 60, "the conveners told about every parked message"
    )
    assert len(notices) <= 4  # told once per message at most (several may share a mail)

    # After an upgrade the cause is gone: restart without faults and re-process.
    bridge.stop()
    bridge.env = {}
    bridge.start()
    await wait_for(lambda: bridge.log().count("icop-bridge running") == 2, 45, "the restart")
    retried = icop(bridge, "parked", "retry", "--wait", "60")
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.splitlines()[0] == "4 parked messages queued for re-processing"
    relayed = ["good 1", "good 2", "good 3", "good 4", "bad parse", "bad store", "bad handler"]
    await wait_for(
        lambda: len(tagged(bodies(bridge))) >= len(relayed), 60, "the re-processed mails in the room"
    )
    await read_mailbox(priya, 9, timeout=60)  # + the three re-processed mails and the chat line
    await asyncio.sleep(3)  # long enough for a second copy to show up, if one were coming
    assert sorted(tagged(bodies(bridge))) == sorted(relayed)  # each exactly once
    texts = [str(m.get_body(("plain",)).get_content()) for m in await read_mailbox(priya, 9)]  # type: ignore[union-attr]
    assert len(texts) == 9
    assert [
        sum(1 for t in texts if marker in t)
        for marker in ("bad chat", "bad parse", "bad store", "bad handler")
    ] == [1, 1, 1, 1]
    assert [r["state"] for r in parked(bridge, "all")] == ["done"] * 4
    again = icop(bridge, "parked", "retry")
    assert again.stdout.strip() == "0 parked messages queued for re-processing"
    assert outbox_dead(bridge) == ""
    print(f"four good mails past three failing ones in {elapsed:.1f} s")


def _at(items: list[Any], count: int) -> list[Any] | None:
    return items if len(items) >= count else None


async def _told(
    read_mailbox: ReadMailbox, address: str, rows: list[dict[str, Any]]
) -> list[EmailMessage] | None:
    mails = await read_mailbox(address, 1, timeout=60)
    notices = [m for m in mails if "could not be handled" in str(m["Subject"])]
    text = "\n".join(str(m.get_body(("plain",)).get_content()) for m in notices)  # type: ignore[union-attr]
    return notices if all(f"{r['id']}: " in text for r in rows) else None


QMAIL = (
    "Hi. This is the qmail-send program at mail.example.test.\r\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
    "<nobody@gone.example.test>:\r\n550 5.1.1 mailbox unavailable\r\n"
)
WRAPPED_DSN = (
    '--W\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
    "--R\r\nContent-Type: text/plain\r\n\r\nDelivery has failed to these recipients or groups:\r\n\r\n"
    "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n"
    "Final-Recipient: rfc822; nobody@gone.example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--R--\r\n--W--\r\n"
)
MDN = (
    "--R\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
    "--R\r\nContent-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822; x@example.test\r\n"
    "Disposition: manual-action/MDN-sent-manually; displayed\r\n\r\n--R--\r\n"
)
ARF = (
    "--R\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
    "--R\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n--R--\r\n"
)


async def test_real_world_mail_on_postgresql(
    bridge_factory: BridgeFactory, stack: Stack, postgres_database_url: str
) -> None:
    """The mail that once silenced a list, and automatic mail with a member's From, on PostgreSQL."""
    bridge = await bridge_factory(env={"ICOP_DATABASE_URL": postgres_database_url})
    folded = "\r\n ".join(f"part{n:04d} of a subject folded over many lines" for n in range(1_400))
    huge_id = f"<{'m' * 20_000}@example.test>"
    refs = "\r\n ".join(f"<r{n}.{make_msgid()[1:-1]}>" for n in range(5_000))
    attachment = (
        "--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        '--b\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"
    )
    mixed = b'Content-Type: multipart/mixed; boundary="b"'
    mails = [
        raw_mail(bridge, "siobhan", "Before", b"good before\r\n"),
        raw_mail(bridge, "siobhan", folded, b"good folded subject\r\n"),
        raw_mail(bridge, "siobhan", "Long id", b"good long id\r\n").replace(b"Message-ID: <", b"Message-ID: " + huge_id.encode() + b"\r\nX-Was: <"),
        raw_mail(bridge, "siobhan", "Refs", b"good references\r\n", b"References: " + refs.encode()),
        raw_mail(bridge, "siobhan", "Name", b"good long name\r\n").replace("From: Siobhán Murphy".encode(), b"From: " + b"N" * 10_000),
        raw_mail(bridge, "siobhan", "File", attachment.format(text="good long file name", ctype="application/pdf", name="f" * 1_000 + ".pdf").encode(), mixed),
        raw_mail(bridge, "siobhan", "Type", attachment.format(text="good long content type", ctype="application/x-" + "z" * 500, name="a.bin").encode(), mixed),
        raw_mail(bridge, "siobhan", "failure notice", QMAIL.encode()),
        raw_mail(bridge, "siobhan", "Undeliverable: Before", WRAPPED_DSN.encode(), b'Content-Type: multipart/mixed; boundary="W"'),
        raw_mail(bridge, "siobhan", "Read: Before", MDN.encode(), b'Content-Type: multipart/report; report-type=disposition-notification; boundary="R"'),
        raw_mail(bridge, "siobhan", "Abuse report", ARF.encode(), b'Content-Type: multipart/report; report-type=feedback-report; boundary="R"'),
        raw_mail(bridge, "siobhan", "Re: Before", b"I am away this week.\r\n", b"Auto-Submitted: auto-replied"),
        raw_mail(bridge, "siobhan", "After", b"good after\r\n"),
    ]  # fmt: skip
    assert len(mails[1]) > 64_000
    started = time.monotonic()
    for mail in mails:
        await send_raw(stack, bridge, mail)
    expected = ["good before", "good folded subject", "good long id", "good references", "good long name",
                "good long file name", "good long content type", "good after"]  # fmt: skip
    await wait_for(lambda: len(tagged(bodies(bridge))) >= len(expected), 90, "the good mails in the room")
    elapsed = time.monotonic() - started
    await asyncio.sleep(2)  # an automatic mail relayed late would show up here
    # Each once (Postfix may hand a large mail to the mailbox after a later small one, so the room's
    # order is the mailbox's, which the other test pins down).
    assert sorted(tagged(bodies(bridge))) == sorted(expected)
    files = [e for e in bridge.bot_events() if e["content"].get("msgtype") == "m.file"]
    assert len(files) == 2
    assert all(len(e["content"]["body"]) <= 255 for e in files)
    named = next(b for b in bodies(bridge) if "good long name" in b)
    assert "Siobhán Murphy" in named
    assert parked(bridge, "all") == []
    log = bridge.log()
    assert 'bounce for no known member  community=pm-practice to="" format=qmail' in log
    assert 'bounce for no known member  community=pm-practice to="" format=rfc3464' in log
    assert "crashed" not in log  # the 20 KB Message-ID goes out under our own
    assert "disposition notification part" in log
    assert "message/feedback-report part" in log
    assert outbox_dead(bridge) == ""
    print(f"real-world mail on PostgreSQL: {len(expected)} good mails in the room after {elapsed:.1f} s")
