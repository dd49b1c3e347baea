"""When reminders fall, which is due after an absence, how a meeting's time reads in the room, in one
reader's zone and in the digest, and the invitation parsed back by ``icalendar`` across a DST change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

from bridge.core.meeting_series import Cadence, MeetingSeries, meeting
from bridge.core.meeting_times import local_when, main_zones, upcoming_for_reader, utc_when, zone_times
from bridge.core.reminders import due, lead_time, next_due_at
from bridge.email.calendar import meeting_invitation, meeting_uid

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def series(**changes: object) -> MeetingSeries:
    fields: dict[str, object] = {
        "key": "practice-call",
        "title": "Practice call",
        "cadence": Cadence.WEEKLY,
        "first": date(2026, 3, 17),  # a Tuesday; Dublin moves to summer time on 29 March
        "slots": (time(15, 0),),
        "time_zone": "Europe/Dublin",
        "duration": HOUR,
        "call_url": "https://meet.example.org/pm",
        "reminders": (DAY, HOUR),
    }
    fields.update(changes)
    return MeetingSeries(**fields)  # type: ignore[arg-type]


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_the_next_reminder_is_the_next_due_time_of_any_series() -> None:
    weekly = series()
    assert next_due_at([weekly], at(10, 0)) == at(16, 15)  # a day before 17 March 15:00 (UTC = Dublin)
    assert next_due_at([weekly], at(16, 15)) == at(17, 14)  # then an hour before
    assert next_due_at([weekly], at(17, 14)) == at(23, 15)  # then the next week's
    # After the change to summer time 15:00 in Dublin is 14:00 UTC: reminders move with it.
    assert next_due_at([weekly], at(29, 12)) == at(30, 14)
    tokyo = series(key="asia", time_zone="Asia/Tokyo", slots=(time(9, 0),), reminders=(2 * HOUR,))
    assert next_due_at([weekly, tokyo], at(16, 15)) == at(16, 22)  # 17 March 09:00 JST is 00:00 UTC
    assert next_due_at([series(reminders=())], at(10, 0)) is None


def test_due_reminders_one_per_meeting_the_latest_after_an_absence() -> None:
    weekly = series()
    assert due([weekly], at(16, 14, 59)) == []
    [first] = due([weekly], at(16, 15))
    assert (first.meeting.number, first.before, first.due_at, first.opens_notes) == (0, DAY, at(16, 15), True)
    [late] = due([weekly], at(17, 14, 30))  # away through both: the hour-before one only
    assert (late.before, late.minutes_before, late.opens_notes) == (HOUR, 60, False)
    assert due([weekly], at(17, 15)) == []  # the meeting has started: no reminder any more
    # A series added a day before its first meeting: its day-before reminder is due at once.
    [fresh] = due([series(first=date(2026, 3, 18))], at(17, 20))
    assert (fresh.meeting.start, fresh.before) == (at(18, 15), DAY)


def test_lead_times_read_as_people_say_them() -> None:
    assert [lead_time(d) for d in (HOUR, DAY, 2 * DAY, 36 * HOUR, timedelta(minutes=30))] == [
        "1 hour",
        "24 hours",
        "2 days",
        "36 hours",
        "30 minutes",
    ]


def test_the_room_shows_utc_and_the_main_zones_each_reader_their_own() -> None:
    held = meeting(series(), 0)
    assert held is not None
    assert utc_when(held) == "Tuesday 17 March 2026, 15:00–16:00 UTC"
    zones = main_zones(
        "Europe/Dublin",
        ["Asia/Tokyo", "America/Sao_Paulo", "Asia/Tokyo", None, "UTC", "Not/AZone", "Asia/Kolkata"],
        limit=4,
    )
    assert zones == ["Europe/Dublin", "Asia/Tokyo", "America/Sao_Paulo", "Asia/Kolkata"]
    assert zone_times(held, zones) == (
        "12:00 Sao Paulo · 15:00 Dublin · 20:30 Kolkata · 00:00 (Wed 18 Mar) Tokyo"
    )
    assert local_when(held, "America/Los_Angeles") == (
        "Tuesday 17 March 2026, 08:00–09:00 (America/Los_Angeles, UTC−07:00)"
    )
    assert local_when(held, "Asia/Tokyo") == "Wednesday 18 March 2026, 00:00–01:00 (Asia/Tokyo, UTC+09:00)"
    assert local_when(held, None) == local_when(held, "UTC") == utc_when(held)


def test_the_digest_lists_coming_meetings_in_the_readers_zone_across_a_dst_change() -> None:
    """Berlin moves on 29 March, Dublin too, New York two weeks before: each meeting is read on its date."""
    coming = upcoming_for_reader([series()], at(20, 0), "America/New_York", horizon=14 * DAY)
    assert [(m.uid, m.start, m.local_start.hour) for m in coming] == [
        ("practice-call-1", at(24, 15), 11),  # 15:00 GMT = 11:00 EDT
        ("practice-call-2", at(31, 14), 10),  # 15:00 IST (summer) = 10:00 EDT
    ]
    assert coming[1].when == "Tuesday 31 March 2026, 10:00–11:00 (America/New_York, UTC−04:00)"
    assert coming[1].call_url == "https://meet.example.org/pm"
    assert upcoming_for_reader([series()], at(20, 0), None)[0].time_zone == "UTC"


def test_the_invitation_parses_back_with_its_utc_start_across_the_change_to_summer_time() -> None:
    weekly = series(description="Bring one practice; we pick two.")
    before, after = meeting(weekly, 1), meeting(weekly, 2)  # 24 and 31 March, either side of the change
    assert before is not None
    assert after is not None
    for held, start, sequence in ((before, at(24, 15), 0), (after, at(31, 14), 1)):
        ics = meeting_invitation(
            held,
            community_slug="pm-practice",
            community_name="Project Management Practice",
            list_address="pm@lists.example.com",
            sequence=sequence,
            stamp=at(20, 9),
            description=held.series.description,
        )
        calendar = icalendar.Calendar.from_ical(ics)
        assert str(calendar["method"]) == "PUBLISH"
        [event] = calendar.walk("VEVENT")
        assert event.decoded("dtstart") == start
        assert event.decoded("dtstart").utcoffset() == timedelta(0)
        assert event.decoded("dtend") - event.decoded("dtstart") == HOUR
        assert str(event["uid"]) == f"pm-practice.practice-call-{held.number}@lists.example.com"
        assert str(event["uid"]) == meeting_uid(held, "pm-practice", "lists.example.com")
        assert int(event["sequence"]) == sequence
        assert str(event["location"]) == "https://meet.example.org/pm"
        assert str(event["url"]) == "https://meet.example.org/pm"
        assert str(event["description"]) == "Bring one practice; we pick two."
        assert str(event["organizer"]) == "mailto:pm@lists.example.com"
        assert b"DTSTART:2026" in ics  # UTC form, no TZID to resolve
        # Opened in Dublin, it is 15:00 local both weeks.
        assert event.decoded("dtstart").astimezone(ZoneInfo("Europe/Dublin")).hour == 15
