"""Digest deliveries: one digest per reader and slot, even when several senders run at once.

``icop digest send-due`` may run from cron while a daemon's scheduler runs too, or be re-run after a
crash. A sender first *claims* the (membership, slot) row: the unique index on (membership, period_end)
lets exactly one claim succeed. The claim is a lease (``claimed_until``): a sender killed between its
claim and its send leaves a row that another sender takes over once the lease has run out, so the
digest is neither lost nor sent twice. A temporary failure (the mail server down) hands the row back
with a later ``claimed_until``, which is the retry's backoff; after ``max_attempts`` or a permanent
refusal the row is parked as dead, and the reader's next slot goes on as usual.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Count, Max

from bridge.core.model import DeliveryState
from bridge.store.database import Database
from bridge.store.models import DigestDelivery, DigestFeedback, Membership
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
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    """Answers to "was this useful?" over some digests: the convener's value indicator."""

    digests: int
    useful: int
    not_useful: int


class Digests:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def begin(
        self,
        membership_id: int,
        period_start: datetime,
        period_end: datetime,
        *,
        worker: str = "",
        lease_until: datetime | None = None,
    ) -> int | None:
        """Claim this slot's digest for the member; None when it was claimed (or sent) before."""
        try:
            async with self._db.transaction() as tx:
                row = await DigestDelivery.create(
                    membership_id=membership_id,
                    period_start=as_utc(period_start),
                    period_end=as_utc(period_end),
                    state=DeliveryState.SENDING,
                    claimed_by=worker or None,
                    claimed_until=as_utc(lease_until) if lease_until else None,
                    attempts=1,
                    using_db=tx.client,
                )
        except IntegrityError:
            return None
        return row.id

    async def begin_many(
        self,
        claims: Iterable[tuple[int, datetime, datetime]],
        *,
        worker: str,
        lease_until: datetime,
        state: DeliveryState = DeliveryState.SENDING,
    ) -> dict[int, int]:
        """Claim many (membership, period start, slot) digests in one statement; ``worker`` must be
        unique to this run. Returns membership → digest id for the claims this run won (a slot claimed
        before, by anyone, is left out). ``state`` ``cancelled`` records slots with nothing to send."""
        rows = [
            DigestDelivery(
                membership_id=membership_id,
                period_start=as_utc(start),
                period_end=as_utc(end),
                state=state,
                claimed_by=worker,
                claimed_until=as_utc(lease_until) if state is DeliveryState.SENDING else None,
                attempts=1 if state is DeliveryState.SENDING else 0,
                last_error=None if state is DeliveryState.SENDING else "nothing new",
            )
            for membership_id, start, end in claims
        ]
        if not rows:
            return {}
        async with self._db.transaction() as tx:
            await DigestDelivery.bulk_create(rows, ignore_conflicts=True, batch_size=500, using_db=tx.client)
            won = (
                await DigestDelivery.filter(claimed_by=worker, state=state)
                .using_db(tx.client)
                .values_list("membership_id", "id")
            )
        return {int(membership): int(digest) for membership, digest in won}

    async def take_over(self, digest_id: int, *, worker: str, now: datetime, lease_until: datetime) -> bool:
        """Claim a row whose lease ran out (its sender died, or its retry is due); False if another
        sender got there first or it is no longer waiting."""
        async with self._db.session() as conn:
            count = await (
                DigestDelivery.filter(
                    id=digest_id, state=DeliveryState.SENDING, claimed_until__lt=as_utc(now)
                )
                .using_db(conn)
                .update(claimed_by=worker, claimed_until=as_utc(lease_until), attempts=F("attempts") + 1)
            )
        return count > 0

    async def stale(self, community_id: int, now: datetime) -> list[DigestRecord]:
        """Claimed digests of the community whose lease has run out: to be taken over and sent."""
        async with self._db.session() as conn:
            rows = (
                await DigestDelivery.filter(
                    state=DeliveryState.SENDING,
                    claimed_until__lt=as_utc(now),
                    membership_id__in=Subquery(Membership.filter(community_id=community_id).values("id")),
                )
                .using_db(conn)
                .order_by("id")
            )
        return [_record(row) for row in rows]

    async def mark_sent(self, digest_id: int, message_id: str, at: datetime) -> None:
        async with self._db.session() as conn:
            await (
                DigestDelivery.filter(id=digest_id)
                .using_db(conn)
                .update(
                    state=DeliveryState.SENT,
                    message_id=message_id,
                    sent_at=as_utc(at),
                    claimed_until=None,
                    last_error=None,
                )
            )

    async def retry_later(self, digest_id: int, error: str, at: datetime) -> None:
        """A temporary failure: another attempt once ``at`` has passed (also for a digest recorded as
        sent just before the server refused it)."""
        async with self._db.session() as conn:
            await (
                DigestDelivery.filter(id=digest_id, state__in=(DeliveryState.SENDING, DeliveryState.SENT))
                .using_db(conn)
                .update(
                    state=DeliveryState.SENDING,
                    sent_at=None,
                    claimed_by=None,
                    claimed_until=as_utc(at),
                    last_error=error[:2000],
                )
            )

    async def give_up(self, digest_id: int, error: str) -> None:
        """A permanent failure, or too many attempts: the digest is parked as dead."""
        async with self._db.session() as conn:
            await (
                DigestDelivery.filter(id=digest_id)
                .using_db(conn)
                .update(state=DeliveryState.DEAD, claimed_until=None, last_error=error[:2000])
            )

    async def nothing_new(self, digest_id: int) -> None:
        """The slot had nothing to send: recorded as handled (``cancelled``), so no run weighs it again."""
        async with self._db.session() as conn:
            await (
                DigestDelivery.filter(id=digest_id)
                .using_db(conn)
                .update(state=DeliveryState.CANCELLED, claimed_until=None, last_error="nothing new")
            )

    async def abandon(self, digest_id: int) -> None:
        """Give the period back (nothing was sent and nothing should be: a dry run, an empty digest)."""
        async with self._db.session() as conn:
            await DigestDelivery.filter(id=digest_id, state=DeliveryState.SENDING).using_db(conn).delete()

    async def get(self, digest_id: int) -> DigestRecord | None:
        async with self._db.session() as conn:
            row = await DigestDelivery.filter(id=digest_id).using_db(conn).first()
        return _record(row) if row is not None else None

    async def last(self, membership_id: int) -> DigestRecord | None:
        """The member's latest digest by period, to know where the next period starts."""
        async with self._db.session() as conn:
            row = (
                await DigestDelivery.filter(membership_id=membership_id)
                .using_db(conn)
                .order_by("-period_end", "-id")
                .first()
            )
        return _record(row) if row is not None else None

    async def last_ends(self, membership_ids: Iterable[int]) -> dict[int, datetime]:
        """The latest slot each of these members had a digest for (sent, sending or dead)."""
        ids = list(membership_ids)
        found: dict[int, datetime] = {}
        async with self._db.session() as conn:
            for chunk in range(0, len(ids), 500):
                rows = (
                    await DigestDelivery.filter(membership_id__in=ids[chunk : chunk + 500])
                    .using_db(conn)
                    .annotate(end=Max("period_end"))
                    .group_by("membership_id")
                    .values_list("membership_id", "end")
                )
                for membership_id, end in rows:
                    found[int(membership_id)] = _utc(end)
        return found

    async def record_feedback(self, digest_id: int, useful: bool, at: datetime) -> bool:
        """Store a reader's answer; a second answer replaces the first. False for an unknown digest."""
        async with self._db.transaction() as tx:
            if not await DigestDelivery.filter(id=digest_id).using_db(tx.client).exists():
                return False
            updated = (
                await DigestFeedback.filter(digest_id=digest_id)
                .using_db(tx.client)
                .update(useful=useful, answered_at=as_utc(at))
            )
            if not updated:
                await DigestFeedback.create(
                    digest_id=digest_id, useful=useful, answered_at=as_utc(at), using_db=tx.client
                )
        return True

    async def feedback_counts(self, community_id: int, since: datetime, until: datetime) -> FeedbackCounts:
        """Digests sent to the community's readers between ``since`` and ``until``, and the answers."""
        window = Q(sent_at__gte=as_utc(since)) & Q(sent_at__lt=as_utc(until))
        async with self._db.session() as conn:
            in_community = Subquery(Membership.filter(community_id=community_id).values("id"))
            sent = (
                await DigestDelivery.filter(window, membership_id__in=in_community, state=DeliveryState.SENT)
                .using_db(conn)
                .count()
            )
            answers = (
                await DigestFeedback.filter(
                    digest_id__in=Subquery(
                        DigestDelivery.filter(window, membership_id__in=in_community).values("id")
                    )
                )
                .using_db(conn)
                .annotate(n=Count("id"))
                .group_by("useful")
                .values_list("useful", "n")
            )
        counts = {bool(useful): int(n) for useful, n in answers}
        return FeedbackCounts(digests=sent, useful=counts.get(True, 0), not_useful=counts.get(False, 0))


def _utc(value: object) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(str(value)))


def _record(row: DigestDelivery) -> DigestRecord:
    return DigestRecord(
        id=row.id,
        membership_id=row.membership_id,
        period_start=row.period_start,
        period_end=row.period_end,
        state=row.state,
        sent_at=row.sent_at,
        message_id=row.message_id,
        attempts=row.attempts,
        last_error=row.last_error,
    )
