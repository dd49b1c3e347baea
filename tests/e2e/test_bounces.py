"""Bounces end to end: delivery status notifications for a member's VERP address, sent through the
stack's Postfix into the list mailbox, until the member's list mail is suspended — read from the
members' IMAP mailboxes, Synapse's timeline and ``icop members --json``."""

from __future__ import annotations

import asyncio
import email
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from bridge.email.addresses import verp_address
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_relay import mail_from

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]


def dsn(bridge: RunningBridge, who: str, action: str, status: str, serial: int) -> EmailMessage:
    """A Postfix-style delivery status notification for list mail to ``who``, addressed to its VERP."""
    member = bridge.community.member(who)
    verp = verp_address(bridge.community.list_address, member.email)
    raw = f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.test>
To: {verp}
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn.{serial}.{member.email}@mx.example.test>
Date: Tue, 24 Nov 2026 10:00:0{serial} +0000
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-b"

--dsn-b
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--dsn-b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test

Final-Recipient: rfc822; {member.email}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{member.email}>: mailbox unavailable

--dsn-b--
""".replace("\n", "\r\n")
    message = email.message_from_string(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def members_json(bridge: RunningBridge) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge",
            "--config",
            str(bridge.community.config_path),
            "members",
            "--community",
            bridge.community.slug,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return {row["email"]: row for row in rows}


def subjects(messages: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in messages]


async def test_bounces_past_the_threshold_suspend_a_member_and_tell_everyone(
    bridge_factory: BridgeFactory, send_mail: SendMail, read_mailbox: ReadMailbox
) -> None:
    """Threshold 2: a delay warning counts 0, two 5.1.1 failures count 1 each; the second suspends
    Siobhán. She gets one last notice and no more list mail; Ana (the convener) gets a notice mail; the
    room shows a notice; `icop members --json` shows her suspended with score 2. No bounce is relayed."""
    bridge = await bridge_factory(extra_config="[mail]\nbounce_threshold = 2.0\n")
    community = bridge.community
    siobhan = community.member("siobhan")

    await send_mail(mail_from(bridge, "priya", "Before", "Agenda for Thursday."))
    await bridge.wait_for_bot_events(1)
    assert subjects(await read_mailbox(siobhan.email, 1)) == ["[pm-practice] Before"]

    verp = verp_address(community.list_address, siobhan.email)
    await send_mail(dsn(bridge, "siobhan", "delayed", "4.4.1", 1), recipients=[verp])
    await send_mail(dsn(bridge, "siobhan", "failed", "5.1.1", 2), recipients=[verp])
    row = await wait_for(
        lambda: (r := members_json(bridge)[siobhan.email])["bounce_score"] >= 1 and r, 30, "a first bounce"
    )
    assert (row["state"], row["bounce_score"]) == ("active", pytest.approx(1.0, abs=0.01))
    await send_mail(dsn(bridge, "siobhan", "failed", "5.1.1", 3), recipients=[verp])

    row = await wait_for(
        lambda: (r := members_json(bridge)[siobhan.email])["state"] == "suspended" and r, 30, "the suspension"
    )
    assert row["state_reason"] == "bounces"
    assert row["bounce_score"] == pytest.approx(2.0, abs=0.01)
    assert row["last_bounce_at"] is not None
    ana_row = members_json(bridge)[community.member("ana").email]
    assert (ana_row["state"], ana_row["bounce_score"]) == ("active", 0.0)

    notice = await wait_for(
        lambda: [e for e in bridge.bot_events() if e["content"].get("msgtype") == "m.notice"],
        30,
        "the room notice",
    )
    assert len(notice) == 1
    assert f"List mail to Siobhán Murphy <{siobhan.email}> is suspended" in notice[0]["content"]["body"]
    assert "org.icop.origin" in notice[0]["content"]

    ana_mail = await read_mailbox(community.member("ana").email, 2)
    paused = [m for m in ana_mail if "is paused" in str(m["Subject"])]
    assert subjects(paused) == ["[pm-practice] List mail to Siobhán Murphy is paused"]
    assert paused[0]["Auto-Submitted"] == "auto-generated"
    body = paused[0].get_body(("plain",))
    assert body is not None
    assert f"icop members reset-bounces {siobhan.email}" in body.get_content()
    to_siobhan = await read_mailbox(siobhan.email, 2)
    assert subjects(to_siobhan) == ["[pm-practice] Before", "[pm-practice] Your list mail is paused"]

    # List mail goes on to everyone else, not to her.
    await send_mail(mail_from(bridge, "priya", "After", "Minutes attached tomorrow."))
    await bridge.wait_for_bot_events(3)  # Before, the notice, After
    kenji = await read_mailbox(community.member("kenji").email, 2)
    assert "[pm-practice] After" in subjects(kenji)
    await asyncio.sleep(2)  # a late copy to her would land within this
    assert subjects(await read_mailbox(siobhan.email, 2)) == subjects(to_siobhan)

    relayed = [e["content"]["body"] for e in bridge.bot_events() if e["content"].get("msgtype") != "m.notice"]
    assert len(relayed) == 2
    assert not any("mail system" in text or "Undelivered" in text for text in relayed)
