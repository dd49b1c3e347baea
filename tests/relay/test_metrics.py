"""Metrics on both stores: what ingest and delivery count, and the store's state read at each scrape.

What each case gets: every ingest outcome is counted by channel; a delivery sent is counted and its
post's relay latency observed under its direction; a failed one is counted as a retry and its lane
reports the outage; the outbox gauges are read from the store at the scrape (any process tells the
truth); a store that does not answer leaves ``icop_store_up`` at 0 and the scrape still answers.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.core.model import Channel, DeliveryState
from bridge.health import LeaseState, LoopState, LoopStatus, WatchedLoop
from bridge.metrics import Metrics
from bridge.relay.bounces import BounceHandler, BouncePolicy
from bridge.relay.ingest import Ingestor
from bridge.relay.service import CountedSuspensions
from bridge.relay.worker import DeliveryWorker, TemporaryDeliveryError
from bridge.store import Database, Store
from bridge.store.lease import Lease, LocalLocks
from tests.relay.test_bounces import RecordedNotices, dsn
from tests.relay.test_bounces import community as bounce_community
from tests.relay.test_ingest import KEY, chat, community, mail
from tests.relay.test_worker import RecordingCourier


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


def samples(exposition: tuple[bytes, str]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape by (name, labels)."""
    text, content_type = exposition
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scrape[name, frozenset(labels.items())]


async def test_ingest_and_delivery_are_counted_and_latency_observed(store: Store) -> None:
    metrics = Metrics()
    metrics.store = store
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, metrics=metrics)  # real clocks: the latency is measured
    await ingestor.ingest(ctx, mail("m1@x", "ana@example.org", "hello"))
    await ingestor.ingest(ctx, mail("m1@x", "ana@example.org", "hello"))
    await ingestor.ingest(ctx, chat("$e1", "@kenji:localhost", "hi from chat"))
    await ingestor.ingest(ctx, mail("spam@x", "stranger@example.net", "buy now"))

    before = samples(await metrics.exposition())
    for outcome, count in {"stored": 1, "duplicate": 1, "held": 1}.items():
        assert value(before, "icop_posts_ingested_total", channel="email", outcome=outcome) == count
    assert value(before, "icop_posts_ingested_total", channel="matrix", outcome="stored") == 1
    assert value(before, "icop_store_up") == 1
    pending = {
        c: sum(e.channel is c for e in await store.outbox.list(DeliveryState.PENDING)) for c in Channel
    }
    for channel in Channel:
        assert (
            value(before, "icop_outbox_deliveries", channel=channel.value, state="pending")
            == pending[channel]
        )
        assert value(before, "icop_outbox_deliveries", channel=channel.value, state="dead") == 0
    assert value(before, "icop_outbox_oldest_pending_age_seconds", channel="email") >= 0

    couriers = {Channel.MATRIX: RecordingCourier(), Channel.EMAIL: RecordingCourier()}
    worker = DeliveryWorker(store, couriers, "h:1", metrics=metrics)
    while await worker.run_once():
        pass
    after = samples(await metrics.exposition())
    sent = {c: sum(e.channel is c for e in await store.outbox.list(DeliveryState.SENT)) for c in Channel}
    for channel in Channel:
        assert value(after, "icop_deliveries_total", channel=channel.value, result="sent") == sent[channel]
        assert value(after, "icop_outbox_deliveries", channel=channel.value, state="pending") == 0
        assert value(after, "icop_outbox_oldest_pending_age_seconds", channel=channel.value) == 0
    # The mail reached the room (1), the chat message each email reader, the mail the list's readers.
    assert value(after, "icop_relay_latency_seconds_count", direction="email_to_matrix") == 1
    assert value(after, "icop_relay_latency_seconds_count", direction="matrix_to_email") >= 1
    assert value(after, "icop_relay_latency_seconds_count", direction="email_to_email") >= 1
    assert 0 <= value(after, "icop_relay_latency_seconds_sum", direction="email_to_matrix") < 60
    # Every delivery here relays a post (no moderation notices without a gate): one observation each.
    latency_count = sum(v for (name, _), v in after.items() if name == "icop_relay_latency_seconds_count")
    assert latency_count == sum(sent.values())


async def test_a_failing_lane_is_counted_and_reported(store: Store) -> None:
    metrics = Metrics()
    ctx = await community(store)
    await Ingestor(store, KEY).ingest(ctx, mail("m1@x", "ana@example.org", "hello"))
    couriers = {
        Channel.MATRIX: RecordingCourier(TemporaryDeliveryError("homeserver down")),
        Channel.EMAIL: RecordingCourier(),
    }
    worker = DeliveryWorker(store, couriers, "h:1", metrics=metrics, channel=Channel.MATRIX)
    metrics.watch_loop("outbox.matrix", worker.status)
    assert await worker.run_once() == 1
    scrape = samples(await metrics.exposition())
    assert value(scrape, "icop_deliveries_total", channel="matrix", result="retry") == 1
    assert value(scrape, "icop_loop_connected", loop="outbox.matrix") == 0
    assert metrics.watched()["outbox.matrix"].state is LoopState.DISCONNECTED
    assert "homeserver down" in (worker.status.error or "")


async def test_loops_and_leases_are_reported_and_a_silent_store_is_said(store: Store) -> None:
    metrics = Metrics()
    metrics.store = store
    status = LoopStatus()
    status.succeeded(now=1_800_000_000.0)
    lease = Lease(LocalLocks(), "mailbox lists@example.org", label="mailbox")
    metrics.watch_loop("mailbox", status, lease)
    scrape = samples(await metrics.exposition())
    assert value(scrape, "icop_loop_connected", loop="mailbox") == 1
    assert value(scrape, "icop_loop_caught_up", loop="mailbox") == 1
    assert value(scrape, "icop_loop_last_success_timestamp_seconds", loop="mailbox") == 1_800_000_000.0
    assert value(scrape, "icop_lease_held", lease="mailbox") == 0  # not asked for yet
    assert metrics.watched() == {"mailbox": WatchedLoop(status, LeaseState.WAITING)}

    await store.db.close()
    scrape = samples(await metrics.exposition())
    assert value(scrape, "icop_store_up") == 0
    assert not [name for name, _ in scrape if name.startswith("icop_outbox_")]


async def test_a_suspension_for_bounces_is_counted_and_shown_from_the_store(database: Database) -> None:
    """Three permanent bounces past a threshold of 2.5 suspend Siobhán: counted once by the process
    that suspended her, and shown by any process from the store."""
    store = Store(database)
    context = await bounce_community(store)
    metrics = Metrics()
    metrics.store = store
    notices = RecordedNotices()
    handler = BounceHandler(store, BouncePolicy(threshold=2.5), CountedSuspensions(notices, metrics))
    for serial in range(1, 4):
        await handler.handle(
            context, dsn("siobhan@example.ie", "failed", "5.1.1", serial), "siobhan@example.ie"
        )
    assert [email for email, _, _ in notices.calls] == ["siobhan@example.ie"]  # still told, once
    scrape = samples(await metrics.exposition())
    assert value(scrape, "icop_bounce_suspensions_total", community="pm-practice") == 1
    assert value(scrape, "icop_bounce_suspended_members", community="pm-practice") == 1
    elsewhere = Metrics()
    elsewhere.store = store
    assert (
        value(samples(await elsewhere.exposition()), "icop_bounce_suspended_members", community="pm-practice")
        == 1
    )
