"""The iCalendar invitation mailed with a meeting reminder (RFC 5545 objects, RFC 6047 iMIP transport).

The list publishes its meetings (``METHOD:PUBLISH``): members are told, nobody is asked to answer, so
no mail client sends RSVP mail back to the list. Each meeting has a ``UID`` that never changes (the
community, the series' id and the meeting's number), so a later reminder, or a reminder after the
convener moved the meeting, updates the event a calendar already holds instead of adding another;
``SEQUENCE`` grows with each reminder of the meeting so the newer one wins. ``DTSTART`` and ``DTEND``
are in UTC: every calendar shows them in its owner's own zone, which is the point. The call link is
both ``LOCATION`` (what calendars show) and ``URL``.

Built with the ``icalendar`` library, which folds lines and escapes text as RFC 5545 requires.
"""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

from bridge.core.meeting_series import Meeting

PRODUCT_ID = "-//icop-bridge//Community meetings//EN"
CONTENT_TYPE = "text/calendar"
METHOD = "PUBLISH"
FILENAME = "invite.ics"


def meeting_uid(meeting: Meeting, community_slug: str, domain: str) -> str:
    """Stable and unique across communities: ``pm-practice.practice-call-4@lists.example.com``."""
    return f"{community_slug}.{meeting.uid}@{domain}"


def meeting_invitation(
    meeting: Meeting,
    *,
    community_slug: str,
    community_name: str,
    list_address: str,
    sequence: int,
    stamp: datetime,
    description: str = "",
    notes_url: str | None = None,
) -> bytes:
    """The ``VCALENDAR`` (one ``VEVENT``) for ``meeting``, as the bytes of an ``.ics`` file."""
    series = meeting.series
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", METHOD)
    event = Event()
    domain = list_address.rpartition("@")[2]
    event.add("uid", meeting_uid(meeting, community_slug, domain))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", meeting.start.astimezone(UTC))
    event.add("dtend", meeting.end.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", f"{series.title} ({community_name})")
    event.add("description", description)
    if series.call_url:
        event.add("location", series.call_url)
        event.add("url", series.call_url)
    elif notes_url:
        event.add("url", notes_url)
    organizer = vCalAddress(f"mailto:{list_address}")
    organizer.params["cn"] = vText(community_name)
    event.add("organizer", organizer)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return bytes(calendar.to_ical())
