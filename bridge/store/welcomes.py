"""Welcomes: who was greeted, on which channel, and which greetings still wait to go out.

A welcome is queued once per address in a community (the unique row is the memory that survives
restarts) and sent by the welcomer's loop, which claims a due row by moving its next attempt past a
lease: a process that dies while sending lets the lease run out and the row comes back, so a welcome
is sent at least once, and the receivers recognise a repeat by its Message-ID or transaction id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from bridge.core.model import Channel, MembershipState
from bridge.store.communities import Communities
from bridge.store.database import Database
from bridge.store.models import Membership, Welcome
from bridge.store.records import MemberRecord, as_utc

PENDING, SENT, DEAD, SKIPPED = "pending", "sent", "dead", "skipped"


@dataclass(frozen=True, slots=True)
class WelcomeRecord:
    id: int
    community_id: int
    membership_id: int | None
    address: str  # an email address, or a Matrix id for a welcome in the room
    channel: Channel
    state: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None


class Welcomes:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def newcomers(self, community_id: int) -> list[MemberRecord]:
        """Active members not yet welcomed (nor queued), by their membership or by an address of theirs."""
        async with self._db.session() as conn:
            rows = (
                await Welcome.filter(community_id=community_id)
                .using_db(conn)
                .values_list("membership_id", "address")
            )
            welcomed = [int(m) for m, _ in rows if m is not None]
            waiting = {
                int(i)
                for (i,) in await Membership.filter(community_id=community_id, state=MembershipState.ACTIVE)
                .exclude(id__in=welcomed)
                .using_db(conn)
                .values_list("id")
            }
        if not waiting:
            return []
        addresses = {str(a) for _, a in rows}
        members = await Communities(self._db).members(community_id)
        return [m for m in members if m.membership_id in waiting and not ({m.email, m.matrix_id} & addresses)]

    async def welcomed(self, community_id: int, address: str) -> bool:
        """Whether ``address`` was welcomed (or is queued) in the community."""
        async with self._db.session() as conn:
            return await Welcome.filter(community_id=community_id, address=address).using_db(conn).exists()

    async def queue(
        self,
        community_id: int,
        address: str,
        channel: Channel,
        *,
        membership_id: int | None,
        now: datetime,
    ) -> bool:
        """Queue a welcome; False when this address was welcomed before (or is queued)."""
        now = as_utc(now)
        try:
            async with self._db.session() as conn:
                if await Welcome.filter(community_id=community_id, address=address).using_db(conn).exists():
                    return False
                await Welcome.create(
                    community_id=community_id,
                    membership_id=membership_id,
                    address=address,
                    channel=channel,
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                    using_db=conn,
                )
        except IntegrityError:
            return False  # queued at the same moment by another process
        return True

    async def claim_due(self, now: datetime, lease: timedelta, limit: int = 20) -> list[WelcomeRecord]:
        """Due welcomes, each claimed for ``lease`` (its next attempt moved past it; one attempt more)."""
        now = as_utc(now)
        async with self._db.session() as conn:
            due = (
                await Welcome.filter(state=PENDING, next_attempt_at__lte=now)
                .using_db(conn)
                .order_by("next_attempt_at", "id")
                .limit(limit)
            )
        claimed = []
        for row in due:
            async with self._db.session() as conn:
                taken = (
                    await Welcome.filter(id=row.id, state=PENDING, next_attempt_at=row.next_attempt_at)
                    .using_db(conn)
                    .update(next_attempt_at=now + lease, attempts=row.attempts + 1)
                )
            if taken:
                claimed.append(_record(row, attempts=row.attempts + 1))
        return claimed

    async def mark_sent(self, welcome_id: int, now: datetime) -> None:
        async with self._db.session() as conn:
            await Welcome.filter(id=welcome_id).using_db(conn).update(state=SENT, sent_at=as_utc(now))

    async def mark_failed(self, welcome_id: int, error: str, retry_at: datetime | None) -> None:
        """Try again at ``retry_at``; None: give up (the welcome is dead, the log says why)."""
        async with self._db.session() as conn:
            query = Welcome.filter(id=welcome_id).using_db(conn)
            if retry_at is None:
                await query.update(state=DEAD, last_error=error)
            else:
                await query.update(next_attempt_at=as_utc(retry_at), last_error=error)

    async def next_due_at(self) -> datetime | None:
        """When the next pending welcome falls due (None: none waits)."""
        async with self._db.session() as conn:
            first = await Welcome.filter(state=PENDING).using_db(conn).order_by("next_attempt_at").first()
        return as_utc(first.next_attempt_at) if first is not None else None

    async def of_community(self, community_id: int) -> list[WelcomeRecord]:
        async with self._db.session() as conn:
            rows = await Welcome.filter(community_id=community_id).using_db(conn).order_by("id")
        return [_record(r) for r in rows]


def _record(row: Welcome, *, attempts: int | None = None) -> WelcomeRecord:
    return WelcomeRecord(
        id=row.id,
        community_id=row.community_id,
        membership_id=row.membership_id,
        address=row.address,
        channel=Channel(row.channel),
        state=row.state,
        attempts=row.attempts if attempts is None else attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        sent_at=as_utc(row.sent_at) if row.sent_at is not None else None,
    )
