"""Meeting reminders: each one posted once, in the room and by mail, at its time, by one supervised loop.

``reminder_hours`` before each meeting of a ``[[community.meeting]]`` series the bridge writes a post
of its own. The first reminder of a meeting opens the meeting's notes thread (tagged ``meeting``): the
room gets it as a thread root showing the time in UTC and in the community's main zones (a Matrix
client has no per-reader zone), and every member who gets list mail gets it as list mail stating the
time in their own zone, with an iCalendar invitation (``bridge.relay.reminder_mail``). Later reminders
of the meeting are posts in that thread. Members reply to either, by mail or in the room, and the
thread is the meeting's notes, in the archive like any other.

Exactly once: the reminder's post, its outbox rows and the ``meeting_reminder`` row that names it are
one transaction, and the post's origin key names the reminder, so a restart, a kill -9 or a second
process finds it done; delivery is the outbox's at-least-once with ids receivers deduplicate.

The loop sleeps until the next reminder is due (``bridge.core.reminders``), never polls; it wakes at
least every ``MAX_SLEEP`` in case the wall clock jumped. It needs no lease to be correct, but belongs
to one process: wrap ``run`` in the store's singleton lease where several daemons share PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from bridge.config.schema import build_meeting_series
from bridge.core.meeting_series import MeetingSeries
from bridge.core.meeting_times import main_zones, utc_when, zone_times
from bridge.core.model import (
    BRIDGE_ORIGIN_PREFIX,
    Channel,
    DeliveryKind,
    DeliverySpec,
    InboundMessage,
    Role,
    TagSource,
)
from bridge.core.reminders import Reminder, due, lead_time, next_due_at
from bridge.core.routing import email_recipients
from bridge.core.subjects import normalize_subject
from bridge.core.zones import zone
from bridge.relay.community import CommunityContext
from bridge.rendering import Renderer
from bridge.store import NewTag, NewThread, Store
from bridge.store.community_facts import CommunityFactsRepository

log = logging.getLogger(__name__)

MAX_SLEEP = timedelta(hours=1)
WAKE_MARGIN = timedelta(milliseconds=50)  # a timer may fire a hair early; never wake just before
MEETING_TAG = "meeting"
MEETING_TAG_LABEL = "Meetings"
ORIGIN_PREFIX = f"{BRIDGE_ORIGIN_PREFIX}meeting:"
"""Origin keys of the bridge's reminder posts: ``icop:meeting:SLUG:SERIES:NUMBER:MINUTES``."""
INVITED_ROLES = frozenset({Role.CONVENER, Role.CORE, Role.MEMBER})

Sleep = Callable[[float], Awaitable[None]]


def reminder_origin_key(slug: str, reminder: Reminder) -> str:
    meeting = reminder.meeting
    return f"{ORIGIN_PREFIX}{slug}:{meeting.series.key}:{meeting.number}:{reminder.minutes_before}"


def notes_subject(reminder: Reminder) -> str:
    """``Meeting: Practice call, Tue 31 Mar 2026`` (the date where the series is held)."""
    meeting = reminder.meeting
    local = meeting.start.astimezone(zone(meeting.series.time_zone))
    return f"Meeting: {meeting.series.title}, {local:%a} {local.day} {local:%b %Y}"


class Reminders:
    """Posts the due reminders of every community's meeting series; ``run`` is the supervised loop."""

    def __init__(
        self,
        store: Store,
        communities: Callable[[], Mapping[int, CommunityContext]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Sleep = asyncio.sleep,
        on_queued: Callable[[], None] = lambda: None,
        ready: Callable[[], Awaitable[object]] | None = None,
        renderer: Renderer | None = None,
        max_sleep: timedelta = MAX_SLEEP,
    ) -> None:
        self.store = store
        self.communities = communities
        self.clock = clock
        self.sleep = sleep
        self.on_queued = on_queued  # wakes the delivery workers
        self.ready = ready  # waits until the rooms are known (a reminder needs its room)
        self.renderer = renderer or Renderer()
        self.facts = CommunityFactsRepository(store.db)
        self.max_sleep = max_sleep

    async def run(self) -> None:
        if self.ready is not None:
            await self.ready()
        while True:
            now = self.clock()
            await self.send_due(now)
            wake = self.next_due(now)
            pause = self.max_sleep if wake is None else min(self.max_sleep, wake - now + WAKE_MARGIN)
            log.debug("meeting reminders: next wake in %.0f s", pause.total_seconds())
            await self.sleep(max(pause.total_seconds(), 0.0))

    def series(self) -> dict[int, tuple[MeetingSeries, ...]]:
        return {c.id: build_meeting_series(c.config) for c in self.communities().values()}

    def next_due(self, now: datetime) -> datetime | None:
        """When the next reminder of any community falls."""
        return next_due_at([s for found in self.series().values() for s in found], now)

    async def send_due(self, now: datetime) -> int:
        """Post every reminder due at ``now`` that has not gone out; returns how many were posted."""
        posted = 0
        for community in self.communities().values():
            for reminder in due(build_meeting_series(community.config), now):
                if community.room_id is None:
                    log.warning("meeting reminder waits: the room of %s is not known yet", community.slug)
                    continue
                posted += await self.post(community, reminder, now)
        if posted:
            self.on_queued()
        return posted

    async def post(self, community: CommunityContext, reminder: Reminder, now: datetime) -> int:
        """The bridge's post for one reminder with its deliveries; 0 when it went out before."""
        meeting = reminder.meeting
        key, number, minutes = meeting.series.key, meeting.number, reminder.minutes_before
        if await self.store.meetings.sent(community.id, key, number, minutes):
            return 0
        earlier = await self.store.meetings.of_meeting(community.id, key, number)
        opens = not earlier
        text, html = self.renderer.render_pair(
            "room/reminder", await self._room_context(community, reminder, opens)
        )
        subject = notes_subject(reminder)
        message = InboundMessage(
            channel=Channel.MATRIX,  # where the notes thread lives; each member's mail is personal
            origin_key=reminder_origin_key(community.slug, reminder),
            community_slug=community.slug,
            sender_address=community.config.list_address,
            sender_name=community.config.name,
            text=text.strip(),
            html=html.strip(),
            subject=subject if opens else None,
            sent_at=now,
        )
        assert community.room_id is not None
        deliveries = [DeliverySpec(Channel.MATRIX, community.room_id, DeliveryKind.POST)] + [
            DeliverySpec(
                Channel.EMAIL, (r.email or "").strip(), DeliveryKind.REMINDER, membership_id=r.membership_id
            )
            for r in email_recipients(await self.store.communities.recipients(community.id), None)
        ]
        thread: int | NewThread = (
            earlier[0].thread_id
            if earlier
            else NewThread(subject, normalize_subject(subject, [community.config.prefix]))
        )
        async with self.store.db.transaction() as tx:
            result = await self.store.posts.ingest(
                message,
                community_id=community.id,
                thread=thread,
                author_id=None,
                deliveries=deliveries,
                parent_id=earlier[0].post_id if earlier else None,
                now=now,
                tx=tx,
            )
            if result.duplicate:
                return 0
            if opens:
                tag = NewTag(MEETING_TAG, TagSource.MEETING, label=MEETING_TAG_LABEL, applied_by=None)
                await self.store.tags.tag_thread(community.id, result.thread_id, [tag], now=now, tx=tx)
            await self.store.meetings.record(
                community_id=community.id,
                series_key=key,
                number=number,
                minutes_before=minutes,
                meeting_start=meeting.start,
                post_id=result.post_id,
                thread_id=result.thread_id,
                now=now,
                tx=tx,
            )
        log.info(
            "meeting reminder posted",
            extra={
                "community": community.slug,
                "meeting": meeting.uid,
                "start": meeting.start.isoformat(),
                "before_minutes": minutes,
                "thread_id": result.thread_id,
                "mails": len(deliveries) - 1,
            },
        )
        return 1

    async def _room_context(
        self, community: CommunityContext, reminder: Reminder, opens: bool
    ) -> dict[str, object]:
        meeting = reminder.meeting
        series = meeting.series
        people = await self.facts.participants(community.id)
        zones = main_zones(
            series.time_zone,
            (p.time_zone or community.config.time_zone for p in people if p.role in INVITED_ROLES),
        )
        return {
            "title": series.title,
            "lead": lead_time(reminder.before),
            "when_utc": utc_when(meeting),
            "zone_times": zone_times(meeting, zones),
            "call_url": series.call_url,
            "description": series.description,
            "opens_notes": opens,
        }
