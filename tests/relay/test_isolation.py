"""Twenty communities in one daemon's store, on both engines, sharing people, a Message-ID and a tag
name: no post, tag, reader, story, reminder, welcome, audit line or indicator leaks from one to another,
and a convener or core member of one community cannot act on another."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from bridge.config.schema import MeetingConfig, MemberConfig, TaxonomyTag
from bridge.core.indicators import compute
from bridge.core.model import Channel
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor, IngestStatus
from bridge.relay.moderation import Moderation
from bridge.relay.reminders import Reminders
from bridge.relay.welcomes import Welcomer
from bridge.store import Database, Store
from bridge.store.audit import AuditLog
from bridge.store.community_facts import CommunityFactsRepository
from tests.relay.test_ingest import KEY, NOW, chat, community, mail
from tests.relay.test_moderation import Room, room_commands

COMMUNITIES = 20


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


def roster(n: int) -> list[MemberConfig]:
    """Ana is in every community (convener of c0 only), Kenji is core in c1 only, and each community
    has a member of its own."""
    ana = "convener" if n == 0 else "member"
    kenji = "core" if n == 1 else "member"
    zone = "Asia/Tokyo" if n % 2 else "Europe/Dublin"
    return [
        MemberConfig(name="Ana Souza", email="ana@example.org", matrix="@ana:localhost", role=ana),
        MemberConfig(name="Kenji Watanabe", email="kenji@example.jp", matrix="@kenji:localhost", role=kenji),
        MemberConfig(name=f"Member {n}", email=f"m{n}@example.org", time_zone=zone),
    ]


async def test_many_communities_stay_isolated(store: Store) -> None:
    contexts: list[CommunityContext] = []
    for n in range(COMMUNITIES):
        contexts.append(
            await community(
                store,
                room_id=f"!c{n}:localhost",
                slug=f"c{n}",
                name=f"Community {n}",
                list_address=f"c{n}@lists.example.com",
                room=f"#c{n}:localhost",
                member=roster(n),
                taxonomy=[TaxonomyTag(tag="estimation", label="Estimation")],
                meeting=[MeetingConfig(id="call", title="Call", first=date(2026, 11, 3), slots=[time(15)])]
                if n == 4
                else [],
            )
        )
    by_id = {c.id: c for c in contexts}
    moderation = Moderation(store, clock=lambda: NOW)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, gate=moderation)
    threads: dict[int, int] = {}
    for n, ctx in enumerate(contexts):
        own = await ingestor.ingest(
            ctx, mail(f"own-{n}@x", f"m{n}@example.org", f"Hello #estimation #only{n}", subject=f"Topic {n}")
        )
        assert own.thread_id is not None
        threads[ctx.id] = own.thread_id
        # One mail sent to every list: one post in each community, in that community's own thread.
        shared = await ingestor.ingest(
            ctx, mail("shared@x", "ana@example.org", "To all lists", subject="All")
        )
        assert shared.status is IngestStatus.STORED
    held = await ingestor.ingest(contexts[2], mail("spam@x", "stranger@elsewhere.net", "Buy"))
    assert held.status is IngestStatus.HELD
    await ingestor.ingest(
        contexts[3],
        mail("story@x", "m3@example.org", "Estimation saved our launch. #story", subject="Thanks"),
    )
    reminders = Reminders(store, lambda: by_id)
    assert await reminders.send_due(NOW + timedelta(hours=12)) == 1  # c4's call, 3 November 15:00
    welcomer = Welcomer(store, lambda: by_id, "https://icop.example.com", clock=lambda: NOW)
    assert await welcomer.greet_newcomers(NOW) == 3 * COMMUNITIES  # Ana and Kenji once in each

    for n, ctx in enumerate(contexts):
        posts = [p for t in {threads[ctx.id]} for p in await store.posts.thread_posts(t)]
        assert all(p.community_id == ctx.id for p in posts)
        tags = {t.name: t.threads for t in await store.tags.usage(ctx.id)}
        assert tags == {"estimation": 1, f"only{n}": 1, **({"meeting": 1} if n == 4 else {})}
        recipients = {r.email for r in await store.communities.recipients(ctx.id)}
        assert recipients == {"ana@example.org", "kenji@example.jp", f"m{n}@example.org"}
        for post in posts:
            for row in await store.outbox.for_post(post.id):
                if row.channel is Channel.MATRIX:
                    assert row.recipient == f"!c{n}:localhost"
                else:
                    assert row.recipient in recipients
        stories = await store.stories.in_community(ctx.id)
        assert [s.text for s in stories] == (["Estimation saved our launch."] if n == 3 else [])
        reminded = await store.meetings.of_meeting(ctx.id, "call", 0)
        assert len(reminded) == (1 if n == 4 else 0)
        facts = await CommunityFactsRepository(store.db).load(
            ctx.id, ctx.slug, "UTC", NOW + timedelta(days=1)
        )
        report = compute(facts, NOW - timedelta(days=1), NOW + timedelta(days=1))
        expected_posts = 3 if n == 3 else 2  # its member's, Ana's copy of the shared mail, c3's story
        assert report.values["posts"] == expected_posts
        assert report.values["participants"] == 2
        assert report.values["stories"] == (1 if n == 3 else 0)
        assert report.values["regions"] == {"Asia" if n % 2 else "Europe": 1, "UTC": 1}
        for event in await AuditLog(store.db).of_community(ctx.id):
            assert (
                event.target.startswith(("member ", "post "))
                or event.target == f"thread {threads[ctx.id]}"
                or (n == 4 and event.target.startswith("thread "))
            )
        welcomes = await store.welcomes.of_community(ctx.id)
        assert {w.address for w in welcomes} == recipients
        assert {w.membership_id for w in welcomes} == {
            r.membership_id for r in await store.communities.recipients(ctx.id)
        }

    # Ana convenes c0 only: in c5's room she may neither decide on c2's held post nor tag; Kenji, core
    # in c1, is told c2's post is not one of c1's.
    room = Room()
    commands = room_commands(moderation, room.send)
    assert await commands.intercept(
        contexts[5], chat("$a1", "@ana:localhost", f"!icop approve {held.post_id}")
    )
    assert room.bodies()[-1].startswith("Sorry, only the conveners and core members of Community 5")
    assert await commands.intercept(
        contexts[1], chat("$k1", "@kenji:localhost", f"!icop approve {held.post_id}")
    )
    assert room.bodies()[-1].startswith(f"There is no post {held.post_id} in c1")
    assert await commands.intercept(contexts[0], chat("$a2", "@ana:localhost", f"!icop ban {held.post_id}"))
    assert room.bodies()[-1].startswith(f"There is no post {held.post_id} in c0")
    post = await store.posts.get(held.post_id or 0)
    assert post is not None
    assert post.state.value == "held"
