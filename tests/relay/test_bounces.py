"""Bounce policy: the arithmetic alone, then bounces through the mail handler on both stores.

Each test says what each bounce gets: its weight, the score after it, and whether the member is
suspended and who is told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.config.schema import CommunityConfig, MemberConfig
from bridge.core.model import DeliveryMode, MembershipState, Role, RosterMember
from bridge.email.addresses import verp_address
from bridge.email.bounces import BounceAction, BounceReport
from bridge.email.inbox import FetchedMail
from bridge.relay.bounces import BounceHandler, BounceOutcome, BouncePolicy
from bridge.relay.community import CommunityContext
from bridge.relay.from_email import MailInbound
from bridge.relay.ingest import Ingestor
from bridge.store import Database, MemberRecord, Store
from bridge.store.migrations import upgrade
from tests.fixtures.cli import sync_pm_practice, write_config

LIST = "pm@lists.example.com"
KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MEMBERS = [
    MemberConfig(name="Ana Souza", email="ana@example.org", matrix="@ana:localhost", role="convener"),
    MemberConfig(name="Siobhán Murphy", email="siobhan@example.ie"),
]


# -- the arithmetic ------------------------------------------------------------------------------


def report(action: BounceAction, status: str | None) -> BounceReport:
    return BounceReport("siobhan@example.ie", action, status)


def test_weights() -> None:
    """Permanent 1.0, transient 0.5, delayed and delivered 0, unreadable 0.5."""
    policy = BouncePolicy()
    assert policy.weight(report(BounceAction.FAILED, "5.1.1")) == 1.0
    assert policy.weight(report(BounceAction.FAILED, None)) == 1.0
    assert policy.weight(report(BounceAction.FAILED, "4.2.2")) == 0.5
    assert policy.weight(report(BounceAction.DELAYED, "4.4.1")) == 0.0
    assert policy.weight(report(BounceAction.DELIVERED, "2.0.0")) == 0.0
    assert policy.weight(report(BounceAction.UNKNOWN, "550")) == 1.0
    assert policy.weight(None) == 0.5


def test_decay_halves_per_half_life() -> None:
    """4.0 a half-life ago is 2.0, two ago 1.0; no last bounce or a future one: no decay."""
    policy = BouncePolicy(threshold=5.0, half_life_days=7.0)
    assert policy.decayed(4.0, NOW - timedelta(days=7), NOW) == pytest.approx(2.0)
    assert policy.decayed(4.0, NOW - timedelta(days=14), NOW) == pytest.approx(1.0)
    assert policy.decayed(4.0, None, NOW) == 4.0
    assert policy.decayed(4.0, NOW + timedelta(days=1), NOW) == 4.0
    assert policy.crossed(5.0)
    assert not policy.crossed(4.99)


# -- through the handler, on both stores ---------------------------------------------------------


class RecordedNotices:
    """Keeps who would be told, in place of the mail and room notices (tested end to end)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], float]] = []

    async def suspended(
        self,
        community: CommunityContext,
        member: MemberRecord,
        conveners: Sequence[MemberRecord],
        outcome: BounceOutcome,
    ) -> None:
        assert member.email is not None
        self.calls.append((member.email, [c.email or "" for c in conveners], outcome.score))


async def community(store: Store) -> CommunityContext:
    config = CommunityConfig(
        slug="pm-practice",
        name="Project Management Practice",
        room="!room:localhost",
        list_address=LIST,
        member=MEMBERS,
    )
    roster = [
        RosterMember(m.name, m.email, Role(m.role), m.matrix, m.time_zone, DeliveryMode(m.delivery))
        for m in MEMBERS
    ]
    sync = await store.communities.sync_community(
        slug=config.slug, name=config.name, list_address=LIST, room=config.room, roster=roster
    )
    record = await store.communities.by_slug(config.slug)
    assert record is not None
    assert sync.added == 2
    return CommunityContext(config, record)


def dsn(recipient: str, action: str, status: str, serial: int) -> bytes:
    return f"""\
Return-Path: <>
Delivered-To: {verp_address(LIST, recipient)}
From: Mail Delivery System <MAILER-DAEMON@mx.example.ie>
To: {verp_address(LIST, recipient)}
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn.{serial}@mx.example.ie>
Date: Mon, 02 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Your message could not be delivered.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.ie

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} mailbox unavailable

--b--
""".replace("\n", "\r\n").encode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_bounces_suspend_past_the_threshold_and_reset_restores(database: Database) -> None:
    """Three permanent failures with threshold 2.5: scores 1, 2, 3; the third suspends and tells the
    member and ana once; a fourth only counts. Resetting restores active and score 0."""
    store = Store(database)
    context = await community(store)
    clock = Clock()
    notices = RecordedNotices()
    handler = BounceHandler(store, BouncePolicy(threshold=2.5, half_life_days=7), notices, clock=clock)
    inbound = MailInbound(store, Ingestor(store, KEY), lambda: {context.slug: context}, bounces=handler)
    for serial in range(1, 5):
        raw = dsn("siobhan@example.ie", "failed", "5.1.1", serial)
        await inbound.handle(FetchedMail(serial, 1, raw, (), None))
        clock.now += timedelta(hours=1)
    members = {m.email: m for m in await store.communities.members(context.id)}
    siobhan = members["siobhan@example.ie"]
    assert siobhan.state is MembershipState.SUSPENDED
    assert siobhan.state_reason == "bounces"
    assert siobhan.bounce_score == pytest.approx(4.0, abs=0.05)  # a few hours of decay
    assert siobhan.last_bounce_at == NOW + timedelta(hours=3)
    assert notices.calls == [("siobhan@example.ie", ["ana@example.org"], pytest.approx(3.0, abs=0.05))]
    assert members["ana@example.org"].bounce_score == 0.0
    # Bounces are never posts: no Message-ID of the four became one.
    ids = [f"dsn.{serial}@mx.example.ie" for serial in range(1, 5)]
    assert await store.posts.by_message_ids(context.id, ids) == {}

    assert await store.communities.reset_bounces(siobhan.membership_id)
    after = await store.communities.member_record(siobhan.membership_id)
    assert after is not None
    assert (after.state, after.state_reason, after.bounce_score) == (MembershipState.ACTIVE, None, 0.0)


async def test_delays_count_nothing_and_transients_half(database: Database) -> None:
    """A delay warning: weight 0, no score; two transient failures: 0.5 each → 1.0, not suspended."""
    store = Store(database)
    context = await community(store)
    handler = BounceHandler(store, BouncePolicy(), clock=lambda: NOW)
    delayed = await handler.handle(
        context, dsn("siobhan@example.ie", "delayed", "4.4.1", 1), "siobhan@example.ie"
    )
    assert delayed is not None
    assert (delayed.weight, delayed.score, delayed.suspended) == (0.0, 0.0, False)
    for serial in (2, 3):
        outcome = await handler.handle(context, dsn("siobhan@example.ie", "failed", "4.2.2", serial), None)
        assert outcome is not None
        assert outcome.weight == 0.5
    found = await _siobhan(store, context)
    assert (found.bounce_score, found.state) == (1.0, MembershipState.ACTIVE)


async def test_decay_between_bounces_keeps_a_rare_bouncer_active(database: Database) -> None:
    """Permanent failures 14 days apart with threshold 2.0 and half-life 7: scores 1, 1.25, 1.31…: never
    suspended."""
    store = Store(database)
    context = await community(store)
    clock = Clock()
    handler = BounceHandler(store, BouncePolicy(threshold=2.0, half_life_days=7), clock=clock)
    scores = []
    for serial in range(1, 6):
        outcome = await handler.handle(context, dsn("siobhan@example.ie", "failed", "5.1.1", serial), None)
        assert outcome is not None
        scores.append(round(outcome.score, 3))
        clock.now += timedelta(days=14)
    assert scores == [1.0, 1.25, 1.312, 1.328, 1.332]
    assert (await _siobhan(store, context)).state is MembershipState.ACTIVE


async def test_a_bounce_for_no_member_changes_nothing(database: Database) -> None:
    """A bounce naming a stranger (by VERP and report): None, nobody's score moves."""
    store = Store(database)
    context = await community(store)
    handler = BounceHandler(store, BouncePolicy(), clock=lambda: NOW)
    raw = dsn("who@example.net", "failed", "5.1.1", 1)
    assert await handler.handle(context, raw, "who@example.net") is None
    assert all(m.bounce_score == 0.0 for m in await store.communities.members(context.id))


async def test_reset_keeps_a_suspension_not_made_by_bounces(database: Database) -> None:
    """A suspension without the bounces reason stays after reset-bounces; the score goes to 0."""
    store = Store(database)
    context = await community(store)
    siobhan = await _siobhan(store, context)
    await store.communities.set_bounce_score(siobhan.membership_id, 3.0, NOW)
    await store.communities.set_state(siobhan.membership_id, MembershipState.SUSPENDED)
    assert await store.communities.reset_bounces(siobhan.membership_id)
    after = await _siobhan(store, context)
    assert (after.state, after.bounce_score, after.last_bounce_at) == (MembershipState.SUSPENDED, 0.0, NOW)


async def _siobhan(store: Store, context: CommunityContext) -> MemberRecord:
    return next(m for m in await store.communities.members(context.id) if m.email == "siobhan@example.ie")


# -- the command line ----------------------------------------------------------------------------


def test_members_command_lists_and_resets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`icop members --json`: one object per member in the documented shape; reset-bounces: exit 0 and
    active again; an unknown member, a missing or unknown community: exit 2."""
    config, url = write_config(tmp_path, monkeypatch)

    async def prepare() -> None:
        async with Database(url) as db:
            await upgrade(db)
            store = Store(db)
            ana = RosterMember("Ana Souza", "ana@example.org", Role.CONVENER, "@ana:example.com")
            sync = await sync_pm_practice(store, [ana])
            [ana] = await store.communities.members(sync.community_id)
            await store.communities.set_bounce_score(ana.membership_id, 6.0, datetime.now(UTC))
            await store.communities.set_state(ana.membership_id, MembershipState.SUSPENDED, reason="bounces")

    asyncio.run(prepare())
    base = ["--config", str(config), "members"]
    assert main([*base, "--community", "pm-practice", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert set(row) == {
        "membership_id", "name", "email", "matrix_id", "role", "state", "state_reason", "delivery",
        "digest_frequency", "source", "bounce_score", "last_bounce_at",
    }  # fmt: skip
    assert (row["email"], row["matrix_id"], row["role"]) == (
        "ana@example.org",
        "@ana:example.com",
        "convener",
    )
    assert (row["state"], row["state_reason"], row["delivery"]) == ("suspended", "bounces", "each")
    assert row["bounce_score"] == pytest.approx(6.0, abs=0.01)
    assert datetime.fromisoformat(row["last_bounce_at"]).tzinfo is not None

    assert main([*base, "reset-bounces", "ANA@example.org", "--community", "pm-practice"]) == 0
    assert "state active" in capsys.readouterr().out
    assert main([*base, "--community", "pm-practice", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["state"], row["bounce_score"]) == ("active", 0.0)

    assert main([*base, "reset-bounces", "who@example.net", "--community", "pm-practice"]) == 2
    assert "not a member" in capsys.readouterr().err
    assert main(base) == 2
    assert main([*base, "--community", "nope"]) == 2
    # In the config, not yet in the store: set up from config, as the daemon's first start would.
    assert main([*base, "--community", "data-quality", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["email"] == "grace@example.ng"


async def test_a_bounce_from_a_members_address_counts_through_its_report(database: Database) -> None:
    """Ana's own server bounces her list mail with her address in From and a plain-text qmail notice to
    the list address (no VERP, no null sender): not a post; Siobhán, whom the report names, is scored."""
    store = Store(database)
    context = await community(store)
    handler = BounceHandler(store, BouncePolicy(), clock=Clock())
    inbound = MailInbound(store, Ingestor(store, KEY), lambda: {context.slug: context}, bounces=handler)
    raw = (
        f"Return-Path: <ana@example.org>\r\nDelivered-To: {LIST}\r\nFrom: Ana Souza <ana@example.org>\r\n"
        f"To: {LIST}\r\nSubject: failure notice\r\nMessage-ID: <qmail.1@example.org>\r\n"
        "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n\r\n"
        "Hi. This is the qmail-send program at mail.example.org.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
        "<siobhan@example.ie>:\r\n550 5.1.1 mailbox unavailable\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n"
    ).encode()
    await inbound.handle(FetchedMail(1, 1, raw, (), None))
    members = {m.email: m for m in await store.communities.members(context.id)}
    assert members["siobhan@example.ie"].bounce_score == pytest.approx(1.0)
    assert members["ana@example.org"].bounce_score == 0.0
    assert await store.posts.by_message_ids(context.id, ["qmail.1@example.org"]) == {}
