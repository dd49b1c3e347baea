"""Digest deliveries: at most one digest per membership and period, even when the scheduler repeats.

``icop digest send-due`` may run from cron while a daemon's scheduler runs too, or be re-run after a
crash; claiming the (membership, period) row first makes the second sender see it is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError

from bridge.core.model import DeliveryState
from bridge.store.database import Database
from bridge.store.models import DigestDelivery
from bridge.store.records import as_utc


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    membership_id: int
    period_start: datetime
    period_end: datetime
    state: DeliveryState
    sent_at: datetime | None
    message_id: str | None


class Digests:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def begin(self, membership_id: int, period_start: datetime, period_end: datetime) -> int | None:
        """Claim this period's digest for the member; None when it was claimed (or sent) before."""
        try:
            async with self._db.transaction() as tx:
                row = await DigestDelivery.create(
                    membership_id=membership_id,
                    period_start=as_utc(period_start),
                    period_end=as_utc(period_end),
                    state=DeliveryState.SENDING,
                    using_db=tx.client,
                )
        except IntegrityError:
            return None
        return row.id

    async def mark_sent(self, digest_id: int, message_id: str, at: datetime) -> None:
        async with self._db.session() as conn:
            await (
                DigestDelivery.filter(id=digest_id)
                .using_db(conn)
                .update(state=DeliveryState.SENT, message_id=message_id, sent_at=as_utc(at))
            )

    async def abandon(self, digest_id: int) -> None:
        """Give the period back (sending failed before anything left), so the next run tries again."""
        async with self._db.session() as conn:
            await DigestDelivery.filter(id=digest_id, state=DeliveryState.SENDING).using_db(conn).delete()

    async def last(self, membership_id: int) -> DigestRecord | None:
        """The member's latest digest by period, to know where the next period starts."""
        async with self._db.session() as conn:
            row = (
                await DigestDelivery.filter(membership_id=membership_id)
                .using_db(conn)
                .order_by("-period_end", "-id")
                .first()
            )
        if row is None:
            return None
        return DigestRecord(
            id=row.id,
            membership_id=row.membership_id,
            period_start=row.period_start,
            period_end=row.period_end,
            state=row.state,
            sent_at=row.sent_at,
            message_id=row.message_id,
        )
