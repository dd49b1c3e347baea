"""Meeting fairness on member sets whose fair answer is known, including DST weeks and no perfect slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.core.meetings import (
    MAX_PAIN,
    Attendee,
    attendee_pain,
    pain_at,
    region_of,
    rotations,
    score_slot,
    suggest,
)

HOUR = timedelta(hours=1)
MONDAY = datetime(2026, 1, 12, tzinfo=UTC)  # a week with no DST change anywhere below

LONDON = Attendee("ana@example.org", "Ana", "Europe/London")
DUBLIN = Attendee("brid@example.org", "Bríd", "Europe/Dublin")
NEW_YORK = Attendee("kim@example.org", "Kim", "America/New_York")
LOS_ANGELES = Attendee("lu@example.org", "Lu", "America/Los_Angeles")
BERLIN = Attendee("bo@example.org", "Bo", "Europe/Berlin")
TOKYO = Attendee("kenji@example.org", "Kenji", "Asia/Tokyo")
SYDNEY = Attendee("mia@example.org", "Mia", "Australia/Sydney")


def test_pain_follows_the_local_working_day_and_the_weekend() -> None:
    tuesday = datetime(2026, 1, 13)
    assert pain_at(tuesday.replace(hour=10)) == 0
    assert pain_at(tuesday.replace(hour=8)) == 1
    assert pain_at(tuesday.replace(hour=3)) == MAX_PAIN
    assert pain_at(datetime(2026, 1, 17, 10)) == 4  # a Saturday morning costs a free day
    assert pain_at(datetime(2026, 1, 17, 23)) == MAX_PAIN  # never more than asleep


def test_a_meeting_straddling_the_end_of_the_day_costs_part_of_the_evening() -> None:
    # 16:30-17:30 London: two quarter-hours at 0, two at 1.
    start = datetime(2026, 1, 13, 16, 30, tzinfo=UTC)
    assert attendee_pain(LONDON, start, HOUR) == 0.5


def test_one_time_zone_meets_in_its_working_hours_with_a_perfect_score() -> None:
    best = suggest([LONDON, DUBLIN], MONDAY, limit=3)
    assert [s.score for s in best] == [100.0, 100.0, 100.0]
    for slot in best:
        assert all(9 <= t.local_start.hour <= 16 and t.local_start.weekday() < 5 for t in slot.attendees)


def test_london_and_new_york_meet_in_their_shared_afternoon_morning() -> None:
    best = suggest([LONDON, NEW_YORK], MONDAY, limit=5)
    # New York 09:00-12:00 is London 14:00-17:00: a one-hour meeting may start 14:00-16:00 UTC.
    assert all(s.score == 100.0 for s in best)
    assert {s.start.strftime("%H:%M") for s in best} <= {"14:00", "14:30", "15:00", "15:30", "16:00"}


def test_when_no_slot_suits_everyone_the_rotation_makes_each_region_take_a_turn() -> None:
    people = [LOS_ANGELES, BERLIN, TOKYO]
    single = suggest(people, MONDAY, limit=48)
    assert single[0].score < 100  # someone is always out of hours
    assert single[0].worst_pain > 5
    best = rotations(single[:24], size=3)[0]
    # Every person pays the same over the three turns, far less than the best single slot's worst.
    assert best.worst_pain < single[0].worst_pain / 1.5
    assert set(best.worst_off) == {p.email for p in people}
    losers = {max(s.attendees, key=lambda t: t.pain).attendee.email for s in best.slots}
    assert losers == {p.email for p in people}  # each slot's unluckiest person is someone else


def test_a_slot_is_read_on_its_real_date_across_the_us_change_to_summer_time() -> None:
    # The US moved on 8 March 2026, Europe on 29 March: for three weeks New York is 4 h behind London.
    before = score_slot(datetime(2026, 3, 3, 13, tzinfo=UTC), HOUR, [NEW_YORK, LONDON])
    during = score_slot(datetime(2026, 3, 10, 13, tzinfo=UTC), HOUR, [NEW_YORK, LONDON])
    assert before.attendees[0].local_start.isoformat() == "2026-03-03T08:00:00-05:00"
    assert during.attendees[0].local_start.isoformat() == "2026-03-10T09:00:00-04:00"
    assert before.attendees[0].pain == 1
    assert during.attendees[0].pain == 0
    assert during.score > before.score


def test_a_week_with_a_dst_change_ranks_the_dates_after_it() -> None:
    # Sydney leaves summer time on 5 April 2026 (UTC+11 → UTC+10): 22:00 UTC is 09:00 before, 08:00 after.
    best = suggest([SYDNEY, TOKYO], datetime(2026, 4, 1, tzinfo=UTC), days=7, limit=48)
    at_22 = next(s for s in best if s.start.hour == 22 and s.start.minute == 0)
    sydney = next(t for t in at_22.attendees if t.attendee is SYDNEY)
    assert sydney.local_start.utcoffset() == timedelta(hours=11)  # its best date is before the change


def test_naive_starts_are_refused_and_rotations_need_two_slots() -> None:
    with pytest.raises(ValueError, match="time zone"):
        score_slot(datetime(2026, 1, 13, 10), HOUR, [LONDON])
    with pytest.raises(ValueError, match="two"):
        rotations([], size=1)
    assert suggest([], MONDAY) == []


def test_regions_are_the_first_part_of_the_zone_name() -> None:
    assert region_of("America/Sao_Paulo") == "America"
    assert region_of("UTC") == "UTC"
    assert region_of("Etc/GMT+3") == "UTC"
    assert TOKYO.region == "Asia"
