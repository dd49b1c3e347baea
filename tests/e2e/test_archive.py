"""Tags and practices end to end: hashtags and [tags] by mail, room commands in the thread, a core
member's Tags: line by mail (obeyed, not relayed), #practice proposed and told in the thread, then
the command line and the exported catalogue — read from Synapse, the mailboxes and the files."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient

from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge, wait_for
from tests.e2e.test_moderation import icop, notices
from tests.e2e.test_relay import mail_from, send_in_thread, thread_root_of

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
SendMail = Callable[..., Awaitable[None]]
MatrixClient = Callable[[MatrixUser], AsyncClient]

TAXONOMY = """
[[community.taxonomy]]
tag = "estimation"
label = "Estimation"
description = "Sizing work and forecasting."
aliases = ["estimates"]

[[community.taxonomy]]
tag = "retrospectives"
label = "Retrospectives"
aliases = ["retro"]
"""


async def answer(bridge: RunningBridge, starts: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = await wait_for(
        lambda: [n for n in notices(bridge) if n["content"]["body"].startswith(starts)],
        30,
        f"a notice starting {starts!r}",
    )
    return found[0]


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def lines(done: Any) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_tags_and_practices_in_the_room_by_mail_and_in_the_catalogue(
    bridge_factory: BridgeFactory,
    send_mail: SendMail,
    read_mailbox: ReadMailbox,
    matrix_client: MatrixClient,
    tmp_path: Path,
) -> None:
    bridge = await bridge_factory(community_config=TAXONOMY)
    community = bridge.community
    ana, kenji = community.member("ana"), community.member("kenji")
    assert ana.matrix is not None
    assert kenji.matrix is not None

    # Siobhán asks by mail, with a hashtag and a [tag] in the subject.
    await send_mail(mail_from(bridge, "siobhan", "[risk] Sizing work", "How do you size work? #Estimates"))
    [root] = await bridge.wait_for_bot_events(1)
    thread_event = root["event_id"]

    # In the room, Ana files the thread by hand and Kenji makes it a practice with a summary.
    await send_in_thread(matrix_client(ana.matrix), community.room_id, thread_event, "!icop tag kanban")
    filed = await answer(bridge, "Filed this thread under #kanban.")
    assert thread_root_of(filed) == thread_event
    kenji_client = matrix_client(kenji.matrix)
    await send_in_thread(kenji_client, community.room_id, thread_event, "!icop practice Planning poker")
    confirmed = await answer(bridge, "This thread is now a practice of Project Management Practice")
    assert "/c/pm-practice/t/" in confirmed["content"]["body"]
    await send_in_thread(
        kenji_client, community.room_id, thread_event, "!icop summary Everyone estimates at once, then talks."
    )
    await answer(bridge, "Wrote the summary of “Planning poker”.")

    # Kenji (core) answers by mail with a Tags: line: obeyed, and not what the list or the room get.
    [to_kenji] = await read_mailbox(kenji.email, 1)
    await send_mail(
        mail_from(
            bridge,
            "kenji",
            "Re: [pm-practice] [risk] Sizing work",
            "Tags: retro\n\nWe also hold a short retro after each estimate.",
            In_Reply_To=to_kenji["Message-ID"],
        )
    )
    replies = await wait_for(
        lambda: [e for e in bridge.bot_events() if "short retro" in e["content"]["body"]],
        30,
        "Kenji's reply in the room",
    )
    assert "Tags:" not in replies[0]["content"]["body"]
    assert thread_root_of(replies[0]) == thread_event
    priya_mail = await read_mailbox(community.member("priya").email, 2)
    reply_mail = next(m for m in priya_mail if "short retro" in body(m))
    assert "Tags:" not in body(reply_mail)

    # Priya proposes another thread with #practice; the room is told in that thread.
    await send_mail(
        mail_from(bridge, "priya", "Async stand-ups", "We write stand-ups in a thread. #practice")
    )
    proposal = await answer(bridge, "Priya Raman proposed this thread as a practice.")
    second_root = next(e for e in bridge.bot_events() if "stand-ups in a thread" in e["content"]["body"])
    assert thread_root_of(proposal) == second_root["event_id"]

    tags = {t["tag"]: t for t in lines(icop(bridge, "tags", "--community", "pm-practice", "--json"))}
    assert {name: (t["threads"], t["practices"]) for name, t in tags.items()} == {
        "estimation": (1, 1),
        "kanban": (1, 1),
        "retrospectives": (1, 1),
        "risk": (1, 1),
    }
    assert tags["estimation"]["label"] == "Estimation"
    assert tags["estimation"]["taxonomy"] is True
    assert tags["risk"]["taxonomy"] is False
    practices = {
        p["title"]: p for p in lines(icop(bridge, "practices", "--community", "pm-practice", "--json"))
    }
    assert practices["Planning poker"]["state"] == "confirmed"
    assert practices["Planning poker"]["summary"] == "Everyone estimates at once, then talks."
    assert sorted(practices["Planning poker"]["tags"]) == ["estimation", "kanban", "retrospectives", "risk"]
    assert practices["Async stand-ups"]["state"] == "proposed"
    assert practices["Async stand-ups"]["proposed_by"] == community.member("priya").email

    out = tmp_path / "catalogue"
    exported = icop(bridge, "export", "catalogue", "--community", "pm-practice", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    html = (out / "index.html").read_text()
    markdown = (out / "catalogue.md").read_text()
    url = practices["Planning poker"]["url"]
    assert f'href="{url}"' in html
    assert "Everyone estimates at once, then talks." in html
    assert "Contributors: Siobhán Murphy, Kenji Watanabe" in html
    assert "Async stand-ups" not in html  # only proposed
    assert "### Planning poker" in markdown
    assert f"- Discussion: [\\[risk\\] Sizing work]({url})" in markdown
    assert icop(bridge, "export", "catalogue", "--community", "nope", "--out", str(out)).returncode == 2
