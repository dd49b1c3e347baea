"""The facts behind the value indicators and meeting planning, read from a real store on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.core.indicators import compute
from bridge.core.model import PostState, PracticeState, Role
from bridge.store import CommunityRecord, NewThread, Store
from bridge.store.community_facts import CommunityFactsRepository, Participant
from bridge.store.models import Practice, Tag, ThreadTag
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
