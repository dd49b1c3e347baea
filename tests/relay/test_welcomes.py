"""Onboarding on both stores: each newcomer welcomed once on their channel (mail, or the room for a
member who only chats and for anyone joining), with the mission, the team, the tags, the practices,
the meetings and the digest commands; nobody twice across restarts or an upgrade; retried while the
mail server is down."""

from __future__ import annotations

import email
from collections.abc import Mapping, Sequence
from datetime import date, time
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from bridge.config.schema import MeetingConfig, MemberConfig, TaxonomyTag
from bridge.core.message_ids import parse_own_message_id
from bridge.core.model import Channel, DeliveryMode, Role, RosterMember
from bridge.email.smtp import SmtpTemporaryError
from bridge.matrix.events import MatrixJoin
from bridge.relay.community import CommunityContext
from bridge.relay.welcomes import Welcomer
from bridge.store import Database, Store, upgrade
from tests.relay.test_ingest import NOW, ROOM, community
from tests.relay.test_reminders import plain

BASE = "https://icop.example.com"
PEOPLE = [
    MemberConfig(name="Ana Souza", email="ana@example.org", matrix="@ana:localhost", role="convener"),
    MemberConfig(name="Kenji Watanabe", email="kenji@example.jp", matrix="@kenji:localhost", role="core",
                 delivery="none"),
    MemberConfig(name="Siobhán Murphy", email="siobhan@example.ie", time_zone="Europe/Dublin"),
    MemberConfig(name="Lena Fischer", email="lena@example.de", role="reader", delivery="digest"),
]  # fmt: skip


class Outbound:
    """Records mail and room messages; the mail server can be made to fail for a while."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.room: list[dict[str, Any]] = []
        self.down = False

    async def send(self, message: bytes, *, envelope_from: str, recipients: Sequence[str]) -> None:
        if self.down:
            raise SmtpTemporaryError("421 try later")
        self.mails.append(email.message_from_bytes(message, policy=default))  # type: ignore[arg-type]

    async def send_room(self, room_id: str, content: Mapping[str, Any], txn: str) -> str:
        self.room.append({**content, "txn": txn})
        return f"$w{len(self.room)}"


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


async def welcoming(store: Store, out: Outbound, **overrides: object) -> tuple[CommunityContext, Welcomer]:
    fields: dict[str, object] = {
        "member": PEOPLE,
        "description": "Project leads compare how they plan, estimate and learn.",
        "taxonomy": [TaxonomyTag(tag="estimation", label="Estimation")],
        "meeting": [
            MeetingConfig(id="call", title="Practice call", first=date(2026, 11, 3), slots=[time(15)])
        ],
        **overrides,
    }
    ctx = await community(store, **fields)
    welcomer = Welcomer(
        store,
        lambda: {ctx.id: ctx},
        BASE,
        smtp=out,  # type: ignore[arg-type]
        send=out.send_room,
        clock=lambda: NOW,
    )
    return ctx, welcomer


async def test_new_members_are_welcomed_once_on_their_channel(store: Store) -> None:
    out = Outbound()
    ctx, welcomer = await welcoming(store, out)
    assert await welcomer.greet_newcomers(NOW) == 4
    assert await welcomer.send_due(NOW) == 4
    assert sorted(m["To"] for m in out.mails) == ["ana@example.org", "lena@example.de", "siobhan@example.ie"]
    [notice] = out.room  # Kenji only chats: greeted in the room, mentioned
    assert notice["m.mentions"] == {"user_ids": ["@kenji:localhost"]}
    assert notice["msgtype"] == "m.notice"
    assert notice["body"].startswith("Welcome to Project Management Practice, Kenji Watanabe!")

    siobhan = next(m for m in out.mails if m["To"] == "siobhan@example.ie")
    text = plain(siobhan)
    assert str(siobhan["Subject"]) == "[pm-practice] Welcome to Project Management Practice"
    assert siobhan["Auto-Submitted"] == "auto-generated"
    own = parse_own_message_id(str(siobhan["Message-ID"]), ctx.domain)
    assert own is not None
    assert own.kind == "welcome"
    for expected in (
        "Welcome to Project Management Practice, Siobhán Murphy!",
        "Project leads compare how they plan, estimate and learn.",
        "Who runs it: Ana Souza (convener), with Kenji Watanabe (core team).",
        "- By mail: write to pm@lists.example.com",
        "- In chat: join the Matrix room #pm:localhost (https://matrix.to/#/%23pm%3Alocalhost)",
        f"- #estimation: {BASE}/c/pm-practice/tag/estimation",
        "- Practice call: Tuesday 3 November 2026, 15:00–16:00 (Europe/Dublin, UTC+00:00)",
        '"digest daily", "digest weekly" or "digest monthly" to pm+request@lists.example.com',
        "!icop digest daily, !icop digest weekly or !icop digest off",
        f"The archive: {BASE}/c/pm-practice/",
    ):
        assert expected in text, expected
    assert "only the members" not in text
    lena = plain(next(m for m in out.mails if m["To"] == "lena@example.de"))
    assert "You receive the community's digests; to take part in the conversation, ask a convener." in lena

    # Once: a second pass, a restart (a new welcomer) and a join of a welcomed member greet nobody.
    assert await welcomer.greet_newcomers(NOW) == 0
    restarted = Welcomer(store, lambda: {ctx.id: ctx}, BASE, smtp=out, send=out.send_room, clock=lambda: NOW)  # type: ignore[arg-type]
    assert await restarted.greet_newcomers(NOW) == 0
    await restarted.room_joined(ctx, MatrixJoin(ROOM, "$j1", "@ana:localhost", "Ana"))
    assert await restarted.send_due(NOW) == 0
    assert len(out.mails) + len(out.room) == 4


async def test_a_member_added_later_and_a_visitor_joining_the_room(store: Store) -> None:
    out = Outbound()
    ctx, welcomer = await welcoming(store, out)
    await welcomer.greet_newcomers(NOW)
    await welcomer.send_due(NOW)
    before = len(out.mails)
    await store.communities.sync_community(
        slug=ctx.slug,
        name=ctx.config.name,
        list_address=ctx.config.list_address,
        room=ctx.config.room,
        roster=[
            *(RosterMember(m.name, m.email, Role(m.role), m.matrix, m.time_zone, DeliveryMode(m.delivery))
              for m in PEOPLE),
            RosterMember("Priya Raman", "priya@example.in"),
        ],
    )  # fmt: skip
    assert await welcomer.greet_newcomers(NOW) == 1
    await welcomer.send_due(NOW)
    assert [m["To"] for m in out.mails[before:]] == ["priya@example.in"]

    visitor = MatrixJoin(ROOM, "$j2", "@visitor:localhost", "Vi")
    await welcomer.room_joined(ctx, visitor)
    await welcomer.room_joined(ctx, visitor)  # left and came back
    assert await welcomer.send_due(NOW) == 1
    greeting = out.room[-1]
    assert greeting["body"].startswith("Welcome to Project Management Practice, @visitor:localhost!")
    assert "Only members take part in this room's conversation" in greeting["body"]
    assert "pm+request@lists.example.com" in greeting["body"]
    assert greeting["txn"].startswith("icop.welcome.")


async def test_welcomes_are_retried_while_the_mail_server_is_down(store: Store) -> None:
    out = Outbound()
    ctx, welcomer = await welcoming(store, out, member=[PEOPLE[2]])
    out.down = True
    await welcomer.greet_newcomers(NOW)
    assert await welcomer.send_due(NOW) == 0
    [row] = await store.welcomes.of_community(ctx.id)
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > NOW
    out.down = False
    assert await welcomer.send_due(NOW) == 0  # not due yet
    assert await welcomer.send_due(row.next_attempt_at) == 1
    [row] = await store.welcomes.of_community(ctx.id)
    assert row.state == "sent"


async def test_a_community_that_turns_welcomes_off_greets_nobody(store: Store) -> None:
    out = Outbound()
    ctx, welcomer = await welcoming(store, out, welcome=False)
    assert await welcomer.greet_newcomers(NOW) == 0
    await welcomer.room_joined(ctx, MatrixJoin(ROOM, "$j3", "@visitor:localhost", "Vi"))
    assert await welcomer.send_due(NOW) == 0


async def test_members_from_before_the_upgrade_count_as_welcomed(tmp_path: Path) -> None:
    """A store at the schema before welcomes, with one member: after the upgrade she counts as
    welcomed (``skipped``), so the first start of the new version greets nobody already there."""
    stamp = "2026-01-05 09:00:00+00:00"
    async with Database(f"sqlite://{tmp_path / 'old.sqlite3'}") as db:
        await upgrade(db, target=7)
        inserts: list[tuple[str, list[object]]] = [
            ('INSERT INTO "community" VALUES (1, ?, ?, ?, ?, NULL, ?, ?, ?)',
             ["old", "Old", "old@lists.example.com", "#old:x", "UTC", stamp, stamp]),
            ('INSERT INTO "person" VALUES (1, ?, NULL, ?)', ["Ana Souza", stamp]),
            ('INSERT INTO "identity" VALUES (1, ?, ?, ?, 1)', ["email", "ana@example.org", stamp]),
            ('INSERT INTO "membership" ("role", "state", "delivery", "digest_frequency", '
             '"receive_own_posts", "source", "bounce_score", "created_at", "updated_at", "community_id", '
             '"person_id") '
             "VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?, 1, 1)",
             ["convener", "active", "each", "weekly", "roster", stamp, stamp]),
        ]  # fmt: skip
        for sql, params in inserts:
            await db.execute(sql, params)
        await upgrade(db)
        store = Store(db)
        assert await store.welcomes.newcomers(1) == []
        [row] = await store.welcomes.of_community(1)
        assert (row.address, row.state, row.channel) == ("ana@example.org", "skipped", Channel.EMAIL)
        assert row.next_attempt_at.year >= 2026
