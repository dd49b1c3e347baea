"""Meeting series in config: parsed into dates and times, wrong values named by file, line and field."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from bridge.config import load_config
from tests.unit.config.test_load import ENV, VALID, issues_of, line_number, write

MEETING = """\
[[community.meeting]]
id = "practice-call"
title = "Practice call"
cadence = "fortnightly"
first = 2027-01-12
slots = ["15:00", "07:30"]
call_url = "https://meet.example.com/pm"
"""


def with_meetings(*tables: str) -> str:
    # Meetings of the first community: inserted before the second [[community]] table.
    head, tail = VALID.split('[[community]]\nslug = "data-quality"')
    return head + "".join(tables) + '[[community]]\nslug = "data-quality"' + tail


def test_a_meeting_series_loads_with_its_defaults(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, with_meetings(MEETING)), ENV)
    [meeting] = loaded.config.community[0].meeting
    assert (meeting.first, meeting.slots) == (date(2027, 1, 12), [time(15, 0), time(7, 30)])
    assert (meeting.cadence, meeting.duration_minutes, meeting.time_zone) == ("fortnightly", 60, None)
    assert meeting.reminder_hours == [24.0]


def test_a_bad_start_time_is_named_at_its_line(tmp_path: Path) -> None:
    text = with_meetings(MEETING.replace('"07:30"', '"25:00"'))
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(f"{line_number(text, '25:00')}: community[0].meeting[0].slots[1]: ")
    assert "hour value is outside expected range" in issue


def test_a_duplicate_meeting_id_is_named_at_its_line(tmp_path: Path) -> None:
    text = with_meetings(MEETING, MEETING)
    issues = issues_of(tmp_path, text)
    second_id = line_number(text, 'id = "practice-call"', 2)
    assert any(
        i.startswith(f"{second_id}: community[0].meeting[1].id: duplicate meeting id") for i in issues
    ), issues
