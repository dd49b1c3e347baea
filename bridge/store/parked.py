"""Parked messages (DESIGN §8): what could not be handled, kept whole with its reason, until re-processed
or discarded.

Parking is keyed by the message's origin (the SHA-256 of a mail, a Matrix event id), so the same
message failing again after a replay updates its row: it is parked once and its conveners are told
once. A convener's ``retry`` only queues rows; the daemon claims each queued row (one process wins the
claim) and re-processes it, then marks it done or parks it again with the new reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Count

from bridge.core.model import Channel
from bridge.store.database import Database
from bridge.store.fit import fit_key, fit_optional_key, fit_optional_text
from bridge.store.models import (
    ADDRESS_LENGTH,
    EVENT_ID_LENGTH,
    HEADER_VALUE_LENGTH,
    ParkedMessage,
    ParkedState,
)
from bridge.store.records import as_utc

OPEN_STATES = (ParkedState.PARKED, ParkedState.QUEUED, ParkedState.RETRYING)


@dataclass(frozen=True, slots=True)
class NewParked:
    """A message to park: where it came from, what it is, and why it failed."""

    channel: Channel
    source: str
    origin: str
    data: bytes
    reason: str
    failure: str
    attempts: int = 1
    position: str | None = None
    community_id: int | None = None
    sender: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class ParkedRecord:
    id: int
    channel: Channel
    source: str
    origin: str
    position: str | None
    community_id: int | None
    sender: str | None
    subject: str | None
    size: int
    reason: str
    failure: str
    attempts: int
    state: ParkedState
    parked_at: datetime
    updated_at: datetime
    told_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class ParkOutcome:
    record: ParkedRecord
    new: bool  # False when the same message was parked before (its conveners were told then)


class ParkedMessages:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def park(self, item: NewParked, now: datetime) -> ParkOutcome:
        """Park ``item``, or update the row of the same message parked before."""
        now = as_utc(now)
        origin = fit_key(item.origin, EVENT_ID_LENGTH)
        fields = {
            "reason": item.reason,
            "failure": item.failure,
            "updated_at": now,
        }
        try:
            async with self._db.transaction() as tx:
                row = await ParkedMessage.create(
                    channel=item.channel,
                    source=fit_key(item.source, EVENT_ID_LENGTH),
                    origin=origin,
                    position=fit_optional_key(item.position, 64),
                    community_id=item.community_id,
                    sender=fit_optional_key(item.sender, ADDRESS_LENGTH),
                    subject=fit_optional_text(item.subject, HEADER_VALUE_LENGTH),
                    data=item.data,
                    size=len(item.data),
                    attempts=item.attempts,
                    state=ParkedState.PARKED,
                    parked_at=now,
                    **fields,
                    using_db=tx.client,
                )
            return ParkOutcome(_record(row), new=True)
        except IntegrityError:
            pass
        async with self._db.transaction() as tx:
            row = await ParkedMessage.filter(channel=item.channel, origin=origin).using_db(tx.client).get()
            # A message a convener discarded stays discarded when it comes back and fails again.
            state = row.state if row.state is ParkedState.DISCARDED else ParkedState.PARKED
            await (
                ParkedMessage.filter(id=row.id)
                .using_db(tx.client)
                .update(state=state, attempts=F("attempts") + item.attempts, **fields)
            )
            row = await ParkedMessage.filter(id=row.id).using_db(tx.client).get()
        return ParkOutcome(_record(row), new=False)

    async def get(self, parked_id: int) -> ParkedRecord | None:
        async with self._db.session() as conn:
            row = await ParkedMessage.filter(id=parked_id).using_db(conn).first()
        return _record(row) if row is not None else None

    async def data(self, parked_id: int) -> bytes | None:
        """The raw bytes as received (a mail, or a Matrix event as JSON)."""
        async with self._db.session() as conn:
            rows = await ParkedMessage.filter(id=parked_id).using_db(conn).values_list("data", flat=True)
        return bytes(rows[0]) if rows else None

    async def find(
        self, states: Sequence[ParkedState] | None = OPEN_STATES, community_id: int | None = None
    ) -> list[ParkedRecord]:
        """Parked messages in ``states`` (all when None), oldest first."""
        async with self._db.session() as conn:
            query = ParkedMessage.all()
            if states is not None:
                query = query.filter(state__in=list(states))
            if community_id is not None:
                query = query.filter(community_id=community_id)
            rows = await query.using_db(conn).order_by("id")
        return [_record(r) for r in rows]

    async def counts(self) -> dict[tuple[Channel, ParkedState], int]:
        """How many messages are set aside, per channel and state (the metrics read this)."""
        async with self._db.session() as conn:
            rows = (
                await ParkedMessage.all()
                .using_db(conn)
                .annotate(count=Count("id"))
                .group_by("channel", "state")
                .values_list("channel", "state", "count")
            )
        return {(Channel(channel), ParkedState(state)): int(count) for channel, state, count in rows}

    async def untold(self) -> list[ParkedRecord]:
        """Messages parked whose conveners have not been told yet, oldest first."""
        async with self._db.session() as conn:
            rows = await ParkedMessage.filter(told_at__isnull=True).using_db(conn).order_by("id")
        return [_record(r) for r in rows]

    async def mark_told(self, ids: Sequence[int], now: datetime) -> None:
        async with self._db.session() as conn:
            await ParkedMessage.filter(id__in=list(ids)).using_db(conn).update(told_at=as_utc(now))

    async def queue(self, ids: Sequence[int] | None, now: datetime) -> list[int]:
        """Queue parked (or discarded, when named) messages for re-processing; the ids queued."""
        async with self._db.transaction() as tx:
            query = ParkedMessage.all()
            if ids is None:
                query = query.filter(state=ParkedState.PARKED)
            else:
                query = query.filter(id__in=list(ids), state__in=[ParkedState.PARKED, ParkedState.DISCARDED])
            found = await query.using_db(tx.client).values_list("id", flat=True)
            queued = [int(str(i)) for i in found]
            if queued:
                await (
                    ParkedMessage.filter(id__in=queued)
                    .using_db(tx.client)
                    .update(state=ParkedState.QUEUED, updated_at=as_utc(now))
                )
        return sorted(queued)

    async def discard(self, ids: Sequence[int], now: datetime) -> list[int]:
        """Discard parked or queued messages; the ids discarded (kept, so a mistake can be retried)."""
        async with self._db.transaction() as tx:
            found = await (
                ParkedMessage.filter(id__in=list(ids), state__in=[ParkedState.PARKED, ParkedState.QUEUED])
                .using_db(tx.client)
                .values_list("id", flat=True)
            )
            discarded = sorted(int(str(i)) for i in found)
            if discarded:
                await (
                    ParkedMessage.filter(id__in=discarded)
                    .using_db(tx.client)
                    .update(state=ParkedState.DISCARDED, updated_at=as_utc(now), resolved_at=as_utc(now))
                )
        return discarded

    async def claim_queued(self, now: datetime, *, stale_after: timedelta) -> list[ParkedRecord]:
        """Claim the queued messages for re-processing (each by one process), and those left half-way
        by a process that died (``retrying`` for longer than ``stale_after``)."""
        now = as_utc(now)
        async with self._db.session() as conn:
            candidates = await (
                ParkedMessage.filter(state=ParkedState.QUEUED).using_db(conn).order_by("id").values_list("id")
            )
            stale = await (
                ParkedMessage.filter(state=ParkedState.RETRYING, updated_at__lt=now - stale_after)
                .using_db(conn)
                .values_list("id")
            )
        claimed: list[ParkedRecord] = []
        for (parked_id,) in [*candidates, *stale]:
            async with self._db.session() as conn:
                count = await (
                    ParkedMessage.filter(id=parked_id, state__in=[ParkedState.QUEUED, ParkedState.RETRYING])
                    .using_db(conn)
                    .update(state=ParkedState.RETRYING, updated_at=now)
                )
                row = await ParkedMessage.filter(id=parked_id).using_db(conn).first() if count else None
            if row is not None:
                claimed.append(_record(row))
        return claimed

    async def done(self, parked_id: int, now: datetime) -> None:
        async with self._db.session() as conn:
            await (
                ParkedMessage.filter(id=parked_id)
                .using_db(conn)
                .update(state=ParkedState.DONE, updated_at=as_utc(now), resolved_at=as_utc(now))
            )

    async def failed_again(self, parked_id: int, reason: str, failure: str, now: datetime) -> None:
        """Re-processing failed: parked again with the new reason (its conveners were told already)."""
        async with self._db.session() as conn:
            await (
                ParkedMessage.filter(id=parked_id)
                .using_db(conn)
                .update(
                    state=ParkedState.PARKED,
                    reason=reason,
                    failure=failure,
                    attempts=F("attempts") + 1,
                    updated_at=as_utc(now),
                )
            )

    async def release(self, parked_id: int, now: datetime) -> None:
        """Re-processing met a transient failure: back in the queue, for the next round."""
        async with self._db.session() as conn:
            await (
                ParkedMessage.filter(id=parked_id)
                .using_db(conn)
                .update(state=ParkedState.QUEUED, updated_at=as_utc(now))
            )


def _record(row: ParkedMessage) -> ParkedRecord:
    return ParkedRecord(
        id=row.id,
        channel=row.channel,
        source=row.source,
        origin=row.origin,
        position=row.position,
        community_id=row.community_id,
        sender=row.sender,
        subject=row.subject,
        size=row.size,
        reason=row.reason,
        failure=row.failure,
        attempts=row.attempts,
        state=row.state,
        parked_at=row.parked_at,
        updated_at=row.updated_at,
        told_at=row.told_at,
        resolved_at=row.resolved_at,
    )
