"""The digest schedule: the local hour in each reader's zone, across DST changes, exactly once per slot."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridge.core.digest.schedule import (
    DigestSchedule,
    Frequency,
    Period,
    due_period,
    latest_slot,
    local_instant,
    next_slot,
    weekday_number,
)

NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SUNDAY = weekday_number("sunday")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def run_scheduler(
    schedule: DigestSchedule, zone: ZoneInfo, start: datetime, end: datetime, tick: timedelta
) -> list[Period]:
    """What a scheduler waking every ``tick`` sends to one reader between ``start`` and ``end``."""
    sent: list[Period] = []
    now = start
    previous: datetime | None = None
    while now < end:
        period = due_period(schedule, zone, now, previous_end=previous, subscribed_at=start)
        if period is not None:
            sent.append(period)
            previous = period.end
        now += tick
    return sent


def test_an_hour_skipped_by_the_clocks_moves_to_the_next_valid_time() -> None:
    """New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT, so 2 o'clock that day is 03:00 EDT."""
    assert local_instant(date(2026, 3, 1), 2, NEW_YORK) == utc(2026, 3, 1, 7)  # 02:00 EST
    assert local_instant(date(2026, 3, 8), 2, NEW_YORK) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert local_instant(date(2026, 3, 8), 2, NEW_YORK).astimezone(NEW_YORK).hour == 3
    assert local_instant(date(2026, 3, 15), 2, NEW_YORK) == utc(2026, 3, 15, 6)  # 02:00 EDT
    # Lord Howe jumps by half an hour (02:00 → 02:30): the next valid time is 02:30, not 03:00.
    moved = local_instant(date(2026, 10, 4), 2, LORD_HOWE)
    assert moved == utc(2026, 10, 3, 15, 30)
    assert moved.astimezone(LORD_HOWE).strftime("%H:%M") == "02:30"


def test_an_hour_that_happens_twice_is_its_first_occurrence() -> None:
    """New York, 1 November 2026: 01:00–02:00 happens twice (EDT, then EST); the slot is the EDT one."""
    assert local_instant(date(2026, 11, 1), 1, NEW_YORK) == utc(2026, 11, 1, 5)
    schedule = DigestSchedule(Frequency.WEEKLY, hour=1, weekday=SUNDAY)
    # At 01:30 EST (the second time the clocks show 01:30) the slot is still the first 01:00.
    assert latest_slot(schedule, NEW_YORK, utc(2026, 11, 1, 6, 30)) == utc(2026, 11, 1, 5)
    assert due_period(schedule, NEW_YORK, utc(2026, 11, 1, 6, 30), previous_end=utc(2026, 11, 1, 5)) is None


@pytest.mark.parametrize(
    ("zone", "hour", "start", "end", "expected_local"),
    [
        # New York: spring forward 8 March, fall back 1 November 2026, Sunday 02:00 and 01:00.
        (
            NEW_YORK,
            2,
            utc(2026, 2, 25),
            utc(2026, 3, 25),
            ["03-01 02:00", "03-08 03:00", "03-15 02:00", "03-22 02:00"],
        ),
        (NEW_YORK, 1, utc(2026, 10, 20), utc(2026, 11, 12), ["10-25 01:00", "11-01 01:00", "11-08 01:00"]),
        # Sydney: falls back 5 April (02:00–03:00 twice), springs forward 4 October 2026 (02:00 skipped).
        (SYDNEY, 2, utc(2026, 3, 24), utc(2026, 4, 16), ["03-29 02:00", "04-05 02:00", "04-12 02:00"]),
        (SYDNEY, 2, utc(2026, 9, 22), utc(2026, 10, 15), ["09-27 02:00", "10-04 03:00", "10-11 02:00"]),
    ],
)
def test_weekly_digests_across_dst_changes_go_out_once_a_week(
    zone: ZoneInfo, hour: int, start: datetime, end: datetime, expected_local: list[str]
) -> None:
    schedule = DigestSchedule(Frequency.WEEKLY, hour=hour, weekday=SUNDAY)
    sent = run_scheduler(schedule, zone, start, end, timedelta(minutes=10))
    assert [p.end.astimezone(zone).strftime("%m-%d %H:%M") for p in sent] == expected_local
    # Each covers exactly from the previous slot: nothing falls between two digests, nothing twice.
    assert all(later.start == earlier.end for earlier, later in itertools.pairwise(sent))
    gaps = {later.end - earlier.end for earlier, later in itertools.pairwise(sent)}
    assert gaps <= {timedelta(days=7), timedelta(days=7, hours=1), timedelta(days=7, hours=-1)}


def test_a_daily_digest_in_kolkata_goes_out_at_0800_ist_every_day() -> None:
    schedule = DigestSchedule(Frequency.DAILY, hour=8)
    sent = run_scheduler(schedule, KOLKATA, utc(2026, 3, 1), utc(2026, 3, 6), timedelta(minutes=7))
    assert [p.end for p in sent] == [utc(2026, 3, d, 2, 30) for d in range(1, 6)]
    assert [p.end.astimezone(KOLKATA).strftime("%H:%M") for p in sent] == ["08:00"] * 5
    assert all(p.end - p.start == timedelta(days=1) for p in sent)


def test_after_a_downtime_the_missed_digest_goes_out_once_covering_at_most_one_period() -> None:
    schedule = DigestSchedule(Frequency.DAILY, hour=8)
    previous = utc(2026, 3, 1, 2, 30)  # the last digest went out on 1 March; the daemon was down since
    now = utc(2026, 3, 6, 11)
    period = due_period(schedule, KOLKATA, now, previous_end=previous)
    assert period == Period(start=utc(2026, 3, 5, 2, 30), end=utc(2026, 3, 6, 2, 30))
    assert due_period(schedule, KOLKATA, now, previous_end=period.end) is None
    # Back after a shorter gap, the digest covers everything since the previous one.
    weekly = DigestSchedule(Frequency.WEEKLY, hour=8, weekday=0)
    caught_up = due_period(weekly, KOLKATA, utc(2026, 3, 9, 10), previous_end=utc(2026, 3, 4))
    assert caught_up == Period(start=utc(2026, 3, 4), end=utc(2026, 3, 9, 2, 30))


def test_a_new_reader_waits_for_the_first_slot_after_subscribing() -> None:
    schedule = DigestSchedule(Frequency.WEEKLY, hour=8, weekday=0)  # Monday 08:00 Kolkata
    monday_slot = utc(2026, 3, 2, 2, 30)
    joined = monday_slot + timedelta(hours=3)
    assert (
        due_period(schedule, KOLKATA, joined + timedelta(hours=1), previous_end=None, subscribed_at=joined)
        is None
    )
    first = due_period(schedule, KOLKATA, utc(2026, 3, 9, 3), previous_end=None, subscribed_at=joined)
    assert first == Period(start=monday_slot, end=utc(2026, 3, 9, 2, 30))


def test_monthly_digests_go_out_on_the_first_weekday_of_the_month() -> None:
    schedule = DigestSchedule(Frequency.MONTHLY, hour=9, weekday=0)  # first Monday, 09:00 UTC
    sent = run_scheduler(schedule, ZoneInfo("UTC"), utc(2026, 5, 20), utc(2026, 9, 1), timedelta(hours=1))
    assert [p.end.date() for p in sent] == [date(2026, 6, 1), date(2026, 7, 6), date(2026, 8, 3)]
    assert sent[1].start == utc(2026, 6, 1, 9)
    assert next_slot(schedule, ZoneInfo("UTC"), utc(2026, 8, 3, 9)) == utc(2026, 9, 7, 9)


def test_schedules_refuse_impossible_values() -> None:
    with pytest.raises(ValueError, match="hour 24"):
        DigestSchedule(Frequency.DAILY, hour=24)
    with pytest.raises(ValueError, match="weekday 7"):
        DigestSchedule(Frequency.WEEKLY, weekday=7)
