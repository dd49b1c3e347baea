"""Imports beside a running daemon: a room's history and a list archive, on the real servers.

One scenario, one daemon. Before the daemon first runs, the room gets a history it will never relay
(a question, a threaded answer, a message edited, one redacted, a reaction, a file, a bot command).
With ``icop run`` relaying, a live chat message and a live mail are stored by the relay. Then, as
processes beside the daemon:

- ``icop import matrix`` → the history's posts imported (thread, latest text with its revisions,
  reaction counted, file kept), the redacted message skipped, the live message already stored;
  run again → everything already stored;
- ``icop import mbox`` with the live mail and two new ones → the live mail already stored, the reply
  threaded under it;

and through all of it nothing is sent: the room's events and the members' mailboxes are counted on
the servers before and after.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, RoomSendResponse, UploadResponse

from bridge.devstack.community import DemoCommunity
from bridge.devstack.synapse import MatrixUser
from tests.e2e.conftest import RunningBridge
from tests.e2e.test_relay import mail_from, send_in_thread
from tests.fixtures.servers import Mailbox

pytestmark = pytest.mark.servers

BridgeFactory = Callable[..., Awaitable[RunningBridge]]
SendMail = Callable[..., Awaitable[None]]
ReadMailbox = Callable[..., Awaitable[list[EmailMessage]]]
MatrixClient = Callable[[MatrixUser], AsyncClient]
QUIET_SECONDS = 4.0  # after an import: long enough for the daemon to have sent anything it wrongly queued


async def _send(
    client: AsyncClient, room_id: str, content: dict[str, Any], kind: str = "m.room.message"
) -> str:
    response = await client.room_send(room_id, kind, content)
    assert isinstance(response, RoomSendResponse), response
    return str(response.event_id)


def _icop(community: DemoCommunity, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "--config", str(community.config_path), "import", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _rows(community: DemoCommunity, sql: str, *params: object) -> list[sqlite3.Row]:
    with sqlite3.connect(community.database_path, timeout=30) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(sql, params))


async def _mail_counts(imap_mailbox: Callable[[str], Mailbox], community: DemoCommunity) -> dict[str, int]:
    counts = {}
    for key in ("siobhan", "priya"):
        async with imap_mailbox(community.member(key).email) as inbox:
            counts[key] = inbox.exists
    return counts


async def test_history_and_archive_imported_beside_the_relay_double_nothing_send_nothing(
    bridge_factory: BridgeFactory,
    matrix_client: MatrixClient,
    send_mail: SendMail,
    read_mailbox: ReadMailbox,
    imap_mailbox: Callable[[str], Mailbox],
    tmp_path: Path,
) -> None:
    history: dict[str, str] = {}

    async def write_history(community: DemoCommunity) -> None:
        ana, kenji = community.member("ana").matrix, community.member("kenji").matrix
        assert ana is not None
        assert kenji is not None
        a, k = matrix_client(ana), matrix_client(kenji)
        room = community.room_id
        history["root"] = await _send(
            a, room, {"msgtype": "m.text", "body": "How do you run retrospectives?"}
        )
        history["answer"] = await send_in_thread(k, room, history["root"], "Start, stop, continue.")
        history["typo"] = await _send(a, room, {"msgtype": "m.text", "body": "We use the starfsh formt"})
        await _send(
            a,
            room,
            {
                "msgtype": "m.text",
                "body": "* We use the starfish format",
                "m.new_content": {"msgtype": "m.text", "body": "We use the starfish format"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": history["typo"]},
            },
        )
        history["gone"] = await _send(k, room, {"msgtype": "m.text", "body": "wrong room, sorry"})
        await k.room_redact(room, history["gone"], reason="wrong room")
        await _send(
            k,
            room,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": history["root"], "key": "👍"}},
            "m.reaction",
        )
        sheet = b"format,votes\nstarfish,4\nsailboat,2\n"
        upload, _ = await a.upload(
            lambda *_: sheet, content_type="text/csv", filename="votes.csv", filesize=len(sheet)
        )
        assert isinstance(upload, UploadResponse), upload
        history["file"] = await _send(
            a,
            room,
            {
                "msgtype": "m.file",
                "body": "votes.csv",
                "filename": "votes.csv",
                "url": upload.content_uri,
                "info": {"mimetype": "text/csv", "size": len(sheet)},
            },
        )
        await _send(a, room, {"msgtype": "m.text", "body": "!icop help"})

    bridge = await bridge_factory(before_start=write_history)
    community = bridge.community
    ana = community.member("ana").matrix
    assert ana is not None
    live_event = await _send(
        matrix_client(ana), community.room_id, {"msgtype": "m.text", "body": "Live, relayed."}
    )
    await read_mailbox(community.member("siobhan").email, 1)
    live_mail = mail_from(bridge, "siobhan", "Sprint reviews", "How long are your sprint reviews?")
    await send_mail(live_mail)
    await bridge.wait_for_bot_events(1)
    await read_mailbox(community.member("priya").email, 2)
    room_before = len(bridge.room_events())
    mail_before = await _mail_counts(imap_mailbox, community)

    done = _icop(community, "matrix", "--community", community.slug)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "imported 4, already stored 1, failed 0", done.stdout + done.stderr
    assert "edits 1, redactions 0, reactions 1" in lines
    assert f"{history['gone']}: skipped: redacted" in done.stderr

    posts = {
        row["matrix_event_id"]: row
        for row in _rows(
            community, "SELECT * FROM post WHERE matrix_event_id IS NOT NULL AND origin_channel = 'matrix'"
        )
    }
    assert set(posts) == {history["root"], history["answer"], history["typo"], history["file"], live_event}
    assert posts[history["answer"]]["thread_id"] == posts[history["root"]]["thread_id"]
    assert posts[history["answer"]]["parent_id"] == posts[history["root"]]["id"]
    assert posts[history["typo"]]["body_text"] == "We use the starfish format"
    revisions = _rows(
        community,
        "SELECT body_text FROM post_revision WHERE post_id = ? ORDER BY revision",
        posts[history["typo"]]["id"],
    )
    assert [r["body_text"] for r in revisions] == ["We use the starfsh formt", "We use the starfish format"]
    assert posts[history["root"]]["reaction_count"] == 1
    [file_row] = _rows(community, "SELECT * FROM attachment WHERE post_id = ?", posts[history["file"]]["id"])
    assert file_row["url"].startswith("mxc://")
    assert file_row["data"] == b"format,votes\nstarfish,4\nsailboat,2\n"
    imported_ids = [posts[history[k]]["id"] for k in ("root", "answer", "typo", "file")]
    queued = _rows(
        community, f"SELECT COUNT(*) AS n FROM delivery WHERE post_id IN ({','.join('?' * 4)})", *imported_ids
    )
    assert queued[0]["n"] == 0

    again = _icop(community, "matrix", "--community", community.slug)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "imported 0, already stored 5, failed 0"
    later = _icop(community, "matrix", "--community", community.slug, "--since", "2999-01-01")
    assert later.returncode == 0, later.stderr
    assert later.stdout.strip().splitlines()[-1] == "imported 0, already stored 0, failed 0"

    reply = mail_from(
        bridge,
        "priya",
        "Re: Sprint reviews",
        "Ours take an hour.",
        In_Reply_To=str(live_mail["Message-ID"]),
        References=str(live_mail["Message-ID"]),
    )
    other = mail_from(bridge, "siobhan", "Estimation", "Old question from the archive.")
    for message, date in (
        (reply, "Tue, 05 Mar 2019 10:00:00 +0000"),
        (other, "Wed, 06 Mar 2019 10:00:00 +0000"),
    ):
        message["Date"] = date
    live_mail["Date"] = "Mon, 04 Mar 2019 10:00:00 +0000"
    archive = tmp_path / "archive.mbox"
    archive.write_bytes(
        b"".join(
            b"From someone@example.test Mon Mar  4 10:00:00 2019\n" + m.as_bytes() + b"\n"
            for m in (live_mail, reply, other)
        )
    )
    imported = _icop(community, "mbox", str(archive), "--community", community.slug)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().splitlines()[-1] == "imported 2, already stored 1, failed 0"
    by_message = {
        row["email_message_id"]: row
        for row in _rows(community, "SELECT * FROM post WHERE origin_channel = 'email'")
    }
    live_id, reply_id = (str(m["Message-ID"]).strip("<>") for m in (live_mail, reply))
    assert by_message[reply_id]["thread_id"] == by_message[live_id]["thread_id"]
    assert by_message[reply_id]["parent_id"] == by_message[live_id]["id"]

    await asyncio.sleep(QUIET_SECONDS)
    assert len(bridge.room_events()) == room_before
    assert await _mail_counts(imap_mailbox, community) == mail_before
    assert bridge.process is not None
    assert bridge.process.poll() is None  # the daemon ran beside both imports throughout
