"""Hostile and odd input through the running daemon: every case has a stated outcome, the daemon keeps
running, and nothing accepted is lost. Outcomes are read from Synapse's room, the members' IMAP
mailboxes and the daemon's log.

| input                                               | outcome                                            |
|-----------------------------------------------------|----------------------------------------------------|
| UTF-8 body with emoji                               | relayed, readable in the room                      |
| ISO-8859-1 body (8bit)                              | relayed, readable                                  |
| Windows-1252 body (curly quotes, en dash, euro)     | relayed, readable                                  |
| Shift_JIS body (8bit)                               | relayed, readable                                  |
| ISO-2022-JP body (7bit)                             | relayed, readable                                  |
| undeclared 8-bit body (UTF-8 bytes, no charset)     | relayed, readable (UTF-8 guessed)                  |
| lying charset: "us-ascii" over UTF-8 bytes          | relayed, readable (UTF-8 tried next)               |
| lying charset: "utf-8" over Windows-1252 bytes      | relayed, readable (Windows-1252 tried next)        |
| RFC 2047 Subject and From name                      | relayed; subject decoded, author recognised        |
| RFC 2231 continued, encoded attachment filename     | relayed; the file is in the room under its name    |
| 20 MB mail (19 MB attachment): test_large_files.py  | text relayed, file a link; daemon keeps running    |
| 10,000 addresses in To                              | relayed once to the room and once per member; each |
|                                                     | copy's To names the list only; the log stays quiet |
| no MIME at all (minimal header, 8-bit body)         | relayed with a best-effort text                    |
| raw bytes without any header                        | held for a convener (no known author): a notice in |
|                                                     | the room, a log line; not mailed, nothing dead     |
| Matrix: malformed, 10,000-deep formatted_body       | relayed; mail carries the text, no script link     |
| Matrix: unknown msgtype                             | not relayed; a log line names it                   |

After each corpus a normal message still goes through (the daemon is alive) and
``icop outbox list --state dead`` is empty.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from email.header import Header
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import pytest
from nio import AsyncClient, RoomSendResponse

from bridge.devstack.stack import Stack
from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_relay import mail_from

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
MatrixClient = Callable[[MatrixUser], AsyncClient]


def raw_mail(
    bridge: RunningBridge, who: str, subject: str | bytes, body: bytes, *headers: bytes, mime: bool = True
) -> bytes:
    """A mail as exact bytes: nothing re-encodes what the case is about."""
    member = bridge.community.member(who)
    head = [
        f"From: {member.name} <{member.email}>".encode(),
        f"To: {bridge.community.list_address}".encode(),
        b"Subject: " + (subject.encode() if isinstance(subject, str) else subject),
        f"Message-ID: {make_msgid(domain='example.test')}".encode(),
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000",
    ]
    if mime:
        head.append(b"MIME-Version: 1.0")
    return b"\r\n".join([*head, *headers]) + b"\r\n\r\n" + body


async def send_raw(stack: Stack, bridge: RunningBridge, data: bytes, sender: str | None = None) -> None:
    """Send bytes as they are, to the list address only (never to the addresses named in To)."""
    refused, _ = await aiosmtplib.send(
        data,
        sender=sender or bridge.community.member("siobhan").email,
        recipients=[bridge.community.list_address],
        hostname=stack.smtp_host,
        port=stack.smtp_port,
        timeout=60,
    )
    assert not refused


def outbox_dead(bridge: RunningBridge) -> str:
    config = str(bridge.community.config_path)
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--config", config, "outbox", "list", "--state", "dead", "--json"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def alive(bridge: RunningBridge) -> bool:
    return bridge.process is not None and bridge.process.poll() is None


def _event_with(events: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    return next((e for e in events if text in e["content"].get("body", "")), None)


def _plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


TEXT_PLAIN = b"Content-Type: text/plain; charset="
CHARSET_CORPUS: list[tuple[str, str, list[bytes], bytes, str]] = [
    # id, subject, headers, body, what the room must show
    ("utf8-emoji", "utf8", [TEXT_PLAIN + b"utf-8", b"Content-Transfer-Encoding: 8bit"],
     "Olá 👋 café ☕".encode(), "Olá 👋 café ☕"),
    ("iso-8859-1", "latin1", [TEXT_PLAIN + b"iso-8859-1", b"Content-Transfer-Encoding: 8bit"],
     "Grüße aus Köln".encode("latin-1"), "Grüße aus Köln"),
    ("windows-1252", "cp1252", [TEXT_PLAIN + b"windows-1252", b"Content-Transfer-Encoding: 8bit"],
     "“Smart” quotes – €5".encode("cp1252"), "“Smart” quotes – €5"),
    ("shift_jis", "sjis", [TEXT_PLAIN + b"Shift_JIS", b"Content-Transfer-Encoding: 8bit"],
     "会議は明日です".encode("shift_jis"), "会議は明日です"),
    ("iso-2022-jp", "jis", [TEXT_PLAIN + b"ISO-2022-JP", b"Content-Transfer-Encoding: 7bit"],
     "予定を確認しました".encode("iso-2022-jp"), "予定を確認しました"),
    ("undeclared-8bit", "undeclared", [b"Content-Type: text/plain", b"Content-Transfer-Encoding: 8bit"],
     "naïve façade".encode(), "naïve façade"),
    ("lying-us-ascii", "lying ascii", [TEXT_PLAIN + b"us-ascii", b"Content-Transfer-Encoding: 8bit"],
     "déjà vu".encode(), "déjà vu"),
    ("lying-utf-8", "lying utf8", [TEXT_PLAIN + b"utf-8", b"Content-Transfer-Encoding: 8bit"],
     "Ça va très bien".encode("cp1252"), "Ça va très bien"),
]  # fmt: skip


async def test_charset_corpus_arrives_readable_in_the_room(
    bridge_factory: BridgeFactory, stack: Stack, read_mailbox: ReadMailbox
) -> None:
    """Every charset case, RFC 2047 headers and an RFC 2231 filename: readable in the room."""
    bridge = await bridge_factory()
    mails = [
        raw_mail(bridge, "siobhan", f"charset {subject}", body, *headers)
        for _, subject, headers, body, _ in CHARSET_CORPUS
    ]
    encoded_subject = Header("Überraschung 🎉 encoded", "utf-8").encode().encode()
    mails.append(
        raw_mail(bridge, "siobhan", encoded_subject, b"Encoded words in the headers.")
        .replace("From: Siobhán Murphy".encode(), b"From: =?ISO-8859-1?Q?Siobh=E1n_Murphy?=")
    )  # fmt: skip
    mails.append(
        raw_mail(
            bridge,
            "siobhan",
            "charset rfc2231",
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNotes attached.\r\n"
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Disposition: attachment;\r\n filename*0*=UTF-8''%E4%BC%9A%E8%AD%B0;\r\n"
            b" filename*1*=%E3%83%A1%E3%83%A2.txt\r\n\r\nmemo\r\n--b--\r\n",
            b'Content-Type: multipart/mixed; boundary="b"',
        )
    )
    started = time.monotonic()
    for mail in mails:
        await send_raw(stack, bridge, mail)
    events = await bridge.wait_for_bot_events(len(mails) + 1, timeout=60)  # + the RFC 2231 file
    elapsed = time.monotonic() - started

    unreadable = [case for case, *_, shown in CHARSET_CORPUS if _event_with(events, shown) is None]
    assert not unreadable, [e["content"]["body"] for e in events]
    encoded = _event_with(events, "Encoded words in the headers.")
    assert encoded is not None
    assert "Überraschung 🎉 encoded" in encoded["content"]["body"]
    assert "Siobhán Murphy" in encoded["content"]["body"]  # the member, by the roster's name
    [memo] = [e for e in events if e["content"]["msgtype"] == "m.file"]
    assert memo["content"]["filename"] == "会議メモ.txt"
    assert all("\ufffd" not in e["content"].get("body", "") for e in events)

    await _still_relays(bridge, stack, read_mailbox, expected_mails=len(mails) - 1)
    print(f"charset corpus: {len(mails)} mails in the room after {elapsed:.1f} s")


async def test_mail_to_10000_recipients_is_relayed_once(
    bridge_factory: BridgeFactory, stack: Stack, read_mailbox: ReadMailbox
) -> None:
    """10,000 addresses in To → one post in the room, one copy per member, To naming the list only."""
    bridge = await bridge_factory()
    crowd = ",\r\n ".join(f"r{n:05d}@crowd.example.test" for n in range(9_999))
    mail = raw_mail(bridge, "siobhan", "To everyone", b"A mail to ten thousand people.\r\n").replace(
        f"To: {bridge.community.list_address}".encode(),
        f"To: {bridge.community.list_address},\r\n {crowd}".encode(),
    )
    assert len(mail) > 250_000
    started = time.monotonic()
    await send_raw(stack, bridge, mail)
    [post] = await bridge.wait_for_bot_events(1, timeout=60)
    elapsed = time.monotonic() - started
    assert "A mail to ten thousand people." in post["content"]["body"]
    assert "crowd.example.test" not in str(post["content"])

    priya = bridge.community.member("priya").email
    [copy] = await read_mailbox(priya)
    assert copy["To"] == f"Project Management Practice <{bridge.community.list_address}>"
    assert "crowd.example.test" not in copy.as_string()
    assert len(copy.as_bytes()) < 30_000
    await asyncio.sleep(3)  # long enough for a second copy or post to show up, if one were coming
    assert len(bridge.bot_events()) == 1
    assert len(await read_mailbox(priya)) == 1
    assert bridge.log().count("crowd.example.test") == 0
    assert alive(bridge)
    assert outbox_dead(bridge) == ""
    print(f"10,000-recipient mail: in the room after {elapsed:.1f} s")


async def test_mail_that_is_not_mime(
    bridge_factory: BridgeFactory, stack: Stack, read_mailbox: ReadMailbox
) -> None:
    """No MIME headers at all → relayed with a best-effort text; bytes without any header (the list
    is known from the envelope, the author is not) → held for a convener, as any unknown sender's
    post: a notice in the room and a log line; nothing is mailed and nothing is dead."""
    bridge = await bridge_factory()
    minimal = raw_mail(
        bridge, "siobhan", "no mime", "Plain old text from 1995, été.\r\n".encode("latin-1"), mime=False
    ).replace(b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n", b"")
    headerless = b"\xff\xfe\x00 garbage without any header \x80\x81\r\nsecond line\r\n"
    await send_raw(stack, bridge, headerless)
    [held] = await bridge.wait_for_bot_events(1)
    assert held["content"]["msgtype"] == "m.notice"
    assert held["content"]["body"].startswith("Held for a convener: post 1 (by email).")
    await send_raw(stack, bridge, minimal)
    [_, post] = await bridge.wait_for_bot_events(2)
    assert "Plain old text from 1995, été." in post["content"]["body"]
    assert "post held" in bridge.log()
    assert alive(bridge)
    assert outbox_dead(bridge) == ""
    await _still_relays(bridge, stack, read_mailbox, expected_mails=1)


async def test_hostile_matrix_events(
    bridge_factory: BridgeFactory,
    stack: Stack,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
) -> None:
    """A malformed, 10,000-deep formatted_body → relayed as text; an unknown msgtype → not relayed,
    logged; then chat and mail still go through both ways and nothing is dead."""
    bridge = await bridge_factory(extra_config='[logging]\nlevel = "debug"\n')
    kenji = bridge.community.member("kenji").matrix
    assert kenji is not None
    client = matrix_client(kenji)
    room = bridge.community.room_id
    malformed = {
        "msgtype": "m.text",
        "body": "Unclosed tags and deep nesting survive",
        "format": "org.matrix.custom.html",
        "formatted_body": "<b>Unclosed <i>tags <a href='javascript:alert(1)'>and "
        + "<div>" * 10_000  # 10,000 deep, within the 64 KiB event limit
        + "deep nesting survive<table><tr><td><script>alert(2)",
    }
    unknown = {"msgtype": "com.example.poll", "body": "Poll: lunch at noon?"}
    for content in (malformed, unknown):
        sent = await client.room_send(room, "m.room.message", content)
        assert isinstance(sent, RoomSendResponse), sent
    unknown_event = sent.event_id

    priya = bridge.community.member("priya").email
    [copy] = await read_mailbox(priya, timeout=60)
    text = _plain(copy)
    assert "deep nesting survive" in text
    assert "javascript:" not in copy.as_string()
    assert "alert(2)" not in copy.as_string()
    await wait_for(lambda: unknown_event in bridge.log(), 10, "the log line about the unknown msgtype")
    [line] = [line for line in bridge.log().splitlines() if unknown_event in line]
    assert "not relayed" in line
    assert alive(bridge)
    await _still_relays(bridge, stack, read_mailbox, expected_mails=1, client=client)
    assert all("Poll: lunch" not in _plain(m) for m in await read_mailbox(priya, 3))


async def _still_relays(
    bridge: RunningBridge,
    stack: Stack,
    read_mailbox: ReadMailbox,
    *,
    expected_mails: int,
    client: AsyncClient | None = None,
) -> None:
    """A normal mail reaches the room and a normal chat message reaches the mailboxes; nothing dead.

    ``expected_mails`` is how many mails priya had before."""
    before = len(bridge.bot_events())
    mail = mail_from(bridge, "siobhan", "Still here", "A normal mail after the corpus.")
    await send_raw(stack, bridge, mail.as_bytes())
    events = await bridge.wait_for_bot_events(before + 1)
    assert _event_with(events, "A normal mail after the corpus.")
    priya = bridge.community.member("priya").email
    if client is not None:
        sent = await client.room_send(
            bridge.community.room_id, "m.room.message", {"msgtype": "m.text", "body": "A normal chat line."}
        )
        assert isinstance(sent, RoomSendResponse), sent
        mails = await read_mailbox(priya, expected_mails + 2)
        assert any("A normal chat line." in _plain(m) for m in mails)
    else:
        await read_mailbox(priya, expected_mails + 1)
    assert alive(bridge)
    assert outbox_dead(bridge) == ""
