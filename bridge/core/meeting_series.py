"""A community's recurring meetings: when each one falls, in whose turn of the rotation, and when to remind.

A series is written by the convener in config (title, cadence, the first date, one or more local start
times taken in turn, the zone those times are in). Occurrences are computed, never stored: the n-th
meeting is a pure function of the series, so the reminders, the digest's "upcoming meetings" and the
calendar invitations all agree, and a restart changes nothing. Local times are read on each meeting's
own date in the series' zone, so a series "every Tuesday at 15:00 Europe/Dublin" stays at 15:00 in Dublin
across daylight-saving changes (and moves in UTC, as people expect).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_MEETINGS = 5_000  # a weekly series would need a century to reach it


class Cadence(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"  # the same weekday of the same week of the month as the first meeting


@dataclass(frozen=True, slots=True)
class MeetingSeries:
    """One recurring meeting of a community, as configured."""

    key: str  # stable within the community (the config's ``id``): it names invitations and reminders
    title: str
    cadence: Cadence
    first: date
    slots: tuple[time, ...]  # local start times, one per meeting in turn
    time_zone: str
    duration: timedelta
    call_url: str | None = None
    description: str = ""
    reminders: tuple[timedelta, ...] = ()  # how long before each meeting a reminder goes out

    def __post_init__(self) -> None:
        if not self.slots:
            raise ValueError("a meeting series needs at least one start time")
        if any(before <= timedelta(0) for before in self.reminders):
            raise ValueError("a reminder goes out before the meeting: give positive durations")


@dataclass(frozen=True, slots=True)
class Meeting:
    """One meeting of a series: its number (0 is the first), its start and end, in UTC and aware."""

    series: MeetingSeries
    number: int
    start: datetime
    end: datetime

    @property
    def uid(self) -> str:
        """Stable per meeting, so a calendar updates one event instead of adding another."""
        return f"{self.series.key}-{self.number}"


def _nth_weekday(first: date, months_later: int) -> date | None:
    """The same weekday and week of the month as ``first``, ``months_later`` months on (None if missing)."""
    week = (first.day - 1) // 7
    year, month = divmod(first.month - 1 + months_later, 12)
    start = date(first.year + year, month + 1, 1)
    offset = (first.weekday() - start.weekday()) % 7
    day = start + timedelta(days=offset + 7 * week)
    return day if day.month == start.month else None


def meeting_date(series: MeetingSeries, number: int) -> date | None:
    """The local date of meeting ``number``; None when a monthly series' fifth weekday does not exist."""
    if series.cadence is Cadence.WEEKLY:
        return series.first + timedelta(weeks=number)
    if series.cadence is Cadence.FORTNIGHTLY:
        return series.first + timedelta(weeks=2 * number)
    return _nth_weekday(series.first, number)


def meeting(series: MeetingSeries, number: int) -> Meeting | None:
    """Meeting ``number`` of the series, its start read in the series' zone on its own date.

    A start time that does not exist that day (inside a spring-forward gap) moves forward by the gap,
    as ``zoneinfo`` resolves it with ``fold=0``; a time that happens twice takes its first occurrence.
    """
    day = meeting_date(series, number)
    if day is None:
        return None
    zone = ZoneInfo(series.time_zone)
    slot = series.slots[number % len(series.slots)]
    # fold=0: a wall time inside a gap is read with the offset before it (so it lands later by the gap's
    # length), and a repeated wall time is its first occurrence.
    start = datetime.combine(day, slot, zone).astimezone(UTC)
    return Meeting(series, number, start, start + series.duration)


def meetings_between(series: MeetingSeries, since: datetime, until: datetime) -> Iterator[Meeting]:
    """Meetings starting in [since, until), in order."""
    for number in range(MAX_MEETINGS):
        found = meeting(series, number)
        if found is None:
            continue  # a monthly series' fifth weekday that this month lacks
        if found.start >= until:
            return
        if found.start >= since:
            yield found


def meetings_after(series: MeetingSeries, moment: datetime) -> Iterator[Meeting]:
    """Meetings starting after ``moment``, in order (an endless series: take what you need)."""
    for number in range(MAX_MEETINGS):
        found = meeting(series, number)
        if found is not None and found.start > moment:
            yield found


def upcoming(all_series: Sequence[MeetingSeries], now: datetime, horizon: timedelta) -> list[Meeting]:
    """Every meeting of every series that starts within ``horizon`` of ``now``, soonest first."""
    found = [m for s in all_series for m in meetings_between(s, now, now + horizon)]
    return sorted(found, key=lambda m: (m.start, m.series.key))
