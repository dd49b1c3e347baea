"""The outbox contract: claims under a lease, backoff, dead rows and their retry, concurrent claimers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from bridge.core.model import Channel, DeliveryKind, DeliverySpec, DeliveryState
from bridge.store import CommunityRecord, Database, NewThread, Outbox, PostRef, RetryPolicy, Store, upgrade
from tests.store.conftest import T0, email_message, matrix_message

POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(seconds=15))


async def _post_with_deliveries(
    store: Store, community: CommunityRecord, count: int, key: str = "m1@example.org", **spec: object
) -> int:
    specs = [DeliverySpec(Channel.EMAIL, f"r{i}@example.org", **spec) for i in range(count)]  # type: ignore[arg-type]
    result = await store.posts.ingest(
        email_message(key),
        community_id=community.id,
        thread=NewThread("Kick-off", "kick-off"),
        author_id=None,
        deliveries=specs,
        now=T0,
    )
    return result.post_id


async def test_claim_then_sent_records_the_remote_id(store: Store, community: CommunityRecord) -> None:
    post = await store.posts.ingest(
        email_message("m1@example.org"),
        community_id=community.id,
        thread=NewThread("Kick-off", "kick-off"),
        author_id=None,
        deliveries=[DeliverySpec(Channel.MATRIX, "!room:example.com")],
        now=T0,
    )
    [claimed] = await store.outbox.claim_due("w1", T0, limit=5, lease_seconds=30)
    assert (claimed.state, claimed.claimed_by, claimed.attempts) == (DeliveryState.SENDING, "w1", 1)
    assert claimed.claimed_until == T0 + timedelta(seconds=30)
    assert await store.outbox.claim_due("w2", T0, limit=5) == []
    assert await store.outbox.mark_sent(claimed.id, "$relayed")
    assert not await store.outbox.mark_sent(claimed.id, "$again")  # only a claimed row finishes
    [sent] = await store.outbox.list(DeliveryState.SENT)
    assert (sent.remote_id, sent.claimed_by, sent.claimed_until) == ("$relayed", None, None)
    # The relayed copy now threads Matrix replies back to the post.
    assert await store.posts.by_event_ids(community.id, ["$relayed"]) == {
        "$relayed": PostRef(post.post_id, post.thread_id)
    }


async def test_failures_back_off_then_park_the_row_as_dead_until_retried(
    store: Store, community: CommunityRecord
) -> None:
    outbox = Outbox(store.db, POLICY)
    await _post_with_deliveries(store, community, 1)
    now = T0
    for attempt, wait in ((1, 10), (2, 15)):  # 10 s, then 20 s capped at 15 s
        [row] = await outbox.claim_due("w1", now)
        assert row.attempts == attempt
        assert await outbox.mark_failed(row.id, f"refused {attempt}", now) is DeliveryState.PENDING
        assert await outbox.claim_due("w1", now + timedelta(seconds=wait - 1)) == []
        now += timedelta(seconds=wait)
    [row] = await outbox.claim_due("w1", now)
    assert await outbox.mark_failed(row.id, "refused 3", now) is DeliveryState.DEAD
    assert await outbox.claim_due("w1", now + timedelta(days=1)) == []
    [dead] = await outbox.list(DeliveryState.DEAD)
    assert (dead.attempts, dead.last_error) == (3, "refused 3")
    assert (await outbox.counts())[DeliveryState.DEAD] == 1

    assert await outbox.retry([dead.id, 12345], now=now) == 1
    [again] = await outbox.claim_due("w1", now)
    assert (again.id, again.attempts) == (dead.id, 1)


async def test_a_permanent_failure_is_dead_at_once(store: Store, community: CommunityRecord) -> None:
    await _post_with_deliveries(store, community, 1)
    [row] = await store.outbox.claim_due("w1", T0)
    assert await store.outbox.mark_dead(row.id, "550 no such user", T0, worker_id="w2") is None
    assert await store.outbox.mark_dead(row.id, "550 no such user", T0, worker_id="w1") is DeliveryState.DEAD
    [dead] = await store.outbox.list(DeliveryState.DEAD)
    assert (dead.id, dead.attempts, dead.last_error) == (row.id, 1, "550 no such user")


def test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(base=timedelta(seconds=30), cap=timedelta(minutes=5), jitter=0.5)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 60)] == [30, 60, 120, 240, 300, 300]
    assert policy.delay(2, rand=1.0) == timedelta(seconds=30)
    assert policy.delay(2, rand=0.5) == timedelta(seconds=45)


async def test_a_crashed_workers_claims_come_back_after_the_lease(
    store: Store, community: CommunityRecord
) -> None:
    await _post_with_deliveries(store, community, 2)
    crashed = await store.outbox.claim_due("crashed", T0, limit=10, lease_seconds=60)
    assert len(crashed) == 2
    assert await store.outbox.claim_due("w2", T0 + timedelta(seconds=59)) == []
    reclaimed = await store.outbox.claim_due("w2", T0 + timedelta(seconds=61), limit=10)
    assert [(r.id, r.claimed_by, r.attempts) for r in reclaimed] == [(c.id, "w2", 2) for c in crashed]
    # A late report from the worker that lost the lease is ignored; the new holder's counts.
    assert await store.outbox.mark_failed(reclaimed[0].id, "late", T0, worker_id="crashed") is None
    assert not await store.outbox.mark_sent(reclaimed[1].id, "p0@lists.example.com", worker_id="crashed")
    assert await store.outbox.mark_sent(reclaimed[0].id, "p1@lists.example.com", worker_id="w2")


async def test_not_before_holds_a_delivery_back(store: Store, community: CommunityRecord) -> None:
    await _post_with_deliveries(store, community, 1, not_before=T0 + timedelta(minutes=2), batch_key="room")
    assert await store.outbox.claim_due("w1", T0 + timedelta(minutes=1)) == []
    [row] = await store.outbox.claim_due("w1", T0 + timedelta(minutes=2))
    assert row.batch_key == "room"


async def test_claims_come_oldest_first_and_respect_the_limit(
    store: Store, community: CommunityRecord
) -> None:
    await _post_with_deliveries(store, community, 5)
    first = await store.outbox.claim_due("w1", T0, limit=2)
    rest = await store.outbox.claim_due("w1", T0, limit=10)
    assert len(first) == 2
    assert len(rest) == 3
    assert max(r.id for r in first) < min(r.id for r in rest)


async def test_counts_cancel_and_recreating_a_delivery(store: Store, community: CommunityRecord) -> None:
    post_id = await _post_with_deliveries(store, community, 3)
    # Queuing the same deliveries again (a replayed decision) changes nothing.
    same = [DeliverySpec(Channel.EMAIL, f"r{i}@example.org") for i in range(3)]
    await store.outbox.add(post_id, same, now=T0)
    notice = DeliverySpec(Channel.EMAIL, "r0@example.org", kind=DeliveryKind.NOTICE)
    await store.outbox.add(post_id, [notice], now=T0)
    pending = await store.outbox.list(DeliveryState.PENDING)
    assert len(pending) == 4
    assert await store.outbox.cancel([pending[0].id]) == 1
    counts = await store.outbox.counts()
    assert counts == {
        DeliveryState.PENDING: 3,
        DeliveryState.SENDING: 0,
        DeliveryState.SENT: 0,
        DeliveryState.DEAD: 0,
        DeliveryState.CANCELLED: 1,
    }


async def test_concurrent_claimers_never_share_a_row(
    store: Store, community: CommunityRecord, store_url: str
) -> None:
    """Three processes (as ``icop run`` on one PostgreSQL), two workers each, claiming in small bites
    until the outbox is empty: every row is claimed once, by one worker."""
    await _post_with_deliveries(store, community, 60)
    async with Database(store_url) as second_process, Database(store_url) as third_process:
        outboxes = [store.outbox, Outbox(second_process), Outbox(third_process)]

        async def worker(name: str, outbox: Outbox) -> list[int]:
            got: list[int] = []
            while batch := await outbox.claim_due(name, T0, limit=3):
                got += [row.id for row in batch]
                await asyncio.sleep(0)
            return got

        claimed = await asyncio.gather(*(worker(f"w{i}", outboxes[i % 3]) for i in range(6)))
    every = [row_id for rows in claimed for row_id in rows]
    assert len(every) == 60
    assert len(set(every)) == 60
    assert (await store.outbox.counts())[DeliveryState.SENDING] == 60


@pytest.mark.postgres
async def test_postgres_skips_rows_locked_by_another_claimer(
    postgres_database_url: str,
) -> None:
    """A row another transaction holds is skipped at once, not waited for (FOR UPDATE SKIP LOCKED)."""
    async with Database(postgres_database_url) as db:
        await upgrade(db)
        store = Store(db)
        await store.communities.sync_community(
            slug="pm", name="PM", list_address="pm@lists.example.com", room="#pm:example.com", roster=[]
        )
        community = await store.communities.by_slug("pm")
        assert community is not None
        await _post_with_deliveries(store, community, 3)
        [first, *_] = await store.outbox.list()
        other = await asyncpg.connect(postgres_database_url)
        try:
            async with other.transaction():
                await other.execute('SELECT 1 FROM "delivery" WHERE "id" = $1 FOR UPDATE', first.id)
                claimed = await asyncio.wait_for(store.outbox.claim_due("w1", T0, limit=10), timeout=5)
                assert first.id not in {row.id for row in claimed}
                assert len(claimed) == 2
            [late] = await store.outbox.claim_due("w1", T0, limit=10)
            assert late.id == first.id
        finally:
            await other.close()


async def test_backlog_counts_unfinished_rows_per_channel_with_the_oldest(
    store: Store, community: CommunityRecord
) -> None:
    """What the metrics read at each scrape: pending, sending and dead rows per channel, never sent ones."""
    assert await store.outbox.backlog() == []
    first = await _post_with_deliveries(store, community, 3)
    await store.outbox.add(first, [DeliverySpec(Channel.MATRIX, "!room:example.com")], now=T0)
    [claimed] = await store.outbox.claim_due("w1", T0, limit=1, channel=Channel.MATRIX)
    await _post_with_deliveries(store, community, 2, key="m2@example.org")
    [one, two, *_] = await store.outbox.claim_due("w1", T0, limit=2, channel=Channel.EMAIL)
    await store.outbox.mark_sent(one.id, "<sent@example.org>")
    await store.outbox.mark_dead(two.id, "550 no such user", T0)
    backlog = {(b.channel, b.state): b for b in await store.outbox.backlog()}
    assert {key: b.count for key, b in backlog.items()} == {
        (Channel.EMAIL, DeliveryState.PENDING): 3,
        (Channel.EMAIL, DeliveryState.DEAD): 1,
        (Channel.MATRIX, DeliveryState.SENDING): 1,
    }
    oldest = backlog[Channel.EMAIL, DeliveryState.PENDING].oldest
    assert oldest is not None
    assert oldest.tzinfo is not None
    rows = {entry.id: entry for entry in await store.outbox.list(None)}
    pending = [r for r in rows.values() if r.state is DeliveryState.PENDING]
    assert oldest == min(r.created_at for r in pending)
    assert backlog[Channel.MATRIX, DeliveryState.SENDING].oldest == rows[claimed.id].created_at


async def test_a_round_of_sent_rows_is_marked_in_one_call(store: Store, community: CommunityRecord) -> None:
    first = await _post_with_deliveries(store, community, 3)
    chat = await store.posts.ingest(
        matrix_message("$chat"),
        community_id=community.id,
        thread=NewThread("Chat", "chat"),
        author_id=None,
        deliveries=[DeliverySpec(Channel.EMAIL, f"c{i}@example.org") for i in range(2)],
        now=T0,
    )
    claimed = await store.outbox.claim_due("w1", T0, limit=10)
    assert len(claimed) == 5
    # One row's lease went to another worker: this worker's report on it is ignored.
    stolen = claimed[-1]
    await store.outbox.release(["w1"])
    rest = [c for c in claimed if c.id != stolen.id]
    assert len(await store.outbox.claim_due("w1", T0, limit=len(rest))) == len(rest)
    assert [c.id for c in await store.outbox.claim_due("w2", T0, limit=1)] == [stolen.id]
    remote = {first: "<p-first@lists.example.com>", chat.post_id: "<p-chat@lists.example.com>"}
    done = await store.outbox.mark_sent_many(
        [(c.id, remote[c.post_id]) for c in claimed], worker_id="w1", now=T0
    )
    assert sorted(done) == sorted(c.id for c in rest)
    sent = {row.id: row for row in await store.outbox.list(DeliveryState.SENT)}
    assert sorted(sent) == sorted(c.id for c in rest)
    assert all(row.remote_id == remote[row.post_id] and row.claimed_by is None for row in sent.values())
    [still] = await store.outbox.list(DeliveryState.SENDING)
    assert (still.id, still.claimed_by) == (stolen.id, "w2")
    # The chat post now has the Message-ID it was mailed under; a received one is kept as it came.
    chat_post, mail_post = await store.posts.get(chat.post_id), await store.posts.get(first)
    assert chat_post is not None
    assert chat_post.email_message_id == remote[chat.post_id]
    assert mail_post is not None
    assert mail_post.email_message_id == "m1@example.org"
    assert await store.outbox.mark_sent_many([], worker_id="w1") == []
