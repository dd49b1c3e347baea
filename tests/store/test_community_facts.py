"""The facts behind the value indicators and meeting planning, read from a real store on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.core.indicators import compute
from bridge.core.model import DeliveryMode, PostState, PracticeState, Role
from bridge.store import CommunityRecord, NewThread, Store
from bridge.store.community_facts import CommunityFactsRepository, Participant
from bridge.store.models import Practice, Tag, ThreadTag
from bridge.store.subscriptions import SettingsChange
from tests.store.conftest import T0, email_message, matrix_message


async def test_posts_members_tags_practices_and_reactions_reach_the_indicators(
    store: Store, community: CommunityRecord
) -> None:
    ana = await store.communities.person_by_email("ana@example.org")
    bo = await store.communities.person_by_email("bo@example.org")
    assert ana is not None
    assert bo is not None
    posts = store.posts
    question = await posts.ingest(
        email_message("<q@example.org>", "How do you estimate?", sent_at=T0),
        community_id=community.id,
        thread=NewThread("Estimation", "estimation"),
        author_id=ana.id,
    )
    answer = await posts.ingest(
        matrix_message(
            "$answer",
            "Planning poker, see https://icop.example.com/c/pm-practice/t/999",
            sender_address="@bo:example.com",
            sent_at=T0 + timedelta(hours=3),
        ),
        community_id=community.id,
        thread=question.thread_id,
        author_id=bo.id,
        parent_id=question.post_id,
    )
    await posts.ingest(
        email_message("<stranger@example.net>", "Buy now", sender_address="x@example.net", sent_at=T0),
        community_id=community.id,
        thread=NewThread("Spam", "spam"),
        author_id=None,
        state=PostState.HELD,
    )
    assert await store.reactions.add(community.id, "$answer", "$r1", "👍", "@ana:example.com")
    async with store.db.session() as conn:
        tag = await Tag.create(
            community_id=community.id, name="estimation", label="Estimation", using_db=conn
        )
        await ThreadTag.create(thread_id=question.thread_id, tag_id=tag.id, using_db=conn)
        await Practice.create(
            community_id=community.id,
            thread_id=question.thread_id,
            title="Planning poker",
            state=PracticeState.CONFIRMED,
            created_at=T0,
            confirmed_at=T0 + timedelta(days=1),
            updated_at=T0,
            using_db=conn,
        )

    until = datetime.now(UTC) + timedelta(days=1)  # reactions are stamped when stored
    facts = await CommunityFactsRepository(store.db).load(community.id, "pm-practice", "Europe/Dublin", until)
    assert [p.id for p in facts.posts] == [question.post_id, answer.post_id]  # the held post is not there
    assert facts.posts[1].author == f"p:{bo.id}"
    assert facts.posts[1].cited_threads == (999,)
    assert facts.thread_tags == {question.thread_id: ["estimation"]}
    assert facts.reactions[0].reactor == f"p:{ana.id}"

    values = compute(facts, T0 - timedelta(days=1), until).values
    assert values["posts"] == 2
    assert values["by_channel"] == {"matrix": 1, "email": 1}
    assert values["cross_channel_replies"] == 1
    assert values["median_first_response_hours"] == 3.0
    assert values["practices"] == 1
    assert values["tags"] == {"estimation": 1}
    assert values["regions"] == {"Europe": 2}  # both take the community's zone
    assert values["engaged_share"] == 1.0  # Ana and Bo, the two members who may post (Cy reads)


async def test_participants_have_their_role_address_and_zone(
    store: Store, community: CommunityRecord
) -> None:
    found = await CommunityFactsRepository(store.db).participants(community.id)
    assert found == [
        Participant("ana@example.org", "Ana Souza", Role.CONVENER, None),
        Participant("bo@example.org", "Bo Lind", Role.MEMBER, None),
        Participant("cy@example.org", "Cy Reader", Role.READER, None),
    ]


async def test_digest_answers_and_readers_come_from_the_stored_subscriptions(
    store: Store, community: CommunityRecord
) -> None:
    """Each "was this useful?" answer is a fact dated when it was given (a changed answer counts once,
    as its latest); ``readers`` counts the memberships the digest sender would mail: Cy the reader
    (``each`` means digests for a reader) and Dee who confirmed, not Ed whose subscription waits for
    its confirmation, nor Bo who takes every post and no digest."""
    members = {m.email: m for m in await store.communities.members(community.id)}
    cy = members["cy@example.org"].membership_id
    dee, _ = await store.subscriptions.request(
        community.id, email="dee@example.org", name="Dee", change=SettingsChange(DeliveryMode.DIGEST)
    )
    assert await store.subscriptions.confirm(dee, T0)
    await store.subscriptions.request(
        community.id, email="ed@example.org", name="Ed", change=SettingsChange(DeliveryMode.DIGEST)
    )
    week = timedelta(days=7)
    first = await store.digests.begin(cy, T0 - week, T0)
    second = await store.digests.begin(cy, T0, T0 + week)
    third = await store.digests.begin(dee, T0, T0 + week)
    assert first is not None
    assert second is not None
    assert third is not None
    assert await store.digests.record_feedback(first, True, T0 + timedelta(hours=1))
    assert await store.digests.record_feedback(second, False, T0 + week + timedelta(hours=2))
    assert await store.digests.record_feedback(second, True, T0 + week + timedelta(hours=3))  # changed
    assert await store.digests.record_feedback(third, False, T0 + week + timedelta(hours=4))

    repository = CommunityFactsRepository(store.db)
    facts = await repository.load(community.id, "pm-practice", "Europe/Dublin", T0 + 2 * week)
    assert sorted((f.useful, f.created_at) for f in facts.feedback) == [
        (False, T0 + week + timedelta(hours=4)),
        (True, T0 + timedelta(hours=1)),
        (True, T0 + week + timedelta(hours=3)),
    ]
    values = compute(facts, T0 + week, T0 + 2 * week).values
    assert values["digest_usefulness"] == {"useful": 1, "not_useful": 1, "share": 0.5}
    assert values["readers"] == 2
    earlier = await repository.load(community.id, "pm-practice", "Europe/Dublin", T0 + week)
    assert compute(earlier, T0, T0 + week).values["digest_usefulness"] == {
        "useful": 1,
        "not_useful": 0,
        "share": 1.0,
    }
