"""Where the digest's "upcoming meetings" come from.

Meetings belong to the convener's tools, which are not built yet: ``NoMeetings`` answers every question
with nothing, so the section stays out of every digest until a real source is given to the digest
service. A source returns the community's meetings starting in ``[after, until)``; the digest shows
them in each reader's own time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bridge.core.digest.facts import MeetingFact


class MeetingSource(Protocol):
    async def upcoming(self, community_id: int, after: datetime, until: datetime) -> list[MeetingFact]: ...


class NoMeetings:
    """No meetings exist yet."""

    async def upcoming(self, community_id: int, after: datetime, until: datetime) -> list[MeetingFact]:
        return []
