"""Delivery workers: claim due outbox rows and hand them to the courier of their channel.

A courier either returns the remote id (event id, Message-ID), raises ``TemporaryDeliveryError`` (server
down, rate limited: retry with backoff) or ``PermanentDeliveryError`` (the other side refuses for good:
park as dead now). After the retry limit a row is dead too; either way the convener is told through
``on_dead``. Matrix rows of one thread go out one at a time, in claim order, so a thread shows its
posts in the order they arrived; a few threads of a room are sent to at once (``MATRIX_CONCURRENCY``),
so posts of different threads that arrived within a moment of each other may reach the room in a
slightly different order. Email rows go out concurrently. Delivered rows are recorded as a group
commit: one transaction records every row delivered while the previous one committed; a Matrix row
that a later row of its thread follows is recorded at once, as the next may answer it and needs its
event id. Ingest wakes the worker, so a new post does not wait for the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bridge.core.model import Channel, DeliveryState
from bridge.health import working_status
from bridge.metrics import Metrics
from bridge.store import OutboxEntry, Store
from bridge.store.batches import Batches

log = logging.getLogger(__name__)


class TemporaryDeliveryError(Exception):
    """The delivery may succeed later (server down, timeout, 4xx, rate limit, thread root not there yet)."""


class PermanentDeliveryError(Exception):
    """The other side refused for good (5xx for a recipient, 403 not in room): retrying will not help."""


class Courier(Protocol):
    """Delivers outbox rows of one channel; ``entries`` are one row, or one burst for one recipient."""

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None: ...


DeadHandler = Callable[[OutboxEntry, str], Awaitable[None]]
Sent = tuple[list[OutboxEntry], str | None]
"""Rows delivered as one message, and the remote id (event id, Message-ID) it got."""
LivenessCheck = Callable[[str], Awaitable[bool | None]]
"""Whether the process of a worker id is alive; None when it cannot be known (``Locks.alive``)."""
RELEASE_EVERY_SECONDS = 5.0
MATRIX_CONCURRENCY = 8
"""Threads of one room sent to at once; within a thread, one event at a time in claim order."""


async def _nobody_told(entry: OutboxEntry, error: str) -> None:
    return None


async def _unknown(worker_id: str) -> bool | None:
    return None


def _on_host(worker_id: str, host: str) -> bool:
    worker_host, _, pid = worker_id.rpartition(":")
    return worker_host == host and pid.isdigit()


def _process_alive(worker_id: str) -> bool:
    pid = int(worker_id.rpartition(":")[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        couriers: Mapping[Channel, Courier],
        worker_id: str,
        *,
        claim_limit: int = 50,
        lease_seconds: float = 300.0,
        poll_seconds: float = 1.0,
        email_concurrency: int = 8,
        matrix_concurrency: int = MATRIX_CONCURRENCY,
        channel: Channel | None = None,
        on_dead: DeadHandler = _nobody_told,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
        alive: LivenessCheck = _unknown,
        release_every: float = RELEASE_EVERY_SECONDS,
    ) -> None:
        self.store = store
        self.batches = Batches(store.db)
        self.couriers = couriers
        self.worker_id = worker_id
        self.claim_limit = claim_limit
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.email_slots = asyncio.Semaphore(email_concurrency)
        self.matrix_concurrency = matrix_concurrency
        self.channel = channel  # one lane per channel: Matrix sends never wait for a round of mail
        self.on_dead = on_dead
        self.clock = clock
        self.metrics = metrics if metrics is not None else Metrics()
        self.status = working_status()  # for /healthz and /metrics
        self.alive = alive
        self.release_every = release_every
        self._wake = asyncio.Event()
        self._recording = False  # a transaction recording delivered rows is under way
        self.sent = 0
        self.failed = 0
        self._outages: dict[Channel, tuple[float, int]] = {}
        """Per channel failing temporarily: since when (monotonic) and how many failed attempts."""

    async def release_dead_workers(self) -> int:
        """Give back rows claimed by processes that are gone (a kill -9, a crash).

        Their claims would expire anyway; releasing them delivers them now instead of minutes later.
        ``alive`` knows any process on a shared PostgreSQL (its process lock); without it only a
        process of this host can be checked, by its pid, and workers elsewhere keep their claims.
        """
        host, _, _ = self.worker_id.rpartition(":")
        dead = []
        for worker in await self.store.outbox.claimants():
            if worker == self.worker_id:
                continue
            alive = await self.alive(worker)
            if alive is None:
                alive = not _on_host(worker, host) or _process_alive(worker)
            if not alive:
                dead.append(worker)
        released = await self.store.outbox.release(dead) if dead else 0
        if released:
            log.info("released %d deliveries claimed by stopped workers %s", released, ", ".join(dead))
        return released

    def wake(self) -> None:
        """Look for due rows now (called by ingest after it queued deliveries)."""
        self._wake.set()

    async def run(self) -> None:
        await self.release_dead_workers()
        next_release = time.monotonic() + self.release_every
        while True:
            self._wake.clear()
            handled = await self.run_once()
            if time.monotonic() >= next_release:  # another process may have died since
                await self.release_dead_workers()
                next_release = time.monotonic() + self.release_every
            if handled < self.claim_limit:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Claim and deliver one round of due rows; returns how many rows were claimed."""
        entries = await self.store.outbox.claim_due(
            self.worker_id,
            self.clock(),
            limit=self.claim_limit,
            lease_seconds=self.lease_seconds,
            channel=self.channel,
        )
        if not entries:
            return 0
        by_room: dict[str, list[OutboxEntry]] = defaultdict(list)
        mail: dict[tuple[str, ...], list[OutboxEntry]] = defaultdict(list)
        for entry in entries:
            if entry.channel is Channel.MATRIX:
                by_room[entry.recipient].append(entry)
            else:
                # The rows of one burst for one recipient are one mail; any other row is its own.
                key = (entry.batch_key, entry.recipient) if entry.batch_key else (str(entry.id),)
                mail[key].append(entry)
        done: list[Sent] = []  # delivered, waiting to be recorded (a group commit: _record_some)
        try:
            async with asyncio.TaskGroup() as tasks:
                for room_entries in by_room.values():
                    tasks.create_task(self._to_room(room_entries, done))
                for burst in mail.values():
                    tasks.create_task(self._with_slot(burst, done))
        finally:
            await self._record(done)
        return len(entries)

    async def _to_room(self, entries: list[OutboxEntry], done: list[Sent]) -> None:
        """One room's rows: each thread's in claim order, up to ``matrix_concurrency`` threads at once."""
        if len(entries) == 1 or self.matrix_concurrency == 1:
            await self._in_order(entries, done)
            return
        threads = await self.store.posts.thread_ids({entry.post_id for entry in entries})
        lanes: dict[int, list[OutboxEntry]] = defaultdict(list)
        for entry in entries:  # a post gone meanwhile is a lane of its own (its courier says why)
            lanes[threads.get(entry.post_id, -entry.post_id)].append(entry)
        slots = asyncio.Semaphore(self.matrix_concurrency)

        async def lane(thread_entries: list[OutboxEntry]) -> None:
            async with slots:
                await self._in_order(thread_entries, done)

        async with asyncio.TaskGroup() as tasks:
            for thread_entries in lanes.values():
                tasks.create_task(lane(thread_entries))

    async def _in_order(self, entries: list[OutboxEntry], done: list[Sent]) -> None:
        """A thread's rows one after the other. A row another row of this round follows is recorded
        at once (the next may answer it and needs its event id); the last one with the round."""
        for index, entry in enumerate(entries):
            if index == len(entries) - 1:
                await self._deliver([entry], done)
                await self._record_some(done)
                return
            sent: list[Sent] = []
            await self._deliver([entry], sent)
            await self._record(sent)

    async def _with_slot(self, entries: list[OutboxEntry], done: list[Sent]) -> None:
        async with self.email_slots:
            await self._deliver(entries, done)
        await self._record_some(done)

    async def _record_some(self, done: list[Sent]) -> None:
        """Record what was delivered as it comes, one transaction at a time (a group commit): rows
        delivered while one commits wait for the next. Few transactions under load, yet a crash
        re-sends only the few rows delivered and not recorded yet (at-least-once, DESIGN §3)."""
        if self._recording:
            return
        self._recording = True
        try:
            while done:
                batch = done[:]
                done.clear()
                await self._record(batch)
        finally:
            self._recording = False

    async def _record(self, sent: list[Sent]) -> None:
        """Mark delivered rows sent in one transaction (a burst is one mail: its Message-ID names the
        burst's first post only), then count them."""
        if not sent:
            return
        rows = [
            (done.id, remote_id if index == 0 else None)
            for group, remote_id in sent
            for index, done in enumerate(group)
        ]
        try:
            await self.store.outbox.mark_sent_many(rows, worker_id=self.worker_id, now=self.clock())
        except Exception:
            # Delivered but not recorded: the lease expires and the rows are sent again, which the
            # other side recognises by its Message-ID / transaction id (at-least-once, DESIGN §3).
            log.exception("%d deliveries were sent but could not be recorded", len(rows))
            return
        by_channel: dict[Channel, list[OutboxEntry]] = defaultdict(list)
        for group, _ in sent:
            self.sent += len(group)
            by_channel[group[0].channel].extend(group)
        for channel, entries in by_channel.items():
            self._recovered(channel)
            await self.metrics.delivered(entries, self.clock())

    async def _deliver(self, claimed: list[OutboxEntry], sent: list[Sent]) -> None:
        """Hand ``claimed`` to its courier; on success add it to ``sent``, else record the failure."""
        entry = claimed[0]
        courier = self.couriers.get(entry.channel)
        group = claimed
        try:
            if courier is None:
                raise PermanentDeliveryError(f"no courier for channel {entry.channel}")
            if entry.batch_key:
                lease = timedelta(seconds=self.lease_seconds)
                rest = await self.batches.claim_rest(entry, self.worker_id, self.clock(), lease)
                known = {e.id for e in claimed}
                group = sorted([*claimed, *(e for e in rest if e.id not in known)], key=lambda e: e.post_id)
            remote_id = await courier.deliver(group)
        except TemporaryDeliveryError as error:
            await self._failed(group, str(error), permanent=False)
        except PermanentDeliveryError as error:
            await self._failed(group, str(error), permanent=True)
        except Exception as error:  # a bug must not kill the worker or lose the row: retry later
            log.exception("delivery %d crashed", entry.id, extra={"delivery": entry.id})
            await self._failed(group, f"{type(error).__name__}: {error}", permanent=False)
        else:
            sent.append((group, remote_id))

    def _recovered(self, channel: Channel) -> None:
        """A delivery went out: the end of that channel's outage, if one was open."""
        self.status.succeeded()
        outage = self._outages.pop(channel, None)
        if outage is not None:
            began, failures = outage
            log.info(
                "%s deliveries working again after %.0f s (%d failed attempts)",
                channel.value,
                time.monotonic() - began,
                failures,
                extra={"channel": channel.value},
            )

    async def _failed(self, group: list[OutboxEntry], error: str, *, permanent: bool) -> None:
        self.failed += len(group)
        for entry in group:
            state = await self.store.outbox.mark_failed(
                entry.id, error, self.clock(), worker_id=self.worker_id, permanent=permanent
            )
            self.metrics.delivery_failed(entry.channel, state)
            level = logging.ERROR if state is DeliveryState.DEAD else logging.DEBUG
            if state is not DeliveryState.DEAD:
                self.status.disconnected(f"{entry.channel.value} deliveries failing: {error}")
                # One warning per outage of a channel (a server down fails every row); retries are debug.
                began, failures = self._outages.get(entry.channel, (time.monotonic(), 0))
                if failures == 0:
                    log.warning(
                        "%s deliveries failing: %s; retrying with backoff until they work again",
                        entry.channel.value,
                        error,
                        extra={"delivery": entry.id, "post": entry.post_id, "channel": entry.channel.value},
                    )
                self._outages[entry.channel] = (began, failures + 1)
            log.log(
                level,
                "delivery %d to %s failed (%s): %s",
                entry.id,
                entry.recipient,
                "dead" if state is DeliveryState.DEAD else f"attempt {entry.attempts}, will retry",
                error,
                extra={"delivery": entry.id, "post": entry.post_id, "channel": entry.channel.value},
            )
            if state is DeliveryState.DEAD:
                await self.on_dead(entry, error)
