"""When a reader's digest is due: the community's local hour in the reader's own IANA time zone.

A *slot* is the UTC instant of one scheduled send; a digest is identified by its reader and its slot, so
every process that computes the schedule agrees on it and the store's unique claim on (reader, slot)
makes it go out once.

- daily: every day at ``hour``, local time;
- weekly: on ``weekday`` at ``hour``, local time;
- monthly: on the first ``weekday`` of each month at ``hour`` (a fixed weekday keeps the monthly digest
  on the day readers already expect the weekly one; "the 1st" would land on a weekend in two months of
  seven).

Daylight saving time (the policy the README states): an hour that does not exist that day (clocks jump
forward over it) moves to the next valid time, the instant the clocks jump; an hour that happens twice
(clocks fall back) is the first of the two, and the second is never a slot, so it sends once.

Catching up: only the latest slot at or before now is ever due. After a downtime the missed digest goes
out once, covering the posts since the reader's previous digest, at most one period back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEARCH_DAYS = 40  # the longest gap between two slots (monthly) is 35 days


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """A community's send time: ``hour`` local, ``weekday`` (0 = Monday) for weekly and monthly."""

    frequency: Frequency
    hour: int = 8
    weekday: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.hour <= 23:
            raise ValueError(f"hour {self.hour} is not 0..23")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday {self.weekday} is not 0..6")

    def is_slot_day(self, day: date) -> bool:
        if self.frequency is Frequency.DAILY:
            return True
        if day.weekday() != self.weekday:
            return False
        return self.frequency is Frequency.WEEKLY or day.day <= 7


@dataclass(frozen=True, slots=True)
class Period:
    """What one digest covers: posts from ``start`` (inclusive) to ``end`` (exclusive), both UTC.

    ``end`` is the slot the digest is sent at, and with the reader it identifies the digest."""

    start: datetime
    end: datetime


def weekday_number(name: str) -> int:
    return WEEKDAYS.index(name.strip().lower())


def local_instant(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """``hour``:00 on ``day`` in ``zone``, as a UTC instant, under the DST policy of this module."""
    wall = datetime.combine(day, time(hour))
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # it exists; fold=0 is the first of a repeated hour
    # In a gap: zoneinfo read the wall time with each side's offset; the jump lies between the two.
    other = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_instant_at_or_after(wall, zone, min(first, other), max(first, other))


def _first_instant_at_or_after(wall: datetime, zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The earliest whole second in [low, high] whose local wall time is at or after ``wall``."""
    lo, hi = int(low.timestamp()), int(high.timestamp())
    while lo < hi:
        middle = (lo + hi) // 2
        local = datetime.fromtimestamp(middle, UTC).astimezone(zone).replace(tzinfo=None)
        if local >= wall:
            hi = middle
        else:
            lo = middle + 1
    return datetime.fromtimestamp(lo, UTC)


def latest_slot(schedule: DigestSchedule, zone: ZoneInfo, now: datetime) -> datetime:
    """The most recent slot at or before ``now`` (UTC)."""
    today = now.astimezone(zone).date()
    for back in range(-1, _SEARCH_DAYS):
        day = today - timedelta(days=back)
        if schedule.is_slot_day(day):
            slot = local_instant(day, schedule.hour, zone)
            if slot <= now:
                return slot
    raise AssertionError(f"no slot within {_SEARCH_DAYS} days of {now}")  # every schedule has one


def next_slot(schedule: DigestSchedule, zone: ZoneInfo, now: datetime) -> datetime:
    """The first slot strictly after ``now`` (UTC): when the scheduler must look again."""
    today = now.astimezone(zone).date()
    for ahead in range(-1, _SEARCH_DAYS):
        day = today + timedelta(days=ahead)
        if schedule.is_slot_day(day):
            slot = local_instant(day, schedule.hour, zone)
            if slot > now:
                return slot
    raise AssertionError(f"no slot within {_SEARCH_DAYS} days of {now}")


def due_period(
    schedule: DigestSchedule,
    zone: ZoneInfo,
    now: datetime,
    *,
    previous_end: datetime | None,
    subscribed_at: datetime | None = None,
) -> Period | None:
    """The period of the digest due at ``now``, or None when nothing is due.

    ``previous_end`` is the slot of the reader's previous digest. Nothing is due when that slot is the
    latest one already, or when the reader subscribed after it (their first digest waits for the next
    slot). A digest covers the posts since the previous digest, at most one period back.
    """
    return period_from(slots_at(schedule, zone, now), previous_end, subscribed_at)


@dataclass(frozen=True, slots=True)
class Slots:
    """The latest slot at some moment and the one before it: all a reader's due period depends on
    besides their own history, so a run computes it once per zone and frequency."""

    latest: datetime
    before: datetime


def slots_at(schedule: DigestSchedule, zone: ZoneInfo, now: datetime) -> Slots:
    slot = latest_slot(schedule, zone, now)
    return Slots(slot, latest_slot(schedule, zone, slot - timedelta(microseconds=1)))


def period_from(slots: Slots, previous_end: datetime | None, subscribed_at: datetime | None) -> Period | None:
    """:func:`due_period` for slots computed beforehand."""
    if previous_end is not None and previous_end >= slots.latest:
        return None
    if subscribed_at is not None and subscribed_at > slots.latest:
        return None
    start = max(previous_end, slots.before) if previous_end is not None else slots.before
    return Period(start=start, end=slots.latest)
