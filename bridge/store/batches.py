"""Outbox queries for the batched relay policy: a chat burst is folded into one mail per recipient.

Each chat message under the batched policy gets one email row per recipient with a ``batch_key`` (the
room timeline or one thread) and a ``not_before`` at the end of its quiet period. A new message in the
same burst pushes the whole burst's ``not_before`` back (never past the burst's deadline), and the
worker that claims one row of a burst takes the rest of that recipient's burst with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.expressions import F, Q

from bridge.core.model import Channel, DeliveryState
from bridge.store.database import Database, Transaction
from bridge.store.models import Delivery, Post
from bridge.store.outbox import outbox_entry
from bridge.store.records import OutboxEntry, as_utc


class Batches:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open_thread(
        self, community_id: int, batch_key: str, *, tx: Transaction | None = None
    ) -> int | None:
        """The thread of a burst still waiting to be mailed, so the next timeline message joins it."""
        async with self._db.session(tx) as conn:
            pending = (
                await Delivery.filter(batch_key=batch_key, state=DeliveryState.PENDING, channel=Channel.EMAIL)
                .using_db(conn)
                .order_by("id")
                .first()
            )
            if pending is None:
                return None
            post = await Post.filter(id=pending.post_id, community_id=community_id).using_db(conn).first()
        return post.thread_id if post is not None else None

    async def extend(
        self, batch_key: str, not_before: datetime, max_delay: timedelta, *, tx: Transaction | None = None
    ) -> int:
        """Push a burst's pending rows to ``not_before``, but never past first-message + ``max_delay``."""
        async with self._db.session(tx) as conn:
            first = (
                await Delivery.filter(batch_key=batch_key, state=DeliveryState.PENDING)
                .using_db(conn)
                .order_by("created_at", "id")
                .first()
            )
            if first is None:
                return 0
            deadline = as_utc(first.created_at) + max_delay
            return (
                await Delivery.filter(batch_key=batch_key, state=DeliveryState.PENDING)
                .using_db(conn)
                .update(not_before=min(as_utc(not_before), deadline))
            )

    async def claim_rest(
        self, entry: OutboxEntry, worker_id: str, now: datetime, lease: timedelta
    ) -> list[OutboxEntry]:
        """Claim the rest of ``entry``'s burst for the same recipient; returns the burst, ``entry`` first.

        Rows still pending or whose lease expired are taken, whatever their ``not_before``: once one row
        of a burst is due the whole burst goes out as one mail. Each taken row counts an attempt.
        """
        if entry.batch_key is None:
            return [entry]
        now = as_utc(now)
        async with self._db.transaction() as tx:
            siblings = Delivery.filter(
                Q(state=DeliveryState.PENDING) | Q(state=DeliveryState.SENDING, claimed_until__lt=now),
                batch_key=entry.batch_key,
                recipient=entry.recipient,
                channel=entry.channel,
            ).exclude(id=entry.id)
            ids = [row.id for row in await siblings.using_db(tx.client).select_for_update()]
            if ids:
                await (
                    Delivery.filter(id__in=ids)
                    .using_db(tx.client)
                    .update(
                        state=DeliveryState.SENDING,
                        claimed_by=worker_id,
                        claimed_until=now + lease,
                        attempts=F("attempts") + 1,
                        updated_at=now,
                    )
                )
            claimed = await Delivery.filter(id__in=ids).using_db(tx.client).order_by("id")
        return [entry, *(outbox_entry(row) for row in claimed)]
