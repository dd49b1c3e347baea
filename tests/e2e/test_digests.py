"""Digests end to end, on the real stack with ``icop run`` as a process: readers subscribe, confirm and
change by mail, in the room and on the web page; ``icop digest send-due`` sends each due digest once;
one-click unsubscribe stops the next one; feedback is recorded; a sender killed -9 in the middle of a
run sends no digest twice. What people received is read from their IMAP mailboxes and the room."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.core.digest.schedule import DigestSchedule, Frequency, next_slot
from tests.e2e.conftest import RunningBridge, wait_for

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
DAILY_AT_8 = '[community.digest]\nfrequency = "daily"\nhour = 8\n'


def icop(bridge: RunningBridge, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(bridge.community.config_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def members(bridge: RunningBridge) -> dict[str, dict[str, Any]]:
    done = icop(bridge, "members", "--community", bridge.community.slug, "--json")
    assert done.returncode == 0, done.stderr
    return {row["email"]: row for row in map(json.loads, done.stdout.splitlines())}


def base_url(bridge: RunningBridge) -> str:
    return str(tomllib.loads(bridge.community.config_path.read_text())["base_url"])


def request_address(bridge: RunningBridge, detail: str = "request") -> str:
    local, _, domain = bridge.community.list_address.partition("@")
    return f"{local}+{detail}@{domain}"


def mail(sender: str, to: str, subject: str, body: str = "", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.test")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body or "\n")
    return message


def http(url: str, data: dict[str, str] | bytes | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def digests(messages: list[EmailMessage]) -> list[EmailMessage]:
    return [m for m in messages if "digest" in str(m["Subject"]).lower() and m["List-Unsubscribe-Post"]]


def say_in_room(bridge: RunningBridge, who: str, text: str, **content: Any) -> None:
    user = bridge.community.member(who).matrix
    assert user is not None
    room = urllib.parse.quote(bridge.community.room_id)
    request = urllib.request.Request(
        f"{bridge.stack.homeserver_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/t{time.monotonic_ns()}",
        data=json.dumps({"msgtype": "m.text", "body": text, **content}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {user.access_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def next_daily_slot(zone: str = "Europe/Dublin") -> datetime:
    """The next 08:00 in the community's zone: a daily period ending there holds what is sent now."""
    return next_slot(DigestSchedule(Frequency.DAILY, hour=8), ZoneInfo(zone), datetime.now(UTC))


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_subscribe_confirm_change_digest_and_unsubscribe_by_mail_room_and_web(
    bridge_factory: BridgeFactory,
    send_mail: SendMail,
    read_mailbox: ReadMailbox,
    mail_address: Callable[..., str],
) -> None:
    bridge = await bridge_factory(community_config=DAILY_AT_8)
    community = bridge.community
    siobhan, kenji = community.member("siobhan"), community.member("kenji")

    # Something to read: a question by mail, answered in the room's thread.
    question = mail(
        f"{siobhan.name} <{siobhan.email}>",
        community.list_address,
        "How do you estimate large projects?",
        "We keep missing by a factor of two on anything longer than a quarter. Do you size by analogy, "
        "by decomposition, or something else entirely? #estimation",
    )
    await send_mail(question)
    [root] = await bridge.wait_for_bot_events(1)
    say_in_room(
        bridge,
        "kenji",
        "Reference classes from the last three platform moves; then we widen the range.",
        **{"m.relates_to": {"rel_type": "m.thread", "event_id": root["event_id"]}},
    )
    await read_mailbox(siobhan.email, 1)  # Kenji's reply reached the list

    # By mail: Dee asks, gets a confirmation, replies to it, and is in.
    dee = mail_address("dee")
    await send_mail(mail(f"Dee Reader <{dee}>", request_address(bridge), "subscribe digest daily"))
    [confirmation] = await read_mailbox(dee, 1)
    assert "(confirm " in str(confirmation["Subject"])
    assert confirmation["Reply-To"].startswith(request_address(bridge, "confirm-").partition("@")[0])
    assert confirmation["Auto-Submitted"] == "auto-generated"
    assert members(bridge)[dee]["state"] == "pending"
    await send_mail(
        mail(
            dee,
            confirmation["Reply-To"],
            f"Re: {confirmation['Subject']}",
            "yes please",
            In_Reply_To=confirmation["Message-ID"],
        )
    )
    welcome = (await read_mailbox(dee, 2))[-1]
    assert "Welcome to Project Management Practice" in text_of(welcome)
    row = members(bridge)[dee]
    assert (row["state"], row["role"], row["delivery"], row["digest_frequency"], row["source"]) == (
        "active", "reader", "digest", "daily", "self",
    )  # fmt: skip
    await send_mail(mail(dee, request_address(bridge), "follow estimation"))
    follow = (await read_mailbox(dee, 3))[-1]
    assert "You follow #estimation." in text_of(follow)

    # In the room: Kenji, who gets every post, adds a daily digest; the answer comes in the room.
    say_in_room(bridge, "kenji", "!icop digest daily")
    notices = await wait_for(
        lambda: [e for e in bridge.bot_events() if "daily digest" in e["content"].get("body", "")],
        30,
        "answer",
    )
    assert notices[0]["content"]["msgtype"] == "m.notice"
    assert "You receive every post by mail." in notices[0]["content"]["body"]
    assert (members(bridge)[kenji.email]["delivery"], members(bridge)[kenji.email]["digest_frequency"]) == (
        "both",
        "daily",
    )

    # On the web page: Fay subscribes; the link's GET only shows a button; its POST confirms.
    fay = mail_address("fay")
    page = f"{base_url(bridge)}/c/{community.slug}/subscribe"
    status, body = http(page)
    assert status == 200
    assert 'name="email"' in body
    status, body = http(page, {"action": "form", "email": fay, "name": "Fay", "delivery": "digest",
                               "frequency": "daily", "time_zone": "Asia/Kolkata"})  # fmt: skip
    assert (status, "Check your mail" in body) == (200, True)
    [fay_confirmation] = await read_mailbox(fay, 1)
    link = next(
        line.split(": ", 1)[1] for line in text_of(fay_confirmation).splitlines() if "?confirm=" in line
    )
    status, body = http(link)
    assert (status, "Confirm my subscription" in body, members(bridge)[fay]["state"]) == (
        200,
        True,
        "pending",
    )
    code = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["confirm"][0]
    status, body = http(link, {"action": "confirm", "code": code})
    assert (status, "You are subscribed" in body, members(bridge)[fay]["state"]) == (200, True, "active")
    await read_mailbox(fay, 2)  # the welcome

    # The run: each due digest once; a second run at the same time sends nothing.
    # Past every reader's next 08:00 (Dee in Dublin, Fay in Kolkata, Kenji in Tokyo): all are due.
    slot = max(next_daily_slot(zone) for zone in ("Europe/Dublin", "Asia/Kolkata", "Asia/Tokyo"))
    dry = icop(bridge, "digest", "send-due", "--dry-run", "--now", at(slot + timedelta(minutes=1)))
    assert dry.returncode == 0, dry.stderr
    assert sum(line.startswith("would send: ") for line in dry.stdout.splitlines()) == 3, dry.stdout
    assert icop(bridge, "digest", "send-due", "--now", "2026-03-09T08:00").returncode == 2  # no zone
    done = icop(bridge, "digest", "send-due", "--now", at(slot + timedelta(minutes=1)))
    assert done.returncode == 0, done.stderr
    sent = sorted(line for line in done.stdout.splitlines() if line.startswith("sent: "))
    assert len(sent) == 3, done.stdout
    assert all(any(who in line for line in sent) for who in (dee, fay, kenji.email))
    again = icop(bridge, "digest", "send-due", "--now", at(slot + timedelta(minutes=2)))
    assert (again.returncode, again.stdout) == (0, "")

    dee_digest = digests(await read_mailbox(dee, 4))
    assert len(dee_digest) == 1
    digest = dee_digest[0]
    assert str(digest["Subject"]) == "[pm-practice] Daily digest: How do you estimate large projects?"
    assert (digest["Precedence"], digest["List-Unsubscribe-Post"]) == ("bulk", "List-Unsubscribe=One-Click")
    assert digest["List-Id"].endswith(f"<{community.slug}.lists.example.test>")
    body_text = text_of(digest)
    assert "We keep missing by a factor of two" in body_text
    assert "by mail and in chat" in body_text
    assert f"/c/{community.slug}/t/" in body_text
    assert "Hello Dee Reader," in body_text
    assert len(digests(await read_mailbox(fay, 3))) == 1

    # One click from the digest: Dee's digests stop, and she is told by mail; a GET changes nothing.
    unsubscribe = digest["List-Unsubscribe"].split("<", 1)[1].split(">", 1)[0]
    kenji_digest = digests(await read_mailbox(kenji.email, 3))[0]
    kenji_unsubscribe = kenji_digest["List-Unsubscribe"].split("<", 1)[1].split(">", 1)[0]
    assert http(kenji_unsubscribe)[0] == 200
    assert members(bridge)[kenji.email]["delivery"] == "both"
    status, body = http(unsubscribe, b"List-Unsubscribe=One-Click")
    assert (status, "You are unsubscribed" in body) == (200, True)
    assert members(bridge)[dee]["delivery"] == "none"
    told = (await read_mailbox(dee, 5))[-1]
    assert "will no longer receive the digests" in text_of(told)

    # Feedback: a GET shows the button, the POST records the answer.
    useful = next(line.split(": ", 1)[1] for line in text_of(kenji_digest).splitlines() if "Yes: " in line)
    status, body = http(useful)
    assert (status, "Yes, it was useful" in body) == (200, True)
    status, body = http(useful, {})
    assert (status, "Your answer is recorded" in body) == (200, True)
    with sqlite3.connect(community.database_path) as db:
        assert db.execute("SELECT useful FROM digest_feedback").fetchall() == [(1,)]

    # The next day: a new thread (dated after the first run); Kenji and Fay get their digest, Dee
    # (unsubscribed) nothing.
    await send_mail(
        mail(
            f"{siobhan.name} <{siobhan.email}>",
            community.list_address,
            "Retro formats",
            "Which retrospective formats work for teams spread over eight time zones? " * 2,
            Date=format_datetime(slot + timedelta(minutes=1)),
        )
    )
    await bridge.wait_for_bot_events(2)
    done = icop(bridge, "digest", "send-due", "--now", at(slot + timedelta(days=1, minutes=1)))
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("sent: ") for line in done.stdout.splitlines()) == 2, done.stdout
    assert dee not in done.stdout
    await asyncio.sleep(1)
    assert len(digests(await read_mailbox(dee, 5))) == 1


async def test_a_sender_killed_during_a_run_sends_no_digest_twice(
    bridge_factory: BridgeFactory, send_mail: SendMail, read_mailbox: ReadMailbox
) -> None:
    """Sixty readers; ``send-due`` is killed -9 once some digests went out. The next run, after the
    killed sender's claims have run out, sends the rest: every reader has exactly one digest."""
    readers = [f"reader{n:02d}-{time.monotonic_ns() % 100_000}@example.test" for n in range(60)]
    roster = "".join(
        f'\n[[community.member]]\nname = "Reader {n}"\nemail = "{address}"\nrole = "reader"\n'
        for n, address in enumerate(readers)
    )
    bridge = await bridge_factory(community_config=DAILY_AT_8 + roster)
    siobhan = bridge.community.member("siobhan")
    await send_mail(
        mail(
            f"{siobhan.name} <{siobhan.email}>",
            bridge.community.list_address,
            "Risk registers",
            "Does anyone keep a risk register that people actually read? " * 3,
        )
    )
    await bridge.wait_for_bot_events(1)
    # Roster readers count as subscribed when the daemon first synced them: the slot after that.
    now = next_daily_slot() + timedelta(minutes=1)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge", "--config", str(bridge.community.config_path),
        "digest", "send-due", "--now", at(now),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    first: list[str] = []
    while len(first) < 15:
        line = (await process.stdout.readline()).decode()
        assert line, "send-due ended before it was killed"
        first.append(line)
    process.send_signal(signal.SIGKILL)
    rest, _ = await process.communicate()
    first += rest.decode().splitlines()
    assert sum(line.startswith("sent: ") for line in first) < len(readers)  # it died mid-run

    # Right after: the readers the dead sender never reached are sent now; those it had claimed stay
    # leased to it (it may have been half-way through one) until the lease runs out.
    soon = icop(bridge, "digest", "send-due", "--now", at(now + timedelta(minutes=1)))
    later = icop(bridge, "digest", "send-due", "--now", at(now + timedelta(minutes=12)))
    assert (soon.returncode, later.returncode) == (0, 0), soon.stderr + later.stderr
    sent_lines = [
        line for run in (first, soon.stdout.splitlines(), later.stdout.splitlines()) for line in run
        if line.startswith("sent: ")
    ]  # fmt: skip
    sent_to = [line.split(" digest to ", 1)[1].split(" ", 1)[0] for line in sent_lines]
    # No reader twice over the three runs (a digest finished just as the sender died is recorded but
    # not printed: the mailboxes below are the count that matters).
    assert len(sent_to) == len(set(sent_to))
    assert len(sent_to) >= len(readers) - 8  # at most the sender's concurrency was in flight
    counts = {}
    for address in readers:
        counts[address] = len(digests(await read_mailbox(address, 1)))
    await asyncio.sleep(1)  # a late duplicate would land within this
    for address in readers[:5]:
        counts[address] = len(digests(await read_mailbox(address, 1)))
    assert set(counts.values()) == {1}, {a: n for a, n in counts.items() if n != 1}
