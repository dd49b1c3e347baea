"""The convener's tools end to end on the real servers, one daemon for the whole scenario: newcomers
welcomed by mail and in the room, a meeting reminder in the room (UTC and the main zones) and by mail
(each member's own time, a ``text/calendar`` invitation), a value story told in the meeting's notes
thread reaching the list, then ``icop stories`` and ``icop audit`` — read from Synapse, Dovecot and the
command line."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from nio import AsyncClient

from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_moderation import icop
from tests.e2e.test_relay import send_in_thread, thread_root_of

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
MatrixClient = Callable[[MatrixUser], AsyncClient]


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


async def bot_event(
    bridge: RunningBridge, wanted: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The first event of the bot whose content is ``wanted``, waiting for it."""
    found = await wait_for(lambda: [e for e in bridge.bot_events() if wanted(e["content"])], 45, what)
    return found[0]  # type: ignore[no-any-return]


def lines(done: Any) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_welcomes_a_meeting_reminder_with_its_invitation_and_a_story(
    bridge_factory: BridgeFactory,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
    matrix_user: Callable[..., MatrixUser],
) -> None:
    # A weekly call three hours from now (UTC), reminded a day ahead: the reminder is due at start.
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    meeting = f"""
[[community.meeting]]
id = "practice-call"
title = "Practice call"
first = {start.date().isoformat()}
slots = ["{start:%H:%M}"]
time_zone = "UTC"
call_url = "https://meet.example.org/pm"
reminder_hours = [24]
"""
    bridge = await bridge_factory(community_config=meeting, welcome=True)
    community = bridge.community
    siobhan, priya, kenji = community.member("siobhan"), community.member("priya"), community.member("kenji")
    assert kenji.matrix is not None

    # Every roster member is new to this fresh bridge: each gets one welcome by mail.
    reminder_event = await bot_event(bridge, lambda c: "Practice call" in c["body"], "the reminder")
    body = reminder_event["content"]["body"]
    assert f"{start:%H:%M}–{start + timedelta(hours=1):%H:%M} UTC" in body
    assert "In the main time zones:" in body
    assert "Kolkata" in body
    assert "Tokyo" in body
    assert "This thread holds the meeting's notes" in body

    priya_mail = await read_mailbox(priya.email, 2)
    welcome = next(m for m in priya_mail if "Welcome to" in str(m["Subject"]))
    assert "Who runs it: Ana Souza (convener), with Kenji Watanabe (core team)." in plain(welcome)
    assert f"{community.list_address.partition('@')[0]}+request@" in plain(welcome)
    reminder = next(m for m in priya_mail if "Meeting: Practice call" in str(m["Subject"]))
    local = start + timedelta(hours=5, minutes=30)
    assert f"For you: {local:%A} {local.day} {local:%B %Y}, {local:%H:%M}–" in plain(reminder)
    assert "(Asia/Kolkata, UTC+05:30)" in plain(reminder)
    [calendar_part] = [p for p in reminder.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_part.get_param("method") == "PUBLISH"
    payload = calendar_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    [event] = icalendar.Calendar.from_ical(payload).walk("VEVENT")
    assert event.decoded("dtstart") == start
    assert str(event["location"]) == "https://meet.example.org/pm"
    assert any(p.get_filename() == "invite.ics" for p in reminder.iter_attachments())

    # A visitor joins the room: welcomed there, told how to become a member.
    visitor = matrix_user("visitor")
    visitor_client = matrix_client(visitor)
    await visitor_client.join(community.room_id)
    greeting = await bot_event(
        bridge, lambda c: visitor.user_id in c.get("m.mentions", {}).get("user_ids", []), "the welcome"
    )
    assert "Only members take part in this room's conversation" in greeting["content"]["body"]

    # Kenji tells a story in the meeting's thread: the list hears it, the archive keeps it.
    await send_in_thread(
        matrix_client(kenji.matrix),
        community.room_id,
        reminder_event["event_id"],
        "!icop story Last call's estimation round cut our sprint overrun in half.",
    )
    answer = await bot_event(bridge, lambda c: c["body"].startswith("Thank you, Kenji"), "the answer")
    assert thread_root_of(answer) == reminder_event["event_id"]
    siobhan_mail = await read_mailbox(siobhan.email, 3)
    told = next(m for m in siobhan_mail if "sprint overrun" in plain(m))
    assert str(told["Subject"]).startswith("Re: [pm-practice] Meeting: Practice call")

    [story] = lines(icop(bridge, "stories", "--community", community.slug, "--json"))
    assert story["author"] == "Kenji Watanabe"
    assert story["text"] == "Last call's estimation round cut our sprint overrun in half."
    events = lines(icop(bridge, "audit", "--community", community.slug, "--json"))
    actions = {(e["actor"], e["action"]) for e in events}
    assert ("config", "member.add") in actions
    assert ("icop-bridge", "tag.add") in actions  # the notes thread filed under meeting
    assert all(e["community"] == community.slug for e in events)
