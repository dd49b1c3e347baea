"""Meeting times that are fair to every time zone: score candidate slots, rank them, build rotations.

A community of practice spread over the world has no hour that suits everyone; the convener's job is to
share the inconvenience, not to hand it always to the same region. This module scores a concrete start
time (a real date, so daylight-saving changes are applied as they fall) by the *pain* each attendee feels
at their local hour, and counts both the mean pain (how much the group pays) and the worst pain (how much
the unluckiest person pays). Rotations of two or three slots are scored by each person's average over the
rotation, so a set where every region takes a turn at the awkward hour beats one that always picks on the
same people.

The scale (0 = the middle of a working day, 10 = asleep) is a table, not a formula, so a convener can read
it in the README and argue with it. Pure: no I/O, times in, scores out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# Pain at each local hour of a working day (index = hour 0..23).
WORKDAY_PAIN: tuple[int, ...] = (
    10, 10, 10, 10, 10, 10,  # 00-06: asleep
    6,  # 06: before breakfast
    3,  # 07: early, possible
    1,  # 08: start of the day
    0, 0, 0, 0, 0, 0, 0, 0,  # 09-17: working hours
    1,  # 17: end of the day
    3,  # 18: family time begins
    5,  # 19: evening
    6,  # 20: evening
    7,  # 21: late
    9,  # 22: very late
    10,  # 23: asleep
)  # fmt: skip
WEEKEND_EXTRA = 4  # a working hour on a Saturday or Sunday still costs a free day
MAX_PAIN = 10
STEP = timedelta(minutes=15)  # a meeting's pain is the mean over its quarter-hours

# The score weighs the group's mean pain and the worst person's pain equally.
MEAN_WEIGHT = 0.5
WORST_WEIGHT = 0.5


@dataclass(frozen=True, slots=True)
class Attendee:
    """A person invited to the community's meetings (conveners, core team and members; not readers)."""

    email: str
    name: str
    time_zone: str

    @property
    def region(self) -> str:
        """The first part of the IANA name (``Europe``, ``America``…), the grain the report uses."""
        return region_of(self.time_zone)


@dataclass(frozen=True, slots=True)
class AttendeeTime:
    attendee: Attendee
    local_start: datetime
    pain: float


@dataclass(frozen=True, slots=True)
class SlotScore:
    """One candidate start time: every attendee's local time and pain, and the slot's fairness score."""

    start: datetime  # UTC
    duration: timedelta
    attendees: tuple[AttendeeTime, ...]
    mean_pain: float
    worst_pain: float
    score: float  # 0..100, higher is fairer: 100 means everyone is in working hours

    @property
    def burden(self) -> float:
        return MEAN_WEIGHT * self.mean_pain + WORST_WEIGHT * self.worst_pain


@dataclass(frozen=True, slots=True)
class Rotation:
    """Two or three slots taken in turn; each person's pain is their average over the turns."""

    slots: tuple[SlotScore, ...]
    mean_pain: float
    worst_pain: float
    score: float
    worst_off: tuple[str, ...]  # emails of the people who pay the most over the rotation


def region_of(time_zone: str) -> str:
    """``America/Sao_Paulo`` → ``America``; ``UTC`` and ``Etc/…`` → ``UTC``."""
    head = time_zone.split("/", 1)[0]
    return "UTC" if head in ("UTC", "Etc", "GMT", "Universal", "Zulu") else head


def pain_at(local: datetime) -> int:
    """The pain of one local moment: the hour's workday pain, more at the weekend, at most MAX_PAIN."""
    pain = WORKDAY_PAIN[local.hour]
    if local.weekday() >= 5:
        pain = min(MAX_PAIN, pain + WEEKEND_EXTRA)
    return pain


def attendee_pain(attendee: Attendee, start: datetime, duration: timedelta) -> float:
    """Mean pain over the meeting's quarter-hours, each read in the attendee's zone on that very date."""
    zone = ZoneInfo(attendee.time_zone)
    steps = max(1, int(duration / STEP))
    total = sum(pain_at((start + i * STEP).astimezone(zone)) for i in range(steps))
    return total / steps


def score_slot(start: datetime, duration: timedelta, attendees: Sequence[Attendee]) -> SlotScore:
    """The fairness of starting at ``start`` (an aware datetime) for ``attendees``."""
    if start.tzinfo is None:
        raise ValueError("a slot's start must carry its time zone")
    start = start.astimezone(UTC)
    times = tuple(
        AttendeeTime(a, start.astimezone(ZoneInfo(a.time_zone)), attendee_pain(a, start, duration))
        for a in attendees
    )
    pains = [t.pain for t in times] or [0.0]
    mean, worst = sum(pains) / len(pains), max(pains)
    return SlotScore(start, duration, times, round(mean, 3), round(worst, 3), _score(mean, worst))


def _score(mean: float, worst: float) -> float:
    return round(100 * (1 - (MEAN_WEIGHT * mean + WORST_WEIGHT * worst) / MAX_PAIN), 1)


def candidate_starts(
    first_day: datetime, *, days: int = 7, step: timedelta = timedelta(minutes=30)
) -> list[datetime]:
    """Every ``step`` over ``days`` days from ``first_day``'s UTC midnight: real dates, so DST holds."""
    midnight = first_day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    count = int(timedelta(days=days) / step)
    return [midnight + i * step for i in range(count)]


def _rank_key(slot: SlotScore) -> tuple[float, float, float, datetime]:
    return (-slot.score, slot.worst_pain, slot.mean_pain, slot.start)


def suggest(
    attendees: Sequence[Attendee],
    first_day: datetime,
    *,
    duration: timedelta = timedelta(hours=1),
    days: int = 7,
    limit: int = 10,
) -> list[SlotScore]:
    """The fairest start times over ``days`` days, best first, one per UTC time of day.

    The same UTC time on five weekdays scores the same for everyone unless a DST change falls between
    them; listing it five times would hide the alternatives, so each time of day appears once, on its
    best date (the earliest among equals).
    """
    if not attendees:
        return []
    scored = sorted(
        (score_slot(s, duration, attendees) for s in candidate_starts(first_day, days=days)), key=_rank_key
    )
    seen: set[tuple[int, int]] = set()
    best: list[SlotScore] = []
    for slot in scored:
        time_of_day = (slot.start.hour, slot.start.minute)
        if time_of_day in seen:
            continue
        seen.add(time_of_day)
        best.append(slot)
        if len(best) == limit:
            break
    return best


def rotations(slots: Iterable[SlotScore], *, size: int, limit: int = 3) -> list[Rotation]:
    """The fairest sets of ``size`` slots taken in turn, best first.

    Each person's pain is their mean over the set's slots; the set is scored like a slot from those
    means. Only sets whose slots differ in time of day are considered, since a rotation of one hour on two
    days spreads nothing.
    """
    if size < 2:
        raise ValueError("a rotation takes turns between at least two slots")
    pool = list(slots)
    found: list[Rotation] = []
    for combo in itertools.combinations(pool, size):
        if len({(s.start.hour, s.start.minute) for s in combo}) < size:
            continue
        per_person: dict[str, float] = {}
        for slot in combo:
            for t in slot.attendees:
                per_person[t.attendee.email] = per_person.get(t.attendee.email, 0.0) + t.pain / size
        if not per_person:
            continue
        mean = sum(per_person.values()) / len(per_person)
        worst = max(per_person.values())
        worst_off = tuple(sorted(e for e, p in per_person.items() if p == worst))
        found.append(
            Rotation(
                tuple(sorted(combo, key=lambda s: s.start)),
                round(mean, 3),
                round(worst, 3),
                _score(mean, worst),
                worst_off,
            )
        )
    found.sort(key=lambda r: (-r.score, r.worst_pain, r.mean_pain, [s.start for s in r.slots]))
    return found[:limit]
