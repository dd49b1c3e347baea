"""Recurring meetings: dates by cadence, rotating start times, and local times that hold across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bridge.core.meeting_series import Cadence, MeetingSeries, meeting, meetings_between, upcoming

HOUR = timedelta(hours=1)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def series(**changes: object) -> MeetingSeries:
    fields: dict[str, object] = {
        "key": "practice-call",
        "title": "Practice call",
        "cadence": Cadence.WEEKLY,
        "first": date(2026, 3, 3),  # a Tuesday
        "slots": (time(15, 0),),
        "time_zone": "Europe/Dublin",
        "duration": HOUR,
    }
    fields.update(changes)
    return MeetingSeries(**fields)  # type: ignore[arg-type]


def dates_of(meetings: MeetingSeries, since: datetime, until: datetime) -> list[date]:
    return [m.start.date() for m in meetings_between(meetings, since, until)]


def test_a_weekly_meeting_keeps_its_local_hour_across_the_change_to_summer_time() -> None:
    weekly = series()
    before, after = meeting(weekly, 3), meeting(weekly, 4)  # 24 and 31 March; Dublin moves on the 29th
    assert before is not None
    assert after is not None
    assert before.start == datetime(2026, 3, 24, 15, tzinfo=UTC)
    assert after.start == datetime(2026, 3, 31, 14, tzinfo=UTC)  # still 15:00 in Dublin
    assert after.end - after.start == HOUR
    assert after.uid == "practice-call-4"


def test_rotating_start_times_take_turns() -> None:
    rotating = series(slots=(time(8, 0), time(16, 0), time(23, 0)), time_zone="UTC")
    starts = [m.start.hour for m in meetings_between(rotating, MARCH, APRIL)]
    assert starts == [8, 16, 23, 8, 16]


def test_fortnightly_and_monthly_cadences() -> None:
    fortnightly = series(cadence=Cadence.FORTNIGHTLY)
    assert dates_of(fortnightly, MARCH, datetime(2026, 4, 15, tzinfo=UTC)) == [
        date(2026, 3, 3),
        date(2026, 3, 17),
        date(2026, 3, 31),
        date(2026, 4, 14),
    ]
    # The second Tuesday of each month; a series on a fifth Tuesday skips months without one.
    monthly = series(cadence=Cadence.MONTHLY, first=date(2026, 1, 13))
    assert dates_of(monthly, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)) == [
        date(2026, 1, 13),
        date(2026, 2, 10),
        date(2026, 3, 10),
        date(2026, 4, 14),
    ]
    fifth = series(cadence=Cadence.MONTHLY, first=date(2026, 3, 31))
    assert meeting(fifth, 1) is None  # April 2026 has four Tuesdays
    assert dates_of(fifth, MARCH, datetime(2026, 7, 1, tzinfo=UTC)) == [date(2026, 3, 31), date(2026, 6, 30)]


def test_a_start_inside_the_spring_gap_moves_forward_and_a_repeated_hour_happens_once() -> None:
    # New York skips 02:00-03:00 on 8 March 2026 and repeats 01:00-02:00 on 1 November 2026.
    gap = meeting(series(first=date(2026, 3, 8), slots=(time(2, 30),), time_zone="America/New_York"), 0)
    assert gap is not None
    assert gap.start == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT, the next valid time
    twice = meeting(series(first=date(2026, 11, 1), slots=(time(1, 30),), time_zone="America/New_York"), 0)
    assert twice is not None
    assert twice.start == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the first 01:30 (EDT)


def test_upcoming_meetings_of_several_series_soonest_first() -> None:
    a = series(key="a", first=date(2026, 3, 3))
    b = series(key="b", first=date(2026, 3, 2), time_zone="Asia/Tokyo")
    found = upcoming([a, b], MARCH, timedelta(days=9))
    assert [(m.series.key, m.start.date()) for m in found] == [
        ("b", date(2026, 3, 2)), ("a", date(2026, 3, 3)), ("b", date(2026, 3, 9))
    ]  # fmt: skip


def test_a_series_needs_a_start_time() -> None:
    with pytest.raises(ValueError, match="start time"):
        series(slots=())
