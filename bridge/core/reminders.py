"""When a meeting's reminders go out, decided from the series alone, so a restart changes nothing.

A series names how long before each meeting a reminder goes (``reminder_hours`` in config: 24 and 1,
say). The reminder loop asks two questions of this module: which reminders are due now (to send each
once, the store remembering which went out), and when the next one falls (to sleep until then rather
than poll). A meeting that has started gets no reminder any more. When the daemon was away past several
of a meeting's reminders, only the latest of them is due: members get one reminder late, not three at
once; an earlier one that was missed stays unsent.

Pure: times in, reminders out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.core.meeting_series import Meeting, MeetingSeries, meetings_after


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder of one meeting: ``before`` its start."""

    meeting: Meeting
    before: timedelta

    @property
    def due_at(self) -> datetime:
        return self.meeting.start - self.before

    @property
    def minutes_before(self) -> int:
        """Its name in the store: a whole number of minutes (config gives hours, maybe fractional)."""
        return round(self.before / timedelta(minutes=1))

    @property
    def opens_notes(self) -> bool:
        """The series' earliest reminder, the one that normally opens the meeting's notes thread."""
        return self.before == max(self.meeting.series.reminders)


def _reminders_of(meeting: Meeting) -> list[Reminder]:
    return sorted((Reminder(meeting, b) for b in set(meeting.series.reminders)), key=lambda r: r.due_at)


def _next_meetings(series: MeetingSeries, now: datetime) -> Iterator[Meeting]:
    """Meetings not yet started whose reminders may be due now, and the first whose reminders are all
    still to come (it holds the next one when every reminder of the nearer meetings has passed)."""
    if not series.reminders:
        return
    horizon = now + max(series.reminders)
    for found in meetings_after(series, now):
        yield found
        if found.start > horizon:
            return


def due(all_series: Sequence[MeetingSeries], now: datetime) -> list[Reminder]:
    """For each meeting not yet started, its latest reminder whose time has come; soonest first."""
    found: list[Reminder] = []
    for series in all_series:
        for meeting in _next_meetings(series, now):
            passed = [r for r in _reminders_of(meeting) if r.due_at <= now]
            if passed:
                found.append(passed[-1])
    return sorted(found, key=lambda r: (r.meeting.start, r.meeting.series.key))


def next_due_at(all_series: Sequence[MeetingSeries], now: datetime) -> datetime | None:
    """When the next reminder after ``now`` falls; None when no series has any reminder to come."""
    times = [
        reminder.due_at
        for series in all_series
        for meeting in _next_meetings(series, now)
        for reminder in _reminders_of(meeting)
        if reminder.due_at > now
    ]
    return min(times, default=None)


def lead_time(before: timedelta) -> str:
    """How long before the start, as people say it: "30 minutes", "1 hour", "2 days", "36 hours"."""
    minutes = round(before / timedelta(minutes=1))
    if minutes < 60 or minutes % 60:
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    hours = minutes // 60
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} days"
    return f"{hours} hour{'' if hours == 1 else 's'}"
