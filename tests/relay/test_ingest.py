"""Ingest on both stores: one transaction, exactly once, threads joined across channels, non-members held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.config.schema import CommunityConfig, MemberConfig
from bridge.core.message_ids import post_message_id
from bridge.core.model import (
    Channel,
    DeliveryKind,
    DeliveryMode,
    DeliveryState,
    InboundMessage,
    PostState,
    Role,
    RosterMember,
    ThreadRefs,
)
from bridge.core.tokens import sign_reply_token
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor, IngestStatus
from bridge.store import Database, Store

ROOM = "!room:localhost"
KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

MEMBERS = [
    MemberConfig(name="Ana Souza", email="ana@example.org", matrix="@ana:localhost", role="convener"),
    MemberConfig(name="Kenji Watanabe", email="kenji@example.jp", matrix="@kenji:localhost", role="core"),
    MemberConfig(name="Siobhán Murphy", email="siobhan@example.ie"),
    MemberConfig(name="Marcus Webb", email="marcus@example.com", delivery="digest"),
    MemberConfig(name="Lena Fischer", email="lena@example.de", role="reader"),
]


async def community(store: Store, room_id: str = ROOM, **overrides: object) -> CommunityContext:
    fields: dict[str, object] = {
        "slug": "pm-practice",
        "name": "Project Management Practice",
        "room": "#pm:localhost",
        "list_address": "pm@lists.example.com",
        "member": MEMBERS,
        **overrides,
    }
    config = CommunityConfig(**fields)  # type: ignore[arg-type]
    roster = [
        RosterMember(m.name, m.email, Role(m.role), m.matrix, m.time_zone, DeliveryMode(m.delivery))
        for m in config.member
    ]
    sync = await store.communities.sync_community(
        slug=config.slug, name=config.name, list_address=config.list_address, room=config.room, roster=roster
    )
    await store.communities.set_room_id(sync.community_id, room_id)
    record = await store.communities.by_slug(config.slug)
    assert record is not None
    return CommunityContext(config, record)


def mail(origin: str, sender: str, text: str, subject: str = "Estimation", **refs: object) -> InboundMessage:
    return InboundMessage(
        channel=Channel.EMAIL,
        origin_key=origin,
        community_slug="pm-practice",
        sender_address=sender,
        sender_name=sender.split("@")[0].title(),
        text=text,
        subject=subject,
        refs=ThreadRefs(**refs),  # type: ignore[arg-type]
        email_message_id=origin,
        sent_at=NOW,
    )


def chat(event_id: str, sender: str, text: str, **refs: object) -> InboundMessage:
    return InboundMessage(
        channel=Channel.MATRIX,
        origin_key=event_id,
        community_slug="pm-practice",
        sender_address=sender,
        sender_name=sender[1:].split(":")[0].title(),
        text=text,
        refs=ThreadRefs(**refs),  # type: ignore[arg-type]
        matrix_event_id=event_id,
        sent_at=NOW,
    )


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


async def test_email_post_goes_to_the_room_and_to_each_other_member(store: Store) -> None:
    ctx = await community(store)
    woken: list[bool] = []
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, on_queued=lambda: woken.append(True))
    outcome = await ingestor.ingest(ctx, mail("m1@example.org", "ana@example.org", "How do you estimate?"))
    assert outcome.status is IngestStatus.STORED
    assert outcome.post_id is not None
    rows = await store.outbox.for_post(outcome.post_id)
    assert sorted((r.channel.value, r.recipient) for r in rows) == [
        ("email", "kenji@example.jp"),
        ("email", "siobhan@example.ie"),  # not Ana (author), Marcus (digest), Lena (reader)
        ("matrix", ROOM),
    ]
    assert woken == [True]


async def test_same_message_twice_is_stored_once(store: Store) -> None:
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    first = await ingestor.ingest(ctx, mail("m1@example.org", "ana@example.org", "Hello"))
    again = await ingestor.ingest(ctx, mail("m1@example.org", "ana@example.org", "Hello"))
    assert again.status is IngestStatus.DUPLICATE
    assert again.post_id == first.post_id
    assert first.post_id is not None
    assert len(await store.outbox.for_post(first.post_id)) == 3


async def test_three_hops_stay_in_one_thread(store: Store) -> None:
    """Email → chat reply in its Matrix thread → email reply to the relayed chat message."""
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    root = await ingestor.ingest(ctx, mail("root@example.org", "ana@example.org", "Q?"))
    assert root.post_id is not None
    # The root reached the room as $root (what the Matrix courier records when it is sent).
    [to_room] = [r for r in await store.outbox.for_post(root.post_id) if r.channel is Channel.MATRIX]
    claimed = await store.outbox.claim_due("w", NOW + timedelta(seconds=1))
    assert to_room.id in {c.id for c in claimed}
    assert await store.outbox.mark_sent(to_room.id, "$root")

    reply = await ingestor.ingest(
        ctx,
        chat(
            "$r1",
            "@kenji:localhost",
            "Reference classes.",
            matrix_thread_root="$root",
            matrix_in_reply_to="$root",
        ),
    )
    assert reply.thread_id == root.thread_id
    assert reply.thread_rule == "matrix_thread"
    assert reply.post_id is not None
    rows = await store.outbox.for_post(reply.post_id)
    assert {r.channel for r in rows} == {Channel.EMAIL}  # never back to the room
    assert "kenji@example.jp" not in {r.recipient for r in rows}

    relayed_id = post_message_id(reply.post_id, ctx.domain)
    answer = await ingestor.ingest(
        ctx,
        mail(
            "a2@example.ie",
            "siobhan@example.ie",
            "Thanks!",
            subject="Re: [pm-practice] Q?",
            in_reply_to=relayed_id,
            references=("root@example.org", relayed_id),
        ),
    )
    assert answer.thread_id == root.thread_id
    assert answer.thread_rule == "in_reply_to"
    assert answer.post_id is not None
    post = await store.posts.get(answer.post_id)
    assert post is not None
    assert post.parent_id == reply.post_id


async def test_reply_token_threads_a_reply_with_mangled_headers(store: Store) -> None:
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    root = await ingestor.ingest(ctx, mail("root@example.org", "ana@example.org", "Q?"))
    assert root.thread_id is not None
    siobhan = next(r for r in await store.communities.recipients(ctx.id) if r.email == "siobhan@example.ie")
    token = sign_reply_token(KEY, siobhan.membership_id, root.thread_id)
    reply = await ingestor.ingest(
        ctx, mail("x@example.ie", "siobhan@example.ie", "A", subject="totally new", reply_token=token)
    )
    assert (reply.thread_id, reply.thread_rule) == (root.thread_id, "reply_token")
    # Someone else presenting Siobhán's token does not get threaded by it.
    other = await ingestor.ingest(
        ctx, mail("y@example.jp", "kenji@example.jp", "B", subject="another", reply_token=token)
    )
    assert other.thread_id != root.thread_id


async def test_non_member_is_held_not_dropped(store: Store) -> None:
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    outcome = await ingestor.ingest(ctx, mail("spam@elsewhere.net", "stranger@elsewhere.net", "Buy"))
    assert outcome.status is IngestStatus.HELD
    assert outcome.post_id is not None
    post = await store.posts.get(outcome.post_id)
    assert post is not None
    assert post.state is PostState.HELD
    assert await store.outbox.for_post(outcome.post_id) == []


async def test_non_member_ignored_under_ignore_policy(store: Store) -> None:
    ctx = await community(store, non_member_policy="ignore")
    outcome = await Ingestor(store, KEY, clock=lambda: NOW).ingest(
        ctx, chat("$x", "@stranger:localhost", "hi")
    )
    assert outcome.status is IngestStatus.IGNORED


async def test_batched_policy_folds_a_burst_into_one_thread_and_extends_the_quiet_period(
    store: Store,
) -> None:
    ctx = await community(store, relay_policy="batched", batch_quiet_seconds=60, batch_max_delay_seconds=600)
    clock = [NOW]
    ingestor = Ingestor(store, KEY, clock=lambda: clock[0])
    first = await ingestor.ingest(ctx, chat("$1", "@ana:localhost", "First"))
    clock[0] = NOW + timedelta(seconds=30)
    second = await ingestor.ingest(ctx, chat("$2", "@kenji:localhost", "Second"))
    assert first.thread_id == second.thread_id
    assert first.post_id is not None
    rows = await store.outbox.for_post(first.post_id)
    assert rows
    assert all(r.kind is DeliveryKind.POST and r.batch_key == f"room:{ROOM}" for r in rows)
    assert all(r.not_before == NOW + timedelta(seconds=90) for r in rows)  # pushed back by the second
    assert await store.outbox.claim_due("w", NOW + timedelta(seconds=61)) == []
    due = await store.outbox.claim_due("w", NOW + timedelta(seconds=91))
    assert due
    assert {d.state for d in due} == {DeliveryState.SENDING}
