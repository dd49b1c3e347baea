"""The archive's read queries on both backends: what a page may show, in which order, a page at a time.

Each case says what a reader gets: held and rejected posts never appear (not even as a thread in a
list), deleted posts stay as tombstones without their text or files, earlier revisions of an edited
post are offered, and thread lists continue after a cursor without repeating or skipping a thread.
"""

from __future__ import annotations

from datetime import timedelta

from bridge.core.model import Attachment, Channel, MembershipState, PostState, PracticeState, TagSource
from bridge.store import CommunityRecord, NewThread, Store
from bridge.store.models import Practice, Tag, ThreadTag
from tests.store.conftest import T0, email_message, matrix_message


async def _thread(store: Store, community: CommunityRecord, key: str, subject: str, minutes: int) -> int:
    result = await store.posts.ingest(
        email_message(f"{key}@example.org", f"{subject} body", subject=subject, sent_at=T0),
        community_id=community.id,
        thread=NewThread(subject, subject.lower()),
        author_id=None,
        now=T0 + timedelta(minutes=minutes),
    )
    return result.thread_id


async def _tag(store: Store, community: CommunityRecord, name: str, *thread_ids: int) -> None:
    async with store.db.session() as conn:
        tag = await Tag.create(community_id=community.id, name=name, label=name.title(), using_db=conn)
        for thread_id in thread_ids:
            await ThreadTag.create(
                thread_id=thread_id, tag_id=tag.id, source=TagSource.HASHTAG, applied_at=T0, using_db=conn
            )


async def test_recent_threads_newest_first_a_page_at_a_time_without_held_only_threads(
    store: Store, community: CommunityRecord
) -> None:
    ids = [await _thread(store, community, f"t{n}", f"Topic {n}", n) for n in range(5)]
    held = await store.posts.ingest(
        email_message("held@example.org", subject="Buy now", sender_address="spam@example.net"),
        community_id=community.id,
        thread=NewThread("Buy now", "buy now"),
        author_id=None,
        state=PostState.HELD,
        now=T0 + timedelta(minutes=30),
    )
    first = await store.archive.recent_threads(community.id, limit=2)
    assert [t.id for t in first] == [ids[4], ids[3]]  # the held stranger's thread is not listed
    after = (first[-1].last_activity_at, first[-1].id)
    second = await store.archive.recent_threads(community.id, limit=2, before=after)
    third = await store.archive.recent_threads(
        community.id, limit=5, before=(second[-1].last_activity_at, second[-1].id)
    )
    assert [t.id for t in second + third] == [ids[2], ids[1], ids[0]]
    assert held.thread_id not in [t.id for t in first + second + third]
    assert await store.archive.thread(community.id, held.thread_id) is None


async def test_summary_counts_visible_posts_and_marks_each_participant_channel(
    store: Store, community: CommunityRecord
) -> None:
    thread = await _thread(store, community, "root", "Estimates", 0)
    for n, state in enumerate((PostState.VISIBLE, PostState.VISIBLE, PostState.REJECTED)):
        await store.posts.ingest(
            matrix_message(f"$e{n}", f"reply {n}", sender_name="Kenji" if n else "Ana Souza"),
            community_id=community.id,
            thread=thread,
            author_id=None,
            state=state,
            now=T0 + timedelta(minutes=n + 1),
        )
    await _tag(store, community, "estimation", thread)
    (summary,) = await store.archive.recent_threads(community.id, limit=10)
    assert summary.posts == 3
    assert summary.replies == 2
    assert [(p.name, p.channel) for p in summary.participants] == [
        ("Ana Souza", Channel.EMAIL),
        ("Ana Souza", Channel.MATRIX),
        ("Kenji", Channel.MATRIX),
    ]
    assert [(t.name, t.label) for t in summary.tags] == [("estimation", "Estimation")]
    tagged = await store.archive.recent_threads(community.id, limit=10, tag="estimation")
    assert [t.id for t in tagged] == [thread]
    assert await store.archive.recent_threads(community.id, limit=10, tag="other") == []


async def test_thread_posts_hide_held_keep_tombstones_and_offer_earlier_revisions(
    store: Store, community: CommunityRecord
) -> None:
    root = await store.posts.ingest(
        email_message(
            "root@example.org",
            "new words",
            full_text="new words\n\n> old words",
            attachments=(Attachment("plan.pdf", "application/pdf", 3, b"pdf"),),
        ),
        community_id=community.id,
        thread=NewThread("Kick-off", "kick-off"),
        author_id=None,
        now=T0,
    )
    edited = await store.posts.ingest(
        matrix_message("$edited", "first version"),
        community_id=community.id,
        thread=root.thread_id,
        author_id=None,
        now=T0 + timedelta(minutes=1),
    )
    before = await store.archive.thread_version(root.thread_id)
    await store.posts.edit(
        edited.post_id, text="second version", origin_key="$edit1", now=T0 + timedelta(minutes=2)
    )
    assert await store.archive.thread_version(root.thread_id) != before
    await store.posts.edit(
        edited.post_id, text="third version", origin_key="$edit2", now=T0 + timedelta(minutes=3)
    )
    gone = await store.posts.ingest(
        matrix_message("$gone", "regrettable", attachments=(Attachment("x.png", "image/png", 1, b"x"),)),
        community_id=community.id,
        thread=root.thread_id,
        author_id=None,
        now=T0 + timedelta(minutes=4),
    )
    before = await store.archive.thread_version(root.thread_id)
    await store.posts.delete(gone.post_id)
    assert await store.archive.thread_version(root.thread_id) != before
    await store.posts.ingest(
        email_message("held2@example.org", "held words"),
        community_id=community.id,
        thread=root.thread_id,
        author_id=None,
        state=PostState.HELD,
        now=T0 + timedelta(minutes=5),
    )
    posts = await store.archive.thread_posts(root.thread_id)
    assert [p.id for p in posts] == [root.post_id, edited.post_id, gone.post_id]
    first, second, tombstone = posts
    assert first.full_text == "new words\n\n> old words"
    assert [(f.number, f.filename, f.size) for f in first.files] == [(0, "plan.pdf", 3)]
    assert second.text == "third version"
    assert [(r.revision, r.text) for r in second.revisions] == [(1, "first version"), (2, "second version")]
    assert tombstone.deleted
    assert (tombstone.text, tombstone.html, tombstone.files) == ("", None, ())


async def test_tags_practices_and_readers(store: Store, community: CommunityRecord) -> None:
    one = await _thread(store, community, "a", "Reference classes", 0)
    two = await _thread(store, community, "b", "Pre-mortems", 1)
    await _tag(store, community, "estimation", one)
    await _tag(store, community, "risk", one, two)
    async with store.db.session() as conn:
        for thread, state in ((one, PracticeState.PROPOSED), (two, PracticeState.CONFIRMED)):
            await Practice.create(
                community_id=community.id,
                thread_id=thread,
                title=f"Practice {thread}",
                summary="why",
                state=state,
                created_at=T0,
                updated_at=T0,
                using_db=conn,
            )
    assert [(t.name, t.threads) for t in await store.archive.tags(community.id)] == [
        ("risk", 2),
        ("estimation", 1),
    ]
    tag = await store.archive.tag(community.id, "risk")
    assert tag is not None
    assert (tag.label, tag.threads) == ("Risk", 2)
    assert await store.archive.tag(community.id, "nope") is None
    catalogue = await store.archive.practices(community.id)
    assert [(p.thread_id, p.state) for p in catalogue] == [
        (two, PracticeState.CONFIRMED),
        (one, PracticeState.PROPOSED),
    ]
    assert [p.thread_id for p in await store.archive.practices(community.id, tag="estimation")] == [one]
    (newest, _older) = await store.archive.new_threads(community.id, limit=5)
    assert (newest.id, newest.subject, newest.author_name) == (two, "Pre-mortems", "Ana Souza")

    ana = await store.communities.person_by_email("ana@example.org")
    assert ana is not None
    reader = await store.archive.reader(ana.id)
    assert reader is not None
    assert reader.member_of(community.id)
    members = {m.email: m for m in await store.communities.members(community.id)}
    await store.communities.set_state(members["bo@example.org"].membership_id, MembershipState.BANNED)
    bo = await store.archive.reader(members["bo@example.org"].person_id)
    assert bo is not None
    assert not bo.member_of(community.id)
