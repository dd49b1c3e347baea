"""A community's about page, ``/c/SLUG/about``: what it is for and how to take part.

What a newcomer needs on one page, as a list manager's info page gives it (Mailman's listinfo, a
Discourse category's "about" topic): the mission (the community's ``description``), who convenes it
and who is on its core team, how to take part by mail (the list address, replies) or in chat (the
room), its main tags and latest practices, how to get digests (the subscription page, the mail and
room commands), and the coming meetings of its configured series. It answers exactly as the other
archive pages do (``archive = members | public``). A meeting's call link is shown to signed-in
members only: a public page would hand it to anyone who passes by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bridge.config.schema import CommunityConfig, build_meeting_series
from bridge.core import links
from bridge.core.meeting_series import Meeting, upcoming
from bridge.core.model import PracticeState, Role
from bridge.digest.compose import request_address
from bridge.web.pages import ArchivePages, reader_zone
from bridge.web.views import LocalTime, local_time

MAIN_TAGS = 8
LATEST_PRACTICES = 5
MEETINGS_AHEAD = timedelta(days=62)
LISTED_MEETINGS = 4
ROLE_NAMES = {Role.CONVENER: "Convener", Role.CORE: "Core team"}


@dataclass(frozen=True, slots=True)
class MeetingView:
    title: str
    start: LocalTime
    end: str  # HH:MM in the same zone (with the day when it ends on another)
    description: str
    call_url: str | None


def meeting_view(meeting: Meeting, where: tzinfo, *, with_call: bool) -> MeetingView:
    start, end = meeting.start.astimezone(where), meeting.end.astimezone(where)
    end_text = f"{end:%H:%M}" if end.date() == start.date() else local_time(meeting.end, where).text
    series = meeting.series
    return MeetingView(
        series.title,
        local_time(meeting.start, where),
        end_text,
        series.description,
        series.call_url if with_call else None,
    )


def room_link(room: str) -> str:
    """A link that opens the room in any Matrix client (matrix.to), for an alias or a room id."""
    return f"https://matrix.to/#/{quote(room, safe='')}"


class AboutPage:
    def __init__(
        self,
        pages: ArchivePages,
        configs: Callable[[], Mapping[str, CommunityConfig]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pages = pages
        self.configs = configs
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/c/{slug}/about", self.about)]

    async def about(self, request: web.Request) -> web.StreamResponse:
        found = await self.pages.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        config = self.configs()[site.slug]
        store, base = self.pages.store, self.pages.base_url
        overview = await store.overviews.of(site.record.id)
        tags = [t for t in await store.archive.tags(site.record.id) if t.threads][:MAIN_TAGS]
        practices = [
            p for p in await store.archive.practices(site.record.id) if p.state is PracticeState.CONFIRMED
        ]
        shown = reader_zone(site, reader)
        member = reader is not None and reader.member_of(site.record.id)
        meetings = upcoming(build_meeting_series(config), self.clock(), MEETINGS_AHEAD)[:LISTED_MEETINGS]
        context: dict[str, Any] = {
            **self.pages.context(site, reader),
            "description": config.description,
            "team": [(ROLE_NAMES[m.role], m.name) for m in overview.team],
            "members": overview.members,
            "readers": overview.readers,
            "list_address": config.list_address,
            "request_address": request_address(config.list_address),
            "subscribe_address": request_address(config.list_address, "subscribe"),
            "room": config.room,
            "room_url": room_link(config.room),
            "subscribe_url": links.subscribe_url(base, site.slug),
            "digest_frequency": config.digest.frequency,
            "tags": [(t.label or t.name, links.tag_url(base, site.slug, t.name), t.threads) for t in tags],
            "practices": [
                (p.title, links.thread_url(base, site.slug, p.thread_id))
                for p in practices[:LATEST_PRACTICES]
            ],
            "practice_count": len(practices),
            "meetings": [meeting_view(m, shown.where, with_call=member) for m in meetings],
            "calls_hidden": not member and any(m.series.call_url for m in meetings),
            "zone_note": shown.note,
        }
        return self.pages.page(request, "about", f"About · {site.name}", reader=reader, **context)
