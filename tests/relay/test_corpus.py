"""The hostile-mail corpus through the inbound relay, on both stores: parse, classify, store, and what the
room is sent (the Matrix events as the couriers build them, recorded instead of sent).

Every message of ``tests/fixtures/mail/corpus/`` (sources in its README) is handled twice, on a fresh
store each time: as it came (a stranger wrote it) and with a member's address in From (her client or her
own mail server wrote it). What each case gets is in ``EXPECTED``; the kinds are

| outcome   | what happened                                          | what the room gets                   |
|-----------|--------------------------------------------------------|--------------------------------------|
| visible   | stored and relayed                                     | one event with the text (under 64    |
|           |                                                        | KiB, no NUL), plus one per file      |
| held      | stored, held for a convener                            | one notice: the post's number and    |
|           |                                                        | channel, never its subject or sender |
| bounce    | read as a delivery failure (bounce scoring)            | nothing                              |
| automatic | auto-reply, read receipt or abuse report: not relayed  | nothing                              |
| duplicate | its Message-ID is an earlier corpus message's: a replay | nothing                              |
| empty     | no subject, text or file: logged, not stored           | nothing                              |
| parked    | could not be handled: kept with its reason             | nothing                              |

No message raises out of the handler (the mailbox loop would retry it forever) and none is parked:
every one of them can be handled.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.core.loop_guard import MailClass
from bridge.core.model import Channel
from bridge.email.inbound import parse_list_mail
from bridge.email.inbox import FetchedMail
from bridge.matrix.sender import MESSAGE_EVENT, MatrixSender
from bridge.relay.community import CommunityContext
from bridge.relay.from_email import MailInbound
from bridge.relay.ingest import Ingestor
from bridge.relay.matrix_courier import MatrixCourier
from bridge.relay.moderation import Moderation
from bridge.relay.notices import NoticeCourier
from bridge.relay.shunt import Shunt
from bridge.store import Database, Store
from tests.fixtures.mail_corpus import as_member, corpus_files, delivered, name_of
from tests.relay.test_ingest import KEY, community

HELD_NOTICE = re.compile(
    r"Held for a convener: post \d+ \(by email\)\. The conveners and core team have the details; they "
    r"answer `!icop approve \d+`, `!icop reject \d+ \[reason\]` or `!icop ban \d+`\."
)
"""All the room learns of a held post: its number and channel (never its subject, text or sender)."""
CPYTHON_SAMPLE = re.compile(r"cpython/msg_(0[1-9]|[1-3][0-9]|4[0-7]|12a)\.txt")
"""The README names CPython's samples as one range."""
MATRIX_EVENT_LIMIT = 65_536
"""Bytes a homeserver accepts for one event (the Matrix spec's limit, its JSON envelope included)."""

_SAME_ID_AS_MSG_01 = "duplicate"  # CPython's samples reuse msg_01's Message-ID
# file: (as it came, with a member's From)
EXPECTED: dict[str, tuple[str, str]] = {
    "cpython/msg_01.txt": ("held", "visible"),
    "cpython/msg_02.txt": ("held", "visible"),  # multipart/digest
    "cpython/msg_03.txt": (_SAME_ID_AS_MSG_01, _SAME_ID_AS_MSG_01),
    "cpython/msg_04.txt": ("held", "visible"),
    "cpython/msg_05.txt": ("bounce", "bounce"),  # DSN with From: foo (no address)
    "cpython/msg_06.txt": ("held", "visible"),
    "cpython/msg_07.txt": ("held", "visible"),
    "cpython/msg_08.txt": ("held", "visible"),
    "cpython/msg_09.txt": ("held", "visible"),
    "cpython/msg_10.txt": ("held", "visible"),
    "cpython/msg_11.txt": ("held", "visible"),  # message/rfc822 as the whole mail: the room gets it as .eml
    "cpython/msg_12.txt": ("held", "visible"),
    "cpython/msg_12a.txt": ("held", "visible"),
    "cpython/msg_13.txt": ("held", "visible"),
    "cpython/msg_14.txt": (_SAME_ID_AS_MSG_01, _SAME_ID_AS_MSG_01),
    "cpython/msg_15.txt": ("held", "visible"),  # multipart/alternative without a start boundary
    "cpython/msg_16.txt": ("bounce", "bounce"),  # DSN
    "cpython/msg_17.txt": ("held", "visible"),  # multipart without boundaries
    "cpython/msg_18.txt": ("empty", "empty"),  # headers only: nothing to relay
    "cpython/msg_19.txt": ("held", "visible"),  # no header at all (held); with a From: its text relayed
    "cpython/msg_20.txt": (_SAME_ID_AS_MSG_01, _SAME_ID_AS_MSG_01),
    "cpython/msg_21.txt": ("held", "visible"),
    "cpython/msg_22.txt": ("held", "visible"),  # image parts
    "cpython/msg_23.txt": ("held", "visible"),
    "cpython/msg_24.txt": ("held", "visible"),
    "cpython/msg_25.txt": ("bounce", "bounce"),  # DSN from an MTA 'Too many hops'
    "cpython/msg_26.txt": ("held", "visible"),
    "cpython/msg_27.txt": ("held", "visible"),
    "cpython/msg_28.txt": ("held", "visible"),
    "cpython/msg_29.txt": (_SAME_ID_AS_MSG_01, _SAME_ID_AS_MSG_01),
    "cpython/msg_30.txt": ("held", "visible"),
    "cpython/msg_31.txt": ("held", "visible"),
    "cpython/msg_32.txt": ("automatic", "automatic"),  # Precedence: bulk
    "cpython/msg_33.txt": ("automatic", "automatic"),  # Precedence: bulk
    "cpython/msg_34.txt": ("held", "visible"),
    "cpython/msg_35.txt": ("held", "visible"),
    "cpython/msg_36.txt": ("held", "visible"),
    "cpython/msg_37.txt": ("held", "visible"),  # text/x-* parts: files in the room
    "cpython/msg_38.txt": ("held", "visible"),  # nested, unclosed boundaries
    "cpython/msg_39.txt": ("held", "visible"),
    "cpython/msg_40.txt": ("held", "visible"),  # boundary never declared: parts read as text
    "cpython/msg_41.txt": ("held", "visible"),
    "cpython/msg_42.txt": ("held", "visible"),
    "cpython/msg_43.txt": ("bounce", "bounce"),  # DSN 'Banned file' from MAILER DAEMON <>
    "cpython/msg_44.txt": ("duplicate", "duplicate"),  # msg_04's Message-ID
    "cpython/msg_45.txt": ("held", "visible"),
    "cpython/msg_46.txt": ("held", "visible"),
    "cpython/msg_47.txt": ("held", "visible"),
    "flanker/bounce-broken-mime.eml": ("bounce", "bounce"),  # 'Undeliverable Mail', text/plain
    "flanker/bounce-gmail-invalid-address.eml": ("bounce", "bounce"),
    "flanker/complaint-yahoo-arf.eml": ("automatic", "automatic"),  # ARF (RFC 5965)
    "flanker/disposition-notification.eml": ("automatic", "automatic"),  # MDN (RFC 8098)
    "spamassassin/badctype1.eml": ("held", "visible"),  # Content-Type: text plain
    "spamassassin/badmime2.eml": ("held", "visible"),  # boundary="" and an empty Subject
    "spamassassin/invalid_from.eml": ("held", "visible"),  # From: <no reply@example.com> (a stranger)
}


class RecordingMatrix(MatrixSender):
    """The room as the couriers would write to it, kept in memory."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(
        self, room_id: str, content: Mapping[str, Any], txn_id: str, *, event_type: str = MESSAGE_EVENT
    ) -> str:
        self.sent.append((room_id, dict(content)))
        return f"$e{len(self.sent)}:localhost"

    async def upload(self, data: bytes, content_type: str, filename: str) -> str:
        return f"mxc://localhost/f{len(self.sent)}"


async def _relay(database: Database, member: bool) -> dict[str, tuple[str, list[dict[str, Any]], str]]:
    """Handle every corpus message on a fresh store; per file its outcome, the room's events for it and
    the subject the relay read (for the held-notice check)."""
    store = Store(database)
    ctx = await community(store)
    contexts = {ctx.slug: ctx}
    moderation = Moderation(store)
    inbound = MailInbound(store, Ingestor(store, KEY, gate=moderation), lambda: contexts)
    parked: list[int] = []
    handle = inbound.shunted(Shunt(store.parked, on_parked=lambda: parked.append(1)), "imap:corpus")
    room = RecordingMatrix()
    by_id: Mapping[int, CommunityContext] = {ctx.id: ctx}
    courier = NoticeCourier(store, MatrixCourier(store, room, lambda: by_id), lambda: by_id, matrix=room)
    outcomes: dict[str, tuple[str, list[dict[str, Any]], str]] = {}
    for uid, path in enumerate(corpus_files(), start=1):
        raw = delivered(path.read_bytes(), ctx.config.list_address)
        raw = as_member(raw) if member else raw
        parsed = parse_list_mail(raw, [ctx.identity], now=datetime.now(UTC))
        written = parsed.message
        posts_before = await _post_count(store)
        parked_before = len(parked)
        await handle(FetchedMail(uid, 7, raw, (), None))  # never raises for these: asserted by running
        events_before = len(room.sent)
        await _deliver_to_room(store, courier)
        events = [content for _, content in room.sent[events_before:]]
        stored = await _post_count(store) - posts_before
        if len(parked) > parked_before:
            outcome = "parked"
        elif stored:
            [row] = await store.db.fetch('SELECT "state" FROM "post" ORDER BY "id" DESC LIMIT 1')
            outcome = str(row["state"])
        elif parsed.verdict.verdict is MailClass.BOUNCE:
            outcome = "bounce"
        elif not parsed.verdict.relay:
            outcome = "automatic"
        elif not (written.text.strip() or written.attachments or written.subject):
            outcome = "empty"
        else:
            outcome = "duplicate"
        outcomes[name_of(path)] = (outcome, events, parsed.message.subject or "")
    return outcomes


async def _post_count(store: Store) -> int:
    [row] = await store.db.fetch('SELECT count(*) AS "n" FROM "post"')
    return int(row["n"])


async def _deliver_to_room(store: Store, courier: NoticeCourier) -> None:
    """What the Matrix delivery lane would do now: every due row for the room, delivered and marked."""
    later = datetime.now(UTC) + timedelta(days=1)
    while rows := await store.outbox.claim_due("corpus", later, channel=Channel.MATRIX):
        for row in rows:
            remote = await courier.deliver([row])
            await store.outbox.mark_sent(row.id, remote, worker_id="corpus")


def _check(outcomes: Mapping[str, tuple[str, list[dict[str, Any]], str]], column: int) -> None:
    assert sorted(outcomes) == sorted(EXPECTED), "every corpus file has a stated outcome"
    got = {name: outcome for name, (outcome, _, _) in outcomes.items()}
    assert got == {name: pair[column] for name, pair in EXPECTED.items()}
    for name, (outcome, events, subject) in outcomes.items():
        for content in events:
            size = len(json.dumps(content, ensure_ascii=False).encode())
            assert size < MATRIX_EVENT_LIMIT, (name, size)
            assert "\x00" not in json.dumps(content), name
        if outcome == "visible":
            assert events, name
            assert events[0]["msgtype"] == "m.text", name
            assert events[0]["body"].strip(), name
        elif outcome == "held":
            [notice] = events
            assert notice["msgtype"] == "m.notice", name
            assert notice["body"].startswith("Held for a convener: post "), (name, notice["body"])
            assert HELD_NOTICE.fullmatch(notice["body"]), (name, notice["body"])
            assert "formatted_body" not in notice, name
            assert len(subject) < 8 or subject not in notice["body"], (name, "the subject was shown")
        else:
            assert events == [], name


async def test_every_corpus_mail_from_a_stranger(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.relay.ingest")
    _check(await _relay(database, member=False), 0)
    replays = [r for r in caplog.records if r.getMessage() == "post already stored: not relayed again"]
    assert len(replays) == [pair[0] for pair in EXPECTED.values()].count("duplicate")  # each one logged


async def test_every_corpus_mail_with_a_members_from(database: Database) -> None:
    _check(await _relay(database, member=True), 1)


def test_the_corpus_is_small_and_every_file_is_named_in_its_readme() -> None:
    readme = (corpus_files()[0].parents[1] / "README.md").read_text()
    files = corpus_files()
    assert sum(p.stat().st_size for p in files) < 2_000_000
    unnamed = [
        name
        for name in map(name_of, files)
        if name not in readme and not (name.startswith("cpython/") and CPYTHON_SAMPLE.fullmatch(name))
    ]
    assert unnamed == []
