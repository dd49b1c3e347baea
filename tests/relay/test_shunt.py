"""The shunt on both stores: real-world oversized mail is stored, a message failing in each layer is parked
while the next one is handled, and a parked message re-processed after the cause is gone is stored once.

| input (from a member, between good mails)      | what it gets                                            |
|------------------------------------------------|---------------------------------------------------------|
| 64 KB Subject folded over 900 lines            | stored; subject shortened to 998 characters             |
| 20 KB Message-ID                               | stored; found again by it (a replay is a duplicate)     |
| References with 5,000 ids                      | stored; the first 100 kept for threading                |
| 10 KB display name in From                     | stored; the roster's name is shown                      |
| 1 KB attachment file name                      | stored; name shortened to 180, extension kept           |
| 500-character attachment content type          | stored as application/octet-stream                      |
| parse fault (test marker)                      | parked at once (permanent), the next mail is handled    |
| store fault (test marker, after the insert)    | parked at once; nothing of it is left in the store      |
| handler fault (test marker)                    | raised twice (the inbox retries in order), then parked  |
| a transient failure (the database unreachable) | raised every time, never parked: retried in order       |
| the same mail parked again after a replay      | one parked row, attempts added, conveners told once     |
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.core.model import Channel
from bridge.email.inbox import FetchedMail
from bridge.matrix.from_matrix import convert_event
from bridge.matrix.sync import SyncLoop
from bridge.relay.faults import Faults, FaultStage
from bridge.relay.from_email import MailInbound
from bridge.relay.from_matrix import MatrixInbound
from bridge.relay.ingest import Ingestor
from bridge.relay.parked import ParkedNotices, ParkedWork
from bridge.relay.shunt import Shunt
from bridge.store import Database, NewParked, Store
from bridge.store.migrations import upgrade
from bridge.store.models import ParkedState
from tests.relay.test_ingest import KEY, community
from tests.unit.config.test_load import ENV, VALID
from tests.unit.matrix.test_sync_loop import ScriptedSession, joined, sync_answer
from tests.unit.matrix.test_sync_loop import message as sync_message

FAULTS = Faults(
    {FaultStage.PARSE: "BREAK-PARSER", FaultStage.STORE: "BREAK-STORE", FaultStage.HANDLER: "BREAK-HANDLER"}
)
FOLDED_SUBJECT = "\r\n ".join(f"part{n:04d} of a subject folded over many lines" for n in range(1_400))


def member_mail(
    text: str, *headers: str, subject: str = "Planning", sender: str = "siobhan@example.ie"
) -> bytes:
    head = [
        f"From: Siobhan <{sender}>",
        "To: pm@lists.example.com",
        f"Subject: {subject}",
        f"Message-ID: {make_msgid(domain='example.ie')}",
        "Date: Tue, 24 Nov 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        *headers,
    ]
    if not any(h.lower().startswith("content-type") for h in headers):
        head.append("Content-Type: text/plain; charset=utf-8")
    return ("\r\n".join(head) + "\r\n\r\n" + text).encode()


def attachment_mail(filename: str, content_type: str) -> bytes:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nA file.\r\n"
        f'--b\r\nContent-Type: {content_type}\r\nContent-Disposition: attachment; filename="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"
    )
    return member_mail(body, 'Content-Type: multipart/mixed; boundary="b"', subject="A file")


def fetched(raw: bytes, uid: int) -> FetchedMail:
    return FetchedMail(uid, 7, raw, (), None)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


async def posts(store: Store) -> list[Any]:
    return await store.db.fetch(
        'SELECT "id", "subject", "author_name", "body_text" FROM "post" ORDER BY "id"'
    )


async def setup(database: Database, faults: Faults) -> tuple[Store, MailInbound, Shunt, Counter]:
    store = Store(database)
    context = await community(store)
    told = Counter()
    inbound = MailInbound(
        store, Ingestor(store, KEY, faults=faults), lambda: {context.slug: context}, faults=faults
    )
    return store, inbound, Shunt(store.parked, on_parked=told), told


async def test_real_world_oversized_mail_is_stored(database: Database) -> None:
    store, inbound, shunt, told = await setup(database, Faults())
    handle = inbound.shunted(shunt, "imap:test")
    huge_id = "<" + "m" * 20_000 + "@example.ie>"
    mails = [
        member_mail("Folded subject.", subject=FOLDED_SUBJECT),
        member_mail("Huge Message-ID.").replace(
            b"Message-ID: <", b"Message-ID: " + huge_id.encode() + b"\r\nX-Old: <"
        ),
        member_mail(
            "Many references.", "References: " + "\r\n ".join(f"<r{n}@example.net>" for n in range(5_000))
        ),
        member_mail("Long name.").replace(b"From: Siobhan", b"From: " + b"N" * 10_000),
        attachment_mail("f" * 1_000 + ".pdf", "application/pdf"),
        attachment_mail("odd.bin", "application/x-" + "z" * 500),
    ]
    assert len(mails[0]) > 64_000
    for uid, raw in enumerate(mails, start=1):
        await handle(fetched(raw, uid))
    await handle(fetched(mails[1], 99))  # the same mail again: a duplicate, nothing new

    stored = await posts(store)
    assert len(stored) == len(mails)
    assert len(stored[0]["subject"]) == 998
    assert stored[0]["subject"].startswith("part0000 of a subject folded")
    assert stored[3]["author_name"] == "Siobhán Murphy"  # the roster's name, not the 10 KB one
    files = [await store.posts.attachments(row["id"]) for row in stored[4:]]
    assert [(len(f[0].filename), f[0].filename[-4:]) for f in files] == [(180, ".pdf"), (7, ".bin")]
    assert files[1][0].content_type == "application/octet-stream"
    assert await store.parked.find(None) == []
    assert told.calls == 0


async def test_each_layer_parks_its_message_and_the_next_one_is_handled(database: Database) -> None:
    store, inbound, shunt, told = await setup(database, FAULTS)
    handle = inbound.shunted(shunt, "imap:test")
    sequence = [
        member_mail("good one"),
        member_mail("BREAK-PARSER in the raw bytes"),
        member_mail("good two"),
        member_mail("BREAK-STORE in the text"),
        member_mail("good three"),
    ]
    for uid, raw in enumerate(sequence, start=1):
        await handle(fetched(raw, uid))  # permanent failures park without raising
    handler_fault = member_mail("BREAK-HANDLER")
    for _ in range(2):  # unexpected: raised for the inbox to retry in order
        with pytest.raises(Exception, match="injected handler fault"):
            await handle(fetched(handler_fault, 6))
    await handle(fetched(handler_fault, 6))  # the third failure parks it
    await handle(fetched(member_mail("good four"), 7))

    assert [row["body_text"] for row in await posts(store)] == [
        "good one",
        "good two",
        "good three",
        "good four",
    ]
    parked = await store.parked.find()
    assert [(p.position, p.failure, p.attempts, p.sender, p.subject) for p in parked] == [
        ("7:2", "permanent", 1, "siobhan@example.ie", "Planning"),
        ("7:4", "permanent", 1, "siobhan@example.ie", "Planning"),
        ("7:6", "unexpected", 3, "siobhan@example.ie", "Planning"),
    ]
    assert [p.reason.split(" (")[0] for p in parked] == [
        "InjectedFault: injected parse fault",
        "InjectedFault: injected store fault",
        "InjectedFault: injected handler fault",
    ]
    assert await store.parked.data(parked[1].id) == sequence[3]
    assert told.calls == 3

    # A replay (UIDVALIDITY changed) meets the same mail: one row, attempts added, nobody told again.
    await handle(fetched(sequence[1], 12))
    again = await store.parked.get(parked[0].id)
    assert again is not None
    assert again.attempts == 2
    assert len(await store.parked.find()) == 3
    assert told.calls == 3
    assert await store.parked.counts() == {(Channel.EMAIL, ParkedState.PARKED): 3}  # what /metrics shows


async def test_a_transient_failure_is_never_parked(database: Database) -> None:
    store = Store(database)
    shunt = Shunt(store.parked)

    async def database_down() -> None:
        raise ConnectionRefusedError("could not connect to the database")

    item = NewParked(Channel.EMAIL, "imap:test", "sha256:x", b"raw", "", "")
    for _ in range(5):
        with pytest.raises(ConnectionRefusedError):
            await shunt.handle(Channel.EMAIL, "sha256:x", database_down, lambda: item)
    assert await store.parked.find(None) == []


class RecordingSmtp:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, Sequence[str]]] = []

    async def send(self, data: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        self.sent.append((data, envelope_from, recipients))


async def test_parked_mail_is_told_once_and_relayed_once_after_the_cause_is_gone(database: Database) -> None:
    store, broken, shunt, _ = await setup(database, FAULTS)
    await broken.shunted(shunt, "imap:test")(fetched(member_mail("BREAK-STORE again"), 1))
    await broken.shunted(shunt, "imap:test")(fetched(member_mail("BREAK-PARSER again"), 2))
    context = await community(store)
    smtp = RecordingSmtp()
    notices = ParkedNotices(store, smtp, moderators_rooms=dict)  # type: ignore[arg-type]
    still_broken = ParkedWork(store, lambda: {context.id: context}, mail=broken.handle, notices=notices)
    assert await still_broken.tell() == 2
    assert await still_broken.tell() == 0  # told once
    [(notice, envelope_from, recipients)] = smtp.sent  # one mail to the one convener, both listed
    assert recipients == ["ana@example.org"]
    assert envelope_from == ""
    assert b"2 messages could not be handled" in notice
    assert b"icop parked retry 1 2" in notice

    first, second = await store.parked.find()
    assert await store.parked.queue([first.id], datetime.now(UTC)) == [first.id]
    assert await still_broken.reprocess() == 0  # the cause is still there: parked again
    again = await store.parked.get(first.id)
    assert again is not None
    assert (again.state, again.attempts) == (ParkedState.PARKED, 2)

    _, fixed, _, _ = await setup_again(store)
    work = ParkedWork(store, lambda: {context.id: context}, mail=fixed.handle)
    assert await store.parked.queue(None, datetime.now(UTC)) == [first.id, second.id]
    assert await work.reprocess() == 2
    assert await store.parked.queue(None, datetime.now(UTC)) == []  # nothing left to retry
    assert await store.parked.queue([first.id], datetime.now(UTC)) == []  # done is not queued again
    assert await work.reprocess() == 0
    assert [row["body_text"] for row in await posts(store)] == ["BREAK-STORE again", "BREAK-PARSER again"]
    assert {p.state for p in await store.parked.find(None)} == {ParkedState.DONE}
    assert await store.parked.discard([first.id], datetime.now(UTC)) == []


async def setup_again(store: Store) -> tuple[Store, MailInbound, None, None]:
    """The same community after an upgrade: no faults any more."""
    context = await community(store)
    return store, MailInbound(store, Ingestor(store, KEY), lambda: {context.slug: context}), None, None


def test_parked_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`icop parked list --json` in the documented shape; `show` writes the raw bytes; `retry` queues
    (exit 1 naming an id that is not parked); `discard`; `--wait` without a daemon runs out: exit 1;
    an unknown community: exit 2."""
    config = tmp_path / "icop.toml"
    config.write_text(VALID, encoding="utf-8")
    url = f"sqlite://{tmp_path / 'icop.sqlite3'}"
    monkeypatch.setenv("ICOP_DATABASE_URL", url)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    raw = member_mail("parked body")

    async def prepare() -> None:
        async with Database(url) as db:
            await upgrade(db)
            store = Store(db)
            for n in (1, 2):
                item = NewParked(
                    Channel.EMAIL, "imap:x", f"sha256:{n}", raw, f"ValueError: bad {n}", "permanent",
                    position=f"7:{n}", sender="siobhan@example.ie", subject="Planning",
                )  # fmt: skip
                await store.parked.park(item, datetime.now(UTC))

    asyncio.run(prepare())
    icop = ["--config", str(config), "parked"]
    assert main([*icop, "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [set(r) for r in rows] == [{
        "id", "community", "channel", "source", "position", "origin", "sender", "subject", "size", "reason",
        "failure", "attempts", "state", "parked_at", "updated_at", "told_at", "resolved_at",
    }] * 2  # fmt: skip
    assert [(r["id"], r["state"], r["size"], r["reason"], r["community"]) for r in rows] == [
        (1, "parked", len(raw), "ValueError: bad 1", None),
        (2, "parked", len(raw), "ValueError: bad 2", None),
    ]
    assert main([*icop, "show", "1"]) == 0
    assert capsys.readouterr().out.encode() == raw
    assert main([*icop, "retry", "1", "99"]) == 1
    out, err = capsys.readouterr()
    assert out == "1 parked message queued for re-processing\n"
    assert err == "icop: not parked or discarded: 99\n"
    assert main([*icop, "discard", "2"]) == 0
    assert main([*icop, "list", "--state", "all"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in listing[-2:]] == ["queued", "discarded"]
    assert main([*icop, "retry", "2", "--wait", "0.5"]) == 1  # no daemon to re-process it
    assert "still queued after 0.5 s" in capsys.readouterr().err
    assert main([*icop, "list", "--community", "nope"]) == 2


async def test_a_matrix_event_that_cannot_be_converted_or_handled_is_parked(database: Database) -> None:
    """The converter chokes on $e2 (a bug no test foresaw) and the handler raises on $e4 three times: both
    are parked with their JSON, the other events are stored, and the sync position moves on."""
    store = Store(database)
    context = await community(store)
    assert context.room_id is not None
    shunt = Shunt(store.parked)
    inbound = MatrixInbound(
        store,
        Ingestor(store, KEY, faults=FAULTS),
        lambda: {context.room_id or "": context},
        shunt=shunt,
        faults=FAULTS,
    )

    def converter(event: dict[str, Any], **kwargs: Any) -> Any:
        if event["event_id"] == "$e2":
            raise KeyError("a field no client ever left out")
        return convert_event(event, **kwargs)

    events = [
        sync_message(1),
        sync_message(2),
        sync_message(3),
        sync_message(4, body="BREAK-HANDLER"),
        sync_message(5),
    ]
    saved: list[str] = []

    async def save(since: str) -> None:
        saved.append(since)

    for attempt in range(3):
        session = ScriptedSession(sync_answer("s1", joined(context.room_id, events)))
        sync = SyncLoop(
            session,  # type: ignore[arg-type]
            load_since=lambda: asyncio.sleep(0, "s0"),
            save_since=save,
            handle=inbound.handle,
            rooms={context.room_id},
            converter=converter,
        )
        if attempt < 2:  # unexpected: the batch is retried (by run's backoff) until the third failure
            with pytest.raises(Exception, match="injected handler fault"):
                await sync.sync_once("s0")
        else:
            assert await sync.sync_once("s0") == "s1"
    assert saved == ["s1"]
    stored = await store.posts.by_event_ids(context.id, [f"$e{n}" for n in range(1, 6)])
    assert sorted(stored) == ["$e1", "$e3", "$e5"]
    unreadable, failing = await store.parked.find()
    assert (unreadable.channel, unreadable.origin, unreadable.source) == (
        Channel.MATRIX,
        "$e2",
        context.room_id,
    )
    assert (
        unreadable.reason == "MessageFailure: unreadable event: KeyError: 'a field no client ever left out'"
    )
    assert (failing.origin, failing.failure, failing.attempts) == ("$e4", "unexpected", 3)
    data = await store.parked.data(unreadable.id)
    assert data is not None
    assert json.loads(data)["content"]["body"] == "message 2"
