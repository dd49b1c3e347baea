"""Roles and audit on both stores: every moderation, tagging, practice and subscription action is in the
audit log with who did it; a member over ``max_posts_per_hour`` is held (never dropped) and told once,
the core team is never limited, and an approval relays the held post."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bridge.core.model import Channel, DeliveryKind, DeliveryMode, MembershipState, PostState
from bridge.relay.ingest import RATE_LIMIT_NOTICE, Ingestor, IngestStatus
from bridge.relay.moderation import Moderation
from bridge.relay.notices import HELD_NOTICE
from bridge.store import Database, Store
from bridge.store.audit import AuditLog
from tests.relay.test_ingest import KEY, NOW, ROOM, chat, community, mail
from tests.relay.test_moderation import Room, room_commands


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


async def test_every_kind_of_action_is_in_the_audit_log_with_its_actor(store: Store) -> None:
    ctx = await community(store)
    moderation = Moderation(store, clock=lambda: NOW)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, gate=moderation)
    room = Room()
    commands = room_commands(moderation, room.send)
    root = await ingestor.ingest(ctx, chat("$root", "@kenji:localhost", "Planning poker works. #estimation"))
    for text in (
        "!icop tag risk",
        "!icop untag risk",
        "!icop practice Planning poker",
        "!icop summary Vote.",
    ):
        assert await commands.intercept(
            ctx, chat(f"$c{text}", "@ana:localhost", text, matrix_thread_root="$root")
        )
    assert await commands.intercept(
        ctx, chat("$un", "@ana:localhost", "!icop unpractice", matrix_thread_root="$root")
    )
    held = await ingestor.ingest(ctx, mail("h@x", "stranger@elsewhere.net", "Buy now"))
    await moderation.ban(ctx, held.post_id or 0, "@ana:localhost", "spam")
    again = await ingestor.ingest(ctx, mail("h2@x", "stranger@elsewhere.net", "Buy again"))
    assert again.status is IngestStatus.REJECTED
    siobhan = next(m for m in await store.communities.members(ctx.id) if m.email == "siobhan@example.ie")
    await store.communities.set_delivery(siobhan.membership_id, DeliveryMode.NONE, by="siobhan@example.ie")
    await store.communities.set_state(
        siobhan.membership_id, MembershipState.SUSPENDED, reason="bounces", by="bounces"
    )
    await store.communities.reset_bounces(siobhan.membership_id, by="cli")

    events = [(e.actor, e.action, e.target, e.detail) for e in await AuditLog(store.db).of_community(ctx.id)]
    thread = f"thread {root.thread_id}"
    assert ("config", "member.add", "member ana@example.org", "convener") in events
    assert ("@kenji:localhost", "tag.add", thread, "#estimation (hashtag)") in events
    assert ("@ana:localhost", "tag.add", thread, "#risk (command)") in events
    assert ("@ana:localhost", "tag.remove", thread, "#risk") in events
    assert ("@ana:localhost", "practice.confirm", thread, "Planning poker") in events
    assert ("@ana:localhost", "practice.summary", thread, "Vote.") in events
    assert ("@ana:localhost", "practice.withdraw", thread, "Planning poker") in events
    assert ("stranger@elsewhere.net", "post.hold", f"post {held.post_id}", "not a member") in events
    assert ("@ana:localhost", "post.ban", f"post {held.post_id}", "spam") in events
    assert ("icop-bridge", "post.refuse", f"post {again.post_id}", "banned sender") in events
    assert ("siobhan@example.ie", "member.delivery", "member siobhan@example.ie", "each → none") in events
    assert ("bounces", "member.state", "member siobhan@example.ie", "active → suspended (bounces)") in events
    assert ("cli", "member.reset-bounces", "member siobhan@example.ie", "score 0 → 0") in events
    cutoff = NOW + timedelta(seconds=1)  # the commands ran at NOW; --since leaves them out
    since = await AuditLog(store.db).of_community(ctx.id, since=cutoff)
    assert since
    assert all(e.at >= cutoff for e in since)
    assert not any(e.action == "tag.add" for e in since)


async def test_a_member_over_the_rate_limit_is_held_and_told_once(store: Store) -> None:
    """Siobhán may post 2 an hour: the third and fourth are held; only the third tells anyone (the room,
    Ana the convener, Siobhán by mail). Kenji (core) is never limited. Approving relays the post."""
    ctx = await community(store, max_posts_per_hour=2)
    moderation = Moderation(store, clock=lambda: NOW)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, gate=moderation)
    outcomes = [
        await ingestor.ingest(ctx, mail(f"s{n}@x", "siobhan@example.ie", f"Post {n}", subject=f"T{n}"))
        for n in range(4)
    ]
    assert [o.status for o in outcomes] == [
        IngestStatus.STORED,
        IngestStatus.STORED,
        IngestStatus.HELD,
        IngestStatus.HELD,
    ]
    third, fourth = outcomes[2].post_id or 0, outcomes[3].post_id or 0
    told = sorted(
        (r.channel, r.recipient, r.revision)
        for r in await store.outbox.for_post(third)
        if r.kind is DeliveryKind.NOTICE
    )
    assert told == [
        (Channel.EMAIL, "ana@example.org", HELD_NOTICE),
        (Channel.EMAIL, "kenji@example.jp", HELD_NOTICE),  # the core team hears of held posts too
        (Channel.EMAIL, "siobhan@example.ie", RATE_LIMIT_NOTICE),
        (Channel.MATRIX, ROOM, RATE_LIMIT_NOTICE),
    ]
    assert await store.outbox.for_post(fourth) == []  # held silently: told once is enough
    kenji = [
        await ingestor.ingest(ctx, chat(f"$k{n}", "@kenji:localhost", f"Core post {n}")) for n in range(4)
    ]
    assert {o.status for o in kenji} == {IngestStatus.STORED}
    # An hour later Siobhán posts freely again (what was held still counts only in its own hour).
    later = Ingestor(store, KEY, clock=lambda: NOW + timedelta(hours=1, minutes=1), gate=moderation)
    message = mail("s9@x", "siobhan@example.ie", "Later", subject="T9")
    outcome = await later.ingest(ctx, replace(message, sent_at=NOW + timedelta(hours=1, minutes=1)))
    assert outcome.status is IngestStatus.STORED
    decision = await moderation.approve(ctx, third, "@ana:localhost")
    assert decision.done
    post = await store.posts.get(third)
    assert post is not None
    assert post.state is PostState.VISIBLE
    assert any(r.kind is DeliveryKind.POST for r in await store.outbox.for_post(third))
    held = await AuditLog(store.db).of_community(ctx.id, action="post.hold")
    assert [(e.target, e.detail) for e in held] == [
        (f"post {third}", "over the limit of 2 posts an hour"),
        (f"post {fourth}", "over the limit of 2 posts an hour"),
    ]
