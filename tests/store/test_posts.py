"""Posts: ingest atomic and idempotent, threading lookups, remote ids, edits and deletions."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError

from bridge.core.model import (
    Attachment,
    Channel,
    DeliveryKind,
    DeliverySpec,
    DeliveryState,
    InboundMessage,
    PostState,
)
from bridge.store import CommunityRecord, Database, IngestResult, NewThread, PostRef, RawMessage, Store
from tests.store.conftest import T0, email_message, matrix_message

TO_ROOM = DeliverySpec(Channel.MATRIX, "!room:example.com")
TO_BO = DeliverySpec(Channel.EMAIL, "bo@example.org")


class Boom(Exception):
    pass


async def _ingest(
    store: Store,
    community: CommunityRecord,
    message: InboundMessage,
    thread: int | NewThread | None = None,
    **options: Any,
) -> IngestResult:
    subject = message.subject or "chat"
    return await store.posts.ingest(
        message,
        community_id=options.pop("community_id", community.id),
        thread=thread if thread is not None else NewThread(subject, subject.lower()),
        author_id=None,
        **{"now": T0, **options},
    )


async def _count(db: Database, table: str) -> int:
    rows = await db.fetch(f'SELECT COUNT(*) AS n FROM "{table}"')
    return int(rows[0]["n"])


async def test_ingest_stores_post_thread_raw_attachments_and_deliveries(
    store: Store, community: CommunityRecord
) -> None:
    plan = Attachment("plan.txt", "text/plain", 4, b"plan")
    big = Attachment("big.pdf", "application/pdf", 10**9, url="https://x/big.pdf")
    message = email_message(
        "kick@example.org", html="<p>hi</p>", full_text="hello\n> quoted", attachments=(plan, big)
    )
    raw = RawMessage("message/rfc822", b"From: ana\r\n\r\nhello")
    result = await _ingest(store, community, message, deliveries=[TO_ROOM, TO_BO, TO_BO], raw=raw)
    assert not result.duplicate
    post = await store.posts.get(result.post_id)
    assert post is not None
    assert (post.thread_id, post.text, post.html) == (result.thread_id, "hello", "<p>hi</p>")
    assert (post.full_text, post.origin_channel, post.email_message_id) == (
        "hello\n> quoted",
        Channel.EMAIL,
        "kick@example.org",
    )
    assert (post.state, post.created_at) == (PostState.VISIBLE, T0)
    thread = await store.posts.thread(result.thread_id)
    assert thread is not None
    assert (thread.subject, thread.normalised_subject, thread.last_activity_at) == (
        "Kick-off",
        "kick-off",
        T0,
    )
    assert await store.posts.thread_by_token(thread.token) == thread
    assert await store.posts.attachments(result.post_id) == [plan, big]
    deliveries = await store.outbox.for_post(result.post_id)
    assert [(d.channel, d.recipient, d.state, d.next_attempt_at) for d in deliveries] == [
        (Channel.MATRIX, "!room:example.com", DeliveryState.PENDING, T0),
        (Channel.EMAIL, "bo@example.org", DeliveryState.PENDING, T0),
    ]
    assert await _count(store.db, "raw_source") == 1


async def test_ingesting_the_same_origin_twice_stores_it_once(
    store: Store, community: CommunityRecord
) -> None:
    first = await _ingest(store, community, email_message("m1@example.org"), deliveries=[TO_ROOM, TO_BO])
    again = await _ingest(
        store, community, email_message("m1@example.org", text="replayed"), deliveries=[TO_ROOM, TO_BO]
    )
    assert (again.post_id, again.thread_id, again.duplicate) == (first.post_id, first.thread_id, True)
    assert await _count(store.db, "post") == 1
    assert await _count(store.db, "thread") == 1
    assert await _count(store.db, "delivery") == 2


async def test_a_message_is_known_by_its_id_on_either_channel_whatever_its_origin_key(
    store: Store, community: CommunityRecord
) -> None:
    by_mail = await _ingest(store, community, email_message("m1@example.org"))
    by_chat = await _ingest(store, community, matrix_message("$e1"))
    # The same mail and event seen again under other origin keys (a re-import, a bridge's copy).
    mail_again = replace(email_message("m1@example.org"), origin_key="import:1")
    chat_again = replace(matrix_message("$e1"), origin_key="import:2")
    assert (await _ingest(store, community, mail_again)).post_id == by_mail.post_id
    assert (await _ingest(store, community, chat_again)).post_id == by_chat.post_id
    # The origin key wins over an id that another post carries.
    both = replace(matrix_message("$e1"), origin_key="m1@example.org")
    again = await _ingest(store, community, both)
    assert (again.post_id, again.duplicate) == (by_mail.post_id, True)
    assert await _count(store.db, "post") == 2


async def test_a_failing_delivery_insert_stores_nothing(store: Store, community: CommunityRecord) -> None:
    broken = DeliverySpec(Channel.EMAIL, "ghost@example.org", membership_id=999_999)
    message = email_message("m1@example.org", attachments=(Attachment("a", "text/plain", 1, b"a"),))
    with pytest.raises(IntegrityError):
        await _ingest(
            store, community, message, deliveries=[TO_ROOM, broken], raw=RawMessage("message/rfc822", b"x")
        )
    for table in ("post", "thread", "delivery", "attachment", "raw_source"):
        assert await _count(store.db, table) == 0, table
    assert await store.posts.by_message_ids(community.id, ["m1@example.org"]) == {}


async def _ingest_and_move_cursor(
    store: Store, community: CommunityRecord, cursor: str, *, fail: bool
) -> tuple[IngestResult, IngestResult]:
    async with store.db.transaction() as tx:
        stored = await _ingest(store, community, matrix_message("$e1"), deliveries=[TO_BO], tx=tx)
        replay = await _ingest(store, community, matrix_message("$e1"), tx=tx)
        await store.cursors.set("matrix:next_batch", cursor, tx=tx)
        if fail:
            raise Boom
    return stored, replay


async def test_ingest_and_cursor_commit_together_or_not_at_all(
    store: Store, community: CommunityRecord
) -> None:
    with pytest.raises(Boom):
        await _ingest_and_move_cursor(store, community, "s1", fail=True)
    assert await store.cursors.get("matrix:next_batch") is None
    assert await _count(store.db, "post") == 0

    stored, replay = await _ingest_and_move_cursor(store, community, "s2", fail=False)
    assert replay.duplicate
    assert replay.post_id == stored.post_id
    assert await store.cursors.get("matrix:next_batch") == "s2"
    assert await _count(store.db, "delivery") == 1


async def test_concurrent_ingest_of_one_message_stores_one_post(
    store: Store, community: CommunityRecord, store_url: str
) -> None:
    async with Database(store_url) as second_process:
        other = Store(second_process)
        results = await asyncio.gather(
            *(
                _ingest(s, community, email_message("race@example.org"), deliveries=[TO_ROOM])
                for s in (store, other, store, other)
            )
        )
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert len({r.post_id for r in results}) == 1
    assert await _count(store.db, "post") == 1
    assert await _count(store.db, "delivery") == 1


async def test_threading_lookups(store: Store, community: CommunityRecord) -> None:
    root = await _ingest(store, community, email_message("root@example.org"), deliveries=[TO_ROOM])
    later = T0 + timedelta(hours=1)
    reply = await _ingest(
        store, community, matrix_message("$reply"), root.thread_id, parent_id=root.post_id, now=later
    )
    assert reply.thread_id == root.thread_id

    found = await store.posts.by_message_ids(community.id, ["unknown@x", "root@example.org"])
    assert found == {"root@example.org": PostRef(root.post_id, root.thread_id)}
    assert await store.posts.by_event_ids(community.id, ["$reply", "$nope"]) == {
        "$reply": PostRef(reply.post_id, root.thread_id)
    }

    # Once relayed, the chat reply is known by its Message-ID too; the first id recorded stays.
    assert await store.posts.record_remote_id(reply.post_id, Channel.EMAIL, "p2@lists.example.com")
    assert not await store.posts.record_remote_id(reply.post_id, Channel.EMAIL, "p3@lists.example.com")
    by_ours = await store.posts.by_message_ids(community.id, ["p2@lists.example.com"])
    assert by_ours == {"p2@lists.example.com": PostRef(reply.post_id, root.thread_id)}

    thread = await store.posts.thread(root.thread_id)
    assert thread is not None
    assert thread.last_activity_at == later
    recent = store.posts.recent_threads_by_subject
    assert await recent(community.id, "kick-off", T0 + timedelta(minutes=30)) == [thread]
    assert await recent(community.id, "kick-off", T0 + timedelta(hours=2)) == []
    assert await recent(community.id, "other", T0) == []
    assert [p.id for p in await store.posts.thread_posts(root.thread_id)] == [root.post_id, reply.post_id]
    first = await store.posts.thread_root(root.thread_id)
    assert first is not None
    assert first.id == root.post_id
    assert await store.posts.thread_root(root.thread_id + 1000) is None


async def test_one_message_id_in_two_communities_is_two_posts(
    store: Store, community: CommunityRecord
) -> None:
    other = await store.communities.sync_community(
        slug="other", name="Other", list_address="other@lists.example.com", room="#o:example.com", roster=[]
    )
    here = await _ingest(store, community, email_message("cross@example.org"))
    there = await _ingest(
        store, community, email_message("cross@example.org"), community_id=other.community_id
    )
    assert not here.duplicate
    assert not there.duplicate
    assert await _count(store.db, "post") == 2


async def test_edits_keep_every_version_and_are_idempotent(store: Store, community: CommunityRecord) -> None:
    post = await _ingest(store, community, matrix_message("$orig", text="v1"))
    mail_edit = [DeliverySpec(Channel.EMAIL, "bo@example.org", kind=DeliveryKind.EDIT)]
    later = T0 + timedelta(minutes=5)

    async def edit(text: str, key: str) -> int | None:
        return await store.posts.edit(
            post.post_id, text=text, origin_key=key, deliveries=mail_edit, now=later
        )

    assert await edit("v2", "$edit1") == 2
    assert await edit("v2", "$edit1") is None
    assert await edit("v3", "$edit2") == 3
    stored = await store.posts.get(post.post_id)
    assert stored is not None
    assert (stored.text, stored.edited_at) == ("v3", later)
    revisions = await store.db.fetch('SELECT "revision", "body_text" FROM "post_revision"')
    assert sorted((r["revision"], r["body_text"]) for r in revisions) == [(1, "v1"), (2, "v2"), (3, "v3")]
    edits = await store.outbox.for_post(post.post_id)
    assert [(d.kind, d.revision) for d in edits] == [(DeliveryKind.EDIT, 2), (DeliveryKind.EDIT, 3)]


async def test_deleting_cancels_what_has_not_gone_and_queues_redactions(
    store: Store, community: CommunityRecord
) -> None:
    to_cy = DeliverySpec(Channel.EMAIL, "cy@example.org")
    post = await _ingest(store, community, matrix_message("$gone"), deliveries=[TO_BO, to_cy])
    [in_flight] = await store.outbox.claim_due("w1", T0, limit=1)
    redact = [DeliverySpec(Channel.EMAIL, "bo@example.org", kind=DeliveryKind.REDACTION)]
    assert await store.posts.delete(post.post_id, deliveries=redact, now=T0)
    assert not await store.posts.delete(post.post_id, deliveries=redact, now=T0)
    stored = await store.posts.get(post.post_id)
    assert stored is not None
    assert stored.state is PostState.DELETED
    states = {(d.kind, d.recipient): d.state for d in await store.outbox.for_post(post.post_id)}
    not_claimed = next(r for r in ("bo@example.org", "cy@example.org") if r != in_flight.recipient)
    assert states == {
        (DeliveryKind.POST, in_flight.recipient): DeliveryState.SENDING,
        (DeliveryKind.POST, not_claimed): DeliveryState.CANCELLED,
        (DeliveryKind.REDACTION, "bo@example.org"): DeliveryState.PENDING,
    }


async def test_a_held_post_is_approved(store: Store, community: CommunityRecord) -> None:
    stranger = email_message("s@example.net", sender_address="stranger@example.net")
    post = await _ingest(store, community, stranger, state=PostState.HELD)
    assert await store.posts.set_state(post.post_id, PostState.VISIBLE)
    stored = await store.posts.get(post.post_id)
    assert stored is not None
    assert stored.state is PostState.VISIBLE
