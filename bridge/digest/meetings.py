"""Where the digest's "upcoming meetings" come from: the meeting series the convener configured.

A source returns the community's meetings starting in ``[after, until)``; the digest shows them in each
reader's own time zone. ``ConfiguredMeetings`` reads ``[[community.meeting]]`` through the same
occurrence rules as the reminders (``bridge.core.meeting_series``), so the digest, the reminders and the
invitations always name the same dates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Protocol

from bridge.core.digest.facts import MeetingFact
from bridge.core.meeting_series import MeetingSeries, meetings_between


class MeetingSource(Protocol):
    async def upcoming(self, community_id: int, after: datetime, until: datetime) -> list[MeetingFact]: ...


class NoMeetings:
    """A community without meetings (and tests that want none)."""

    async def upcoming(self, community_id: int, after: datetime, until: datetime) -> list[MeetingFact]:
        return []


class ConfiguredMeetings:
    """The configured series of each community, soonest first; ``series`` by slug, ``slugs`` the store's
    community ids to slugs (read when first needed: the relay stores the communities at start)."""

    def __init__(
        self,
        series: Mapping[str, tuple[MeetingSeries, ...]],
        slugs: Callable[[], Awaitable[Mapping[int, str]]],
    ) -> None:
        self.series = series
        self.slugs = slugs
        self._known: Mapping[int, str] = {}

    async def upcoming(self, community_id: int, after: datetime, until: datetime) -> list[MeetingFact]:
        if community_id not in self._known:
            self._known = await self.slugs()
        series = self.series.get(self._known.get(community_id, ""), ())
        found = [m for s in series for m in meetings_between(s, after, until)]
        found.sort(key=lambda m: (m.start, m.series.key))
        return [MeetingFact(m.series.title, m.start, m.series.call_url) for m in found]
