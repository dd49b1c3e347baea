"""The daemon's figures for Prometheus (``/metrics``), on a registry owned by the composition root.

``prometheus-client`` writes the exposition; the registry is created here for each daemon, never the
library's global default, so nothing registered elsewhere leaks in and two daemons in one process (the
tests) keep their figures apart. Three kinds of figures, each read where it is true:

- what this process did: posts ingested, deliveries finished, relay latency, bounce suspensions
  (counters and histograms; with several processes, sum them over the processes);
- the state of this process's loops and leases, read from their ``LoopStatus`` at each scrape;
- the state of the store (outbox depth, the oldest undelivered row, members suspended for bounces),
  read from the store at each scrape with a few cheap queries, so every process reports the truth and
  any one of them may be scraped.

The README lists every metric with its type, labels and meaning.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from prometheus_client.exposition import choose_encoder

from bridge import __version__
from bridge.core.model import Channel, DeliveryKind, DeliveryState
from bridge.health import LeaseState, LoopStatus, TaskHealth, WatchedLoop
from bridge.store import OutboxEntry, Store
from bridge.store.lease import Lease
from bridge.store.outbox import BACKLOG_STATES

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Seconds: a relay takes well under a second normally, minutes to an hour through an outage."""
STORE_TIMEOUT_SECONDS = 5.0
ORIGINS_REMEMBERED = 10_000


class Metrics:
    """Every figure of one daemon, and the scrape that renders them."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process_collector: bool = False) -> None:
        self.registry = registry = registry if registry is not None else CollectorRegistry()
        if process_collector:
            ProcessCollector(registry=registry)  # CPU, memory, open files, start time of this process
        Info("icop_build", "The running icop-bridge.", registry=registry).info({"version": __version__})
        self.ingested = Counter(
            "icop_posts_ingested",
            "Inbound posts handled by ingest in this process, by the channel they came from and outcome.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "icop_deliveries",
            "Delivery attempts finished in this process, by channel and result (sent, retry, dead).",
            ["channel", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "icop_relay_latency_seconds",
            "From a post's arrival to its delivery on a channel (email_to_matrix, matrix_to_email, "
            "email_to_email for the list's own copies), delivered by this process.",
            ["direction"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.suspensions = Counter(
            "icop_bounce_suspensions",
            "Memberships this process suspended because their mail kept bouncing.",
            ["community"],
            registry=registry,
        )
        # Read from the store at each scrape.
        self.store_up = Gauge(
            "icop_store_up", "1 when the store answered this scrape's queries, else 0.", registry=registry
        )
        self.outbox = Gauge(
            "icop_outbox_deliveries",
            "Outbox rows not finished, in the whole store: pending, sending (claimed) or dead.",
            ["channel", "state"],
            registry=registry,
        )
        self.oldest = Gauge(
            "icop_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending or sending delivery of a channel in the whole store (0: none).",
            ["channel"],
            registry=registry,
        )
        self.suspended = Gauge(
            "icop_bounce_suspended_members",
            "Memberships suspended now because of bounces, in the whole store.",
            ["community"],
            registry=registry,
        )
        self.parked = Gauge(
            "icop_parked_messages",
            "Messages set aside because they could not be handled (DESIGN §8), in the whole store, "
            "per channel and state (parked, queued, retrying, done, discarded).",
            ["channel", "state"],
            registry=registry,
        )
        # This process's loops and leases.
        self.loop_connected = Gauge(
            "icop_loop_connected",
            "1 while the loop is connected to its server (0 also while it stands by).",
            ["loop"],
            registry=registry,
        )
        self.loop_caught_up = Gauge(
            "icop_loop_caught_up",
            "1 while the loop has handled everything its server offered.",
            ["loop"],
            registry=registry,
        )
        self.loop_last_success = Gauge(
            "icop_loop_last_success_timestamp_seconds",
            "Unix time of the loop's last successful round (a sync handled, a mailbox read to its end, "
            "a delivery sent).",
            ["loop"],
            registry=registry,
        )
        self.lease_held = Gauge(
            "icop_lease_held",
            "1 while this process holds the lease (runs the loop), 0 while another process does.",
            ["lease"],
            registry=registry,
        )
        self.task_running = Gauge(
            "icop_task_running", "1 while the supervised task runs.", ["task"], registry=registry
        )
        self.task_restarts = Gauge(
            "icop_task_restarts",
            "Times the supervised task failed and was started again.",
            ["task"],
            registry=registry,
        )
        self.loops: dict[str, tuple[LoopStatus, Lease | None]] = {}
        self.tasks: Callable[[], Mapping[str, TaskHealth]] = dict
        self.store: Store | None = None
        self._origins: OrderedDict[int, Channel] = OrderedDict()

    # -- what the daemon tells ------------------------------------------------------------------
    def watch_loop(self, name: str, status: LoopStatus, lease: Lease | None = None) -> None:
        """Report ``status`` (and ``lease``) as loop ``name`` in ``/metrics`` and ``/healthz``."""
        self.loops[name] = (status, lease)

    def watched(self) -> dict[str, WatchedLoop]:
        return {
            name: WatchedLoop(status, _lease_state(lease) if lease is not None else None)
            for name, (status, lease) in self.loops.items()
        }

    def post_ingested(self, channel: Channel, outcome: str) -> None:
        self.ingested.labels(channel.value, outcome).inc()

    def delivery_failed(self, channel: Channel, state: DeliveryState | None) -> None:
        """A delivery failed: retried later, or dead (``state`` None: the claim was no longer ours)."""
        if state is not None:
            result = "dead" if state is DeliveryState.DEAD else "retry"
            self.deliveries.labels(channel.value, result).inc()

    async def delivered(self, entries: Sequence[OutboxEntry], now: datetime) -> None:
        """Count sent rows and observe the relay latency of each post delivered."""
        if not entries:
            return
        self.deliveries.labels(entries[0].channel.value, "sent").inc(len(entries))
        posts = [e for e in entries if e.kind is DeliveryKind.POST]
        try:
            origins = await self._origin_channels(e.post_id for e in posts)
        except Exception as error:  # a figure must never fail a delivery
            log.debug("relay latency not observed: %s", error)
            return
        for entry in posts:
            origin = origins.get(entry.post_id)
            if origin is not None:
                seconds = max(0.0, (now - entry.created_at).total_seconds())
                self.latency.labels(f"{origin.value}_to_{entry.channel.value}").observe(seconds)

    def suspension(self, community: str) -> None:
        self.suspensions.labels(community).inc()

    # -- the scrape -----------------------------------------------------------------------------
    async def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """What ``/metrics`` serves, and its content type: this process's figures and the store's, read
        now, in the format the scraper's ``Accept`` asks for (the Prometheus text format 0.0.4 unless it
        prefers OpenMetrics or a newer text format)."""
        self._read_loops()
        await self._read_store()
        encode, content_type = choose_encoder(accept or "")
        return bytes(encode(self.registry)), content_type

    def _read_loops(self) -> None:
        for name, (status, lease) in self.loops.items():
            self.loop_connected.labels(name).set(status.connected)
            self.loop_caught_up.labels(name).set(status.caught_up)
            self.loop_last_success.labels(name).set(status.last_success or 0)
            if lease is not None:
                self.lease_held.labels(lease.label).set(lease.held)
        for task, health in self.tasks().items():
            self.task_running.labels(task).set(health.running)
            self.task_restarts.labels(task).set(health.restarts)

    async def _read_store(self) -> None:
        store = self.store
        if store is None:
            return
        try:
            backlog, suspended, parked = await asyncio.wait_for(
                asyncio.gather(
                    store.outbox.backlog(), store.communities.bounce_suspensions(), store.parked.counts()
                ),
                STORE_TIMEOUT_SECONDS,
            )
        except Exception as error:  # the scrape still answers, saying the store did not
            log.warning("metrics: the store did not answer: %s", error)
            self.store_up.set(0)
            for gauge in (self.outbox, self.oldest, self.suspended, self.parked):
                gauge.clear()
            return
        self.store_up.set(1)
        now = datetime.now(UTC)
        for channel in Channel:
            for state in BACKLOG_STATES:
                self.outbox.labels(channel.value, state.value).set(0)
            self.oldest.labels(channel.value).set(0)
        oldest: dict[Channel, datetime] = {}
        for group in backlog:
            self.outbox.labels(group.channel.value, group.state.value).set(group.count)
            if group.state is not DeliveryState.DEAD and group.oldest is not None:
                oldest[group.channel] = min(group.oldest, oldest.get(group.channel, group.oldest))
        for channel, moment in oldest.items():
            self.oldest.labels(channel.value).set(max(0.0, (now - moment).total_seconds()))
        self.suspended.clear()
        for community, count in suspended.items():
            self.suspended.labels(community).set(count)
        self.parked.clear()
        for (channel, parked_state), count in parked.items():
            self.parked.labels(channel.value, parked_state.value).set(count)

    async def _origin_channels(self, post_ids: Iterable[int]) -> dict[int, Channel]:
        wanted = set(post_ids)
        known = {post_id: self._origins[post_id] for post_id in wanted if post_id in self._origins}
        missing = wanted - known.keys()
        if missing and self.store is not None:
            found = await self.store.posts.origin_channels(missing)
            for post_id, channel in found.items():
                self._origins[post_id] = channel
                known[post_id] = channel
            while len(self._origins) > ORIGINS_REMEMBERED:
                self._origins.popitem(last=False)
        return known


def _lease_state(lease: Lease) -> LeaseState:
    if lease.held:
        return LeaseState.HELD
    return LeaseState.STANDBY if lease.standing_by else LeaseState.WAITING
