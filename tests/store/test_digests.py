"""Digest deliveries: one per membership and period, whoever runs the scheduler."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.model import DeliveryState
from bridge.store import CommunityRecord, Store
from tests.store.conftest import T0


async def test_one_digest_per_member_and_period(store: Store, community: CommunityRecord) -> None:
    [ana, *_] = await store.communities.recipients(community.id)
    week = (T0 - timedelta(days=7), T0)
    assert await store.digests.last(ana.membership_id) is None
    first = await store.digests.begin(ana.membership_id, *week)
    assert first is not None
    assert await store.digests.begin(ana.membership_id, *week) is None  # a second scheduler

    await store.digests.abandon(first)  # the send failed before anything left
    retry = await store.digests.begin(ana.membership_id, *week)
    assert retry is not None
    await store.digests.mark_sent(retry, "d1@lists.example.com", T0 + timedelta(minutes=1))
    assert await store.digests.begin(ana.membership_id, *week) is None
    last = await store.digests.last(ana.membership_id)
    assert last is not None
    assert (last.state, last.period_end, last.message_id) == (DeliveryState.SENT, T0, "d1@lists.example.com")
    next_week = await store.digests.begin(ana.membership_id, T0, T0 + timedelta(days=7))
    assert next_week is not None
