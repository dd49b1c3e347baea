"""The meeting reminders that went out, each beside the bridge's post that carried it.

A reminder is recorded in the transaction that stores its post and the post's outbox rows, keyed by
(community, series, meeting number, minutes before): a restart, a kill -9 or a second process finds it
and sends nothing again. The first reminder of a meeting opens its notes thread; later ones are posted
in that thread, found here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.store.database import Database, Transaction
from bridge.store.models import MeetingReminder
from bridge.store.records import as_utc


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    id: int
    community_id: int
    series_key: str
    meeting_number: int
    minutes_before: int
    meeting_start: datetime
    post_id: int
    thread_id: int
    created_at: datetime


class MeetingReminders:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sent(self, community_id: int, series_key: str, number: int, minutes_before: int) -> bool:
        """Whether this reminder of this meeting already went out."""
        async with self._db.session() as conn:
            return (
                await MeetingReminder.filter(
                    community_id=community_id,
                    series_key=series_key,
                    meeting_number=number,
                    minutes_before=minutes_before,
                )
                .using_db(conn)
                .exists()
            )

    async def of_meeting(self, community_id: int, series_key: str, number: int) -> list[ReminderRecord]:
        """The reminders of one meeting that went out, first first (the first opened its notes)."""
        async with self._db.session() as conn:
            rows = (
                await MeetingReminder.filter(
                    community_id=community_id, series_key=series_key, meeting_number=number
                )
                .using_db(conn)
                .order_by("created_at", "id")
            )
        return [_record(r) for r in rows]

    async def of_post(self, post_id: int) -> ReminderRecord | None:
        """The reminder a post of the bridge carries (None: an ordinary post)."""
        async with self._db.session() as conn:
            row = await MeetingReminder.filter(post_id=post_id).using_db(conn).first()
        return _record(row) if row is not None else None

    async def record(
        self,
        *,
        community_id: int,
        series_key: str,
        number: int,
        minutes_before: int,
        meeting_start: datetime,
        post_id: int,
        thread_id: int,
        now: datetime,
        tx: Transaction,
    ) -> None:
        """Remember a reminder that is going out (in the transaction of its post)."""
        await MeetingReminder.create(
            community_id=community_id,
            series_key=series_key,
            meeting_number=number,
            minutes_before=minutes_before,
            meeting_start=as_utc(meeting_start),
            post_id=post_id,
            thread_id=thread_id,
            created_at=as_utc(now),
            using_db=tx.client,
        )


def _record(row: MeetingReminder) -> ReminderRecord:
    return ReminderRecord(
        id=row.id,
        community_id=row.community_id,
        series_key=row.series_key,
        meeting_number=row.meeting_number,
        minutes_before=row.minutes_before,
        meeting_start=as_utc(row.meeting_start),
        post_id=row.post_id,
        thread_id=row.thread_id,
        created_at=as_utc(row.created_at),
    )
