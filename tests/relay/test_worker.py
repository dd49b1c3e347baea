"""The delivery worker on both stores: outcomes per courier answer, crash recovery, bursts as one mail."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bridge.core.model import Channel, DeliveryState
from bridge.relay.ingest import Ingestor
from bridge.relay.worker import DeliveryWorker, PermanentDeliveryError, TemporaryDeliveryError
from bridge.store import Database, OutboxEntry, Store
from tests.relay.test_ingest import KEY, NOW, chat, community, mail


class RecordingCourier:
    """Answers as told and records what it was given (our own interface, not a protocol boundary)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[list[int]] = []

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        self.calls.append([e.id for e in entries])
        if self.error is not None:
            raise self.error
        return f"remote-{entries[0].id}"


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


def worker(store: Store, matrix: RecordingCourier, email: RecordingCourier, **kw: object) -> DeliveryWorker:
    return DeliveryWorker(
        store,
        {Channel.MATRIX: matrix, Channel.EMAIL: email},
        f"{socket.gethostname()}:1",
        clock=lambda: NOW + timedelta(seconds=1),
        **kw,  # type: ignore[arg-type]
    )


async def test_sent_failed_and_dead(store: Store) -> None:
    ctx = await community(store)
    outcome = await Ingestor(store, KEY, clock=lambda: NOW).ingest(ctx, mail("m@x", "ana@example.org", "hi"))
    assert outcome.post_id is not None
    dead: list[int] = []

    async def told(entry: OutboxEntry, error: str) -> None:
        dead.append(entry.id)

    matrix = RecordingCourier()
    email = RecordingCourier(PermanentDeliveryError("550 no such user"))
    assert await worker(store, matrix, email, on_dead=told).run_once() == 3
    states = {(e.channel, e.state) for e in await store.outbox.for_post(outcome.post_id)}
    assert states == {(Channel.MATRIX, DeliveryState.SENT), (Channel.EMAIL, DeliveryState.DEAD)}
    assert len(dead) == 2  # both mail rows parked, the convener told for each
    post = await store.posts.get(outcome.post_id)
    assert post is not None
    assert post.matrix_event_id == f"remote-{matrix.calls[0][0]}"


async def test_temporary_failure_is_retried_later(store: Store) -> None:
    ctx = await community(store)
    outcome = await Ingestor(store, KEY, clock=lambda: NOW).ingest(ctx, mail("m@x", "ana@example.org", "hi"))
    assert outcome.post_id is not None
    failing = worker(store, RecordingCourier(TemporaryDeliveryError("down")), RecordingCourier())
    await failing.run_once()
    rows = await store.outbox.for_post(outcome.post_id)
    matrix_row = next(r for r in rows if r.channel is Channel.MATRIX)
    assert matrix_row.state is DeliveryState.PENDING
    assert matrix_row.last_error == "down"
    assert matrix_row.next_attempt_at > NOW + timedelta(seconds=1)


async def test_rows_of_a_dead_local_worker_are_released(store: Store) -> None:
    ctx = await community(store)
    outcome = await Ingestor(store, KEY, clock=lambda: NOW).ingest(ctx, mail("m@x", "ana@example.org", "hi"))
    assert outcome.post_id is not None
    gone = f"{socket.gethostname()}:999999999"  # no such pid
    elsewhere = "other-host:4242"
    claimed = await store.outbox.claim_due(gone, NOW, limit=2, lease_seconds=300)
    await store.outbox.claim_due(elsewhere, NOW, limit=1, lease_seconds=300)
    assert len(claimed) == 2
    released = await worker(store, RecordingCourier(), RecordingCourier()).release_dead_workers()
    assert released == 2  # the other host's claim keeps its lease
    assert await store.outbox.claimants() == {elsewhere}


async def test_rows_of_a_dead_process_elsewhere_are_released_when_its_lock_says_so(store: Store) -> None:
    """On a shared PostgreSQL each process holds a lock; a process without it is dead, on any host."""
    ctx = await community(store)
    await Ingestor(store, KEY, clock=lambda: NOW).ingest(ctx, mail("m@x", "ana@example.org", "hi"))
    await store.outbox.claim_due("other-host:4242", NOW, limit=1, lease_seconds=300)
    await store.outbox.claim_due("third-host:7", NOW, limit=1, lease_seconds=300)

    async def alive(worker_id: str) -> bool | None:
        return worker_id == "third-host:7"

    checking = worker(store, RecordingCourier(), RecordingCourier(), alive=alive)
    assert await checking.release_dead_workers() == 1
    assert await store.outbox.claimants() == {"third-host:7"}


async def test_a_burst_for_one_recipient_is_one_delivery(store: Store) -> None:
    ctx = await community(store, relay_policy="batched", batch_quiet_seconds=1, batch_max_delay_seconds=60)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    for n in range(3):
        await ingestor.ingest(ctx, chat(f"$e{n}", "@ana:localhost", f"message {n}"))
    email = RecordingCourier()
    later = DeliveryWorker(
        store,
        {Channel.MATRIX: RecordingCourier(), Channel.EMAIL: email},
        "h:1",
        clock=lambda: datetime(2026, 11, 2, 9, 1, tzinfo=UTC),
    )
    await later.run_once()
    recipients = len(email.calls)
    assert recipients == 2  # Kenji and Siobhán each get one mail
    assert all(len(call) == 3 for call in email.calls)


class GatedCourier(RecordingCourier):
    """Holds the delivery of one post until told, recording the order deliveries finish in."""

    def __init__(self, store: Store, held_post: int) -> None:
        super().__init__()
        self.store = store
        self.held_post = held_post
        self.release = asyncio.Event()
        self.finished: list[int] = []
        self.root_event_seen: list[str | None] = []
        """The held post's event id as the store knew it when each later post was delivered."""

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        if entries[0].post_id == self.held_post:
            await self.release.wait()
        else:
            held = await self.store.posts.get(self.held_post)
            self.root_event_seen.append(held.matrix_event_id if held else None)
        self.finished.append(entries[0].post_id)
        return await super().deliver(entries)


async def test_a_slow_thread_does_not_hold_up_the_others_and_each_thread_keeps_its_order(
    store: Store,
) -> None:
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    root = await ingestor.ingest(ctx, mail("a1@x", "ana@example.org", "first", subject="Plans"))
    reply = await ingestor.ingest(
        ctx, mail("a2@x", "kenji@example.jp", "second", subject="Re: Plans", in_reply_to="a1@x")
    )
    other = await ingestor.ingest(ctx, mail("b1@x", "siobhan@example.ie", "elsewhere", subject="Budget"))
    assert root.post_id is not None
    assert reply.thread_id == root.thread_id != other.thread_id
    matrix = GatedCourier(store, held_post=root.post_id)
    rounds = asyncio.create_task(worker(store, matrix, RecordingCourier()).run_once())
    for _ in range(200):  # the other thread goes out while the first waits
        if other.post_id in matrix.finished:
            break
        await asyncio.sleep(0.01)
    assert matrix.finished == [other.post_id]
    matrix.release.set()
    await rounds
    assert matrix.finished == [other.post_id, root.post_id, reply.post_id]
    # The reply went out once the root's event id was recorded: it is sent as an answer to it.
    root_event = f"remote-{matrix.calls[1][0]}"
    assert matrix.root_event_seen == [None, root_event]
    sent = await store.outbox.list(DeliveryState.SENT)
    rows = {row.post_id: row for row in sent if row.channel is Channel.MATRIX}
    assert rows[reply.post_id].remote_id == f"remote-{matrix.calls[2][0]}"  # the last, with the round


async def test_a_long_round_of_mail_is_recorded_a_few_at_a_time(store: Store) -> None:
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    for n in range(20):  # 40 mails: Kenji and Siobhán get each of Ana's posts
        await ingestor.ingest(ctx, mail(f"m{n}@x", "ana@example.org", f"post {n}", subject=f"Topic {n}"))
    recorded: list[int] = []
    mark_sent_many = store.outbox.mark_sent_many

    async def counted(sent: Sequence[tuple[int, str | None]], **kw: object) -> list[int]:
        recorded.append(len(sent))
        return await mark_sent_many(sent, **kw)  # type: ignore[arg-type]

    store.outbox.mark_sent_many = counted  # type: ignore[method-assign]
    lane = worker(store, RecordingCourier(), RecordingCourier(), channel=Channel.EMAIL, email_concurrency=4)
    assert await lane.run_once() == 40
    # Recorded while the round went on (a crash re-sends only what was not), several rows at a time.
    assert sum(recorded) == 40
    assert 1 < len(recorded) < 40
    assert len(await store.outbox.list(DeliveryState.SENT, limit=1000)) == 40
