"""A meeting's time as each reader needs to see it: in UTC, in their own zone, in the community's main zones.

A Matrix room has no per-reader time zone, so a reminder in the room shows the time in UTC and in the
zones most of the invited members live in; a mail goes to one person and states the time in theirs.
The digest lists the coming meetings in each reader's zone through ``upcoming_for_reader``. Times are
read on the meeting's own date (``zoneinfo``), so a reader in a zone that changes its clocks between
two meetings sees each at its right local time.

Pure: aware UTC times and IANA zone names in, text and aware local times out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.core.meeting_series import Meeting, MeetingSeries, meetings_between
from bridge.core.zones import zone

MAIN_ZONES = 6
"""Zones shown beside UTC in the room: the series' own, then where most invited members live."""
DIGEST_HORIZON = timedelta(days=14)


def zone_label(name: str) -> str:
    """What people call a zone: ``America/Argentina/Buenos_Aires`` → ``Buenos Aires``; ``UTC`` stays."""
    return name.rsplit("/", 1)[-1].replace("_", " ")


def offset_label(moment: datetime) -> str:
    """``UTC+05:30``, ``UTC−03:00``, ``UTC+00:00`` for a local time."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "+" if offset >= timedelta(0) else "−"
    minutes = abs(int(offset / timedelta(minutes=1)))
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _span(start: datetime, end: datetime) -> str:
    tail = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%H:%M} ({end:%a} {end.day} {end:%b})"
    return f"{start:%H:%M}–{tail}"


def utc_when(meeting: Meeting) -> str:
    """``Tuesday 12 January 2027, 15:00–16:00 UTC``."""
    start, end = meeting.start.astimezone(UTC), meeting.end.astimezone(UTC)
    return f"{_day(start)}, {_span(start, end)} UTC"


def local_when(meeting: Meeting, zone_name: str | None) -> str:
    """``Tuesday 12 January 2027, 16:00–17:00 (Europe/Berlin, UTC+01:00)`` in one reader's zone."""
    local = zone(zone_name)
    start, end = meeting.start.astimezone(local), meeting.end.astimezone(local)
    if not isinstance(local, ZoneInfo) or zone_name == "UTC":
        return f"{_day(start)}, {_span(start, end)} UTC"
    return f"{_day(start)}, {_span(start, end)} ({zone_name}, {offset_label(start)})"


def main_zones(series_zone: str, member_zones: Iterable[str | None], *, limit: int = MAIN_ZONES) -> list[str]:
    """The series' zone, then the zones most invited members live in, each once, ``limit`` in all."""
    counts = Counter(z for z in member_zones if z and isinstance(zone(z), ZoneInfo) and z != "UTC")
    ranked = [z for z, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    chosen = list(dict.fromkeys([series_zone, *ranked]))
    return [z for z in chosen if z != "UTC"][:limit]


def zone_times(meeting: Meeting, zones: Sequence[str]) -> str:
    """``12:00 Sao Paulo · 15:00 Dublin · 00:00 (Wed 13 Jan) Tokyo``: east-most last; a local date other
    than the UTC date is named."""
    utc_date = meeting.start.astimezone(UTC).date()
    shown = []
    for name in zones:
        local = meeting.start.astimezone(zone(name))
        day = "" if local.date() == utc_date else f" ({local:%a} {local.day} {local:%b})"
        shown.append((local.utcoffset() or timedelta(0), f"{local:%H:%M}{day} {zone_label(name)}"))
    return " · ".join(text for _, text in sorted(shown, key=lambda item: item[0]))


@dataclass(frozen=True, slots=True)
class UpcomingMeeting:
    """One coming meeting as a reader sees it (the digest's "upcoming meetings")."""

    key: str  # the series' id
    uid: str  # the meeting's stable id in the community (its calendar invitation's UID builds on it)
    title: str
    start: datetime  # UTC
    end: datetime  # UTC
    local_start: datetime  # in the reader's zone
    local_end: datetime
    time_zone: str
    when: str  # the whole local time in words, with the zone
    call_url: str | None
    description: str


def upcoming_for_reader(
    all_series: Sequence[MeetingSeries],
    now: datetime,
    reader_zone: str | None,
    *,
    horizon: timedelta = DIGEST_HORIZON,
) -> list[UpcomingMeeting]:
    """The community's meetings starting within ``horizon`` of ``now``, soonest first, in the reader's
    zone (the community's when the reader gave none: pass it as ``reader_zone``)."""
    local = zone(reader_zone)
    name = reader_zone if reader_zone and isinstance(local, ZoneInfo) else "UTC"
    found = sorted(
        (m for s in all_series for m in meetings_between(s, now, now + horizon)),
        key=lambda m: (m.start, m.series.key),
    )
    return [
        UpcomingMeeting(
            key=m.series.key,
            uid=m.uid,
            title=m.series.title,
            start=m.start,
            end=m.end,
            local_start=m.start.astimezone(local),
            local_end=m.end.astimezone(local),
            time_zone=name,
            when=local_when(m, name),
            call_url=m.series.call_url,
            description=m.series.description,
        )
        for m in found
    ]
