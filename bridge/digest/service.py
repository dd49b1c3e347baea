"""Sending the digests that are due: the same run for the daemon's scheduler and ``icop digest send-due``.

One run, for each community: read its readers and when each last had a digest, work out whose slot has
come (``bridge.core.digest.schedule``), read the community's posts once for all the periods concerned,
rank each period once, then for each due reader claim the (reader, slot) row, render (once per issue),
personalise, compose and hand the mail to the SMTP server, and record it sent
(``bridge.email.claimed_send``). A claim whose sender died is taken over when its lease runs out; a
temporary SMTP failure retries with backoff; a permanent one parks the digest as dead. An empty
period sends nothing (the slot is recorded as handled) unless the community asks for a quiet note.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.config import LoadedConfig
from bridge.config.schema import CommunityConfig
from bridge.core.digest.facts import MeetingFact, ReaderView
from bridge.core.digest.schedule import (
    DigestSchedule,
    Frequency,
    Period,
    Slots,
    latest_slot,
    next_slot,
    period_from,
    slots_at,
    weekday_number,
)
from bridge.core.digest.selection import DigestContent, RankedPeriod, rank_period
from bridge.core.links import community_url, subscribe_url
from bridge.core.model import DeliveryState
from bridge.digest.compose import DigestEnvelope, compose_encoded, digest_message_id
from bridge.digest.links import DigestLinks
from bridge.digest.meetings import MeetingSource, NoMeetings
from bridge.digest.render import DigestIssue, DigestRenderer, PersonalLinks
from bridge.email.addresses import ListIdentity, list_domain, verp_address
from bridge.email.claimed_send import LEASE, Outcome, send_claimed
from bridge.email.smtp import SmtpSender
from bridge.store import CommunityRecord, ReaderRecord, Store
from bridge.store.digest_sources import CommunityText, DigestSource, author_key

log = logging.getLogger(__name__)

CLAIM_BATCH = 200
"""Digests claimed by one statement; a batch is sent before the next is claimed, so a killed sender
leaves at most this many claims to be taken over when their lease runs out."""


@dataclass(slots=True)
class RunSummary:
    """What one run did; ``lines`` are the one-line reports ``icop digest send-due`` prints."""

    sent: int = 0
    empty: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by another sender meanwhile
    would_send: int = 0
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DueDigest:
    reader: ReaderRecord
    period: Period
    zone: str
    frequency: str
    digest_id: int | None = None  # set when taking over an earlier claim


@dataclass(frozen=True, slots=True)
class Prepared:
    """One reader's digest, composed: what ``preview`` writes and ``send`` hands to SMTP (the decoded
    ``text`` and ``html`` only when asked for: a run needs the bytes alone)."""

    raw: bytes
    subject: str
    content: DigestContent
    text: str = ""
    html: str = ""


class DigestService:
    def __init__(
        self,
        loaded: LoadedConfig,
        store: Store,
        signing_key: bytes,
        smtp: SmtpSender | None,
        *,
        worker: str = "icop",
        renderer: DigestRenderer | None = None,
        meetings: MeetingSource | None = None,
        concurrency: int = 4,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.loaded = loaded
        self.store = store
        self.smtp = smtp
        self.worker = worker
        self.renderer = renderer or DigestRenderer()
        self.meetings = meetings or NoMeetings()
        self.links = DigestLinks(loaded.config.base_url, signing_key)
        self.slots = asyncio.Semaphore(max(1, concurrency))
        self.clock = clock

    # -- the run ---------------------------------------------------------------------------------
    async def send_due(
        self, now: datetime, *, dry_run: bool = False, report: Callable[[str], None] | None = None
    ) -> RunSummary:
        summary = RunSummary()
        for config in self.loaded.config.community:
            record = await self.store.communities.by_slug(config.slug)
            if record is None:
                continue
            due = await self._due(config, record, now)
            if not due:
                continue
            await self._run_community(config, record, due, now, dry_run, summary, report)
        return summary

    async def _due(self, config: CommunityConfig, record: CommunityRecord, now: datetime) -> list[DueDigest]:
        readers = [r for r in await self.store.subscriptions.readers(record.id) if r.wants_digest]
        by_id = {r.membership_id: r for r in readers}
        due: list[DueDigest] = []
        for stale in await self.store.digests.stale(record.id, now):
            reader = by_id.get(stale.membership_id)
            if reader is None:  # no longer a digest reader: the claim is moot
                await self.store.digests.give_up(stale.id, "the reader no longer takes digests")
                continue
            zone, frequency = self._zone(reader, config), reader.digest_frequency
            due.append(
                DueDigest(reader, Period(stale.period_start, stale.period_end), zone, frequency, stale.id)
            )
        taken = {d.reader.membership_id for d in due}
        last = await self.store.digests.last_ends(by_id)
        slots: dict[tuple[str, str], Slots] = {}  # ten thousand readers, a few dozen zones
        for reader in readers:
            if reader.membership_id in taken:
                continue
            zone = self._zone(reader, config)
            key = (zone, reader.digest_frequency)
            if key not in slots:
                slots[key] = slots_at(_schedule(config, reader.digest_frequency), ZoneInfo(zone), now)
            period = period_from(slots[key], last.get(reader.membership_id), reader.subscribed_at)
            if period is not None:
                due.append(DueDigest(reader, period, zone, reader.digest_frequency))
        return due

    async def _run_community(
        self,
        config: CommunityConfig,
        record: CommunityRecord,
        due: list[DueDigest],
        now: datetime,
        dry_run: bool,
        summary: RunSummary,
        report: Callable[[str], None] | None,
    ) -> None:
        source = await self._source(config, record, [d.period for d in due])
        ranked: dict[tuple[datetime, datetime], RankedPeriod] = {}
        meetings = await self.meetings.upcoming(record.id, now, now + timedelta(days=31))

        def say(line: str) -> None:
            summary.lines.append(line)
            if report is not None:
                report(line)

        to_send: list[tuple[DueDigest, DigestContent]] = []
        empty: list[DueDigest] = []
        for item in due:
            key = (item.period.start, item.period.end)
            if key not in ranked:
                ranked[key] = rank_period(source.period(*key))
            content = self._content(ranked[key], item.reader, meetings)
            if content.is_empty and not config.digest.quiet_note:
                empty.append(item)
            else:
                to_send.append((item, content))
        for item in empty:
            summary.empty += 1
            say(f"nothing new: {_what(config, item)}")
        if dry_run:
            for item, _ in to_send:
                summary.would_send += 1
                say(f"would send: {_what(config, item)}")
            return
        await self._record_empty(empty, now)
        for start in range(0, len(to_send), CLAIM_BATCH):
            chunk = to_send[start : start + CLAIM_BATCH]
            claimed = await self._claim_many([item for item, _ in chunk], now)

            async def one(item: DueDigest, content: DigestContent, claimed: dict[int, int] = claimed) -> None:
                digest_id = claimed.get(item.reader.membership_id)
                say(await self._send(config, item, content, digest_id, now, summary))

            async with asyncio.TaskGroup() as group:
                for item, content in chunk:
                    group.create_task(one(item, content))

    async def _claim_many(self, items: list[DueDigest], now: datetime) -> dict[int, int]:
        """One statement claims a batch of new slots; a stale claim is taken over one by one."""
        worker = f"{self.worker}:{secrets.token_hex(6)}"
        lease = self.clock() + LEASE
        fresh = [(i.reader.membership_id, i.period.start, i.period.end) for i in items if i.digest_id is None]
        claimed = await self.store.digests.begin_many(fresh, worker=worker, lease_until=lease)
        for item in items:
            if item.digest_id is not None and await self.store.digests.take_over(
                item.digest_id, worker=worker, now=now, lease_until=lease
            ):
                claimed[item.reader.membership_id] = item.digest_id
        return claimed

    async def _record_empty(self, items: list[DueDigest], now: datetime) -> None:
        """Slots with nothing to send are recorded as handled, so the next run does not weigh them."""
        fresh = [(i.reader.membership_id, i.period.start, i.period.end) for i in items if i.digest_id is None]
        worker = f"{self.worker}:{secrets.token_hex(6)}"
        await self.store.digests.begin_many(
            fresh, worker=worker, lease_until=now, state=DeliveryState.CANCELLED
        )
        for item in items:
            if item.digest_id is not None:
                await self.store.digests.nothing_new(item.digest_id)

    async def _send(
        self,
        config: CommunityConfig,
        item: DueDigest,
        content: DigestContent,
        digest_id: int | None,
        now: datetime,
        summary: RunSummary,
    ) -> str:
        reader, what = item.reader, _what(config, item)
        if digest_id is None:
            summary.skipped += 1
            return f"already claimed: {what}"
        async with self.slots:
            prepared = self.prepare(config, item, content, digest_id, now)
            assert reader.email is not None  # wants_digest
            outcome, error = await send_claimed(
                self._require_smtp(),
                self.store.digests,
                digest_id,
                prepared.raw,
                message_id=digest_message_id(digest_id, list_domain(config.list_address)),
                envelope_from=verp_address(config.list_address, reader.email),
                recipient=reader.email,
                clock=self.clock,
            )
        if outcome is not Outcome.SENT:
            summary.failed += 1
            return f"{outcome}: {what}: {error}"
        summary.sent += 1
        return f"sent: {what}"

    def _content(
        self, ranked: RankedPeriod, reader: ReaderRecord, meetings: list[MeetingFact]
    ) -> DigestContent:
        content = ranked.for_reader(ReaderView(author_key(reader.person_id, ""), reader.followed_tags))
        if meetings:
            content = DigestContent(
                content.top, content.practices, content.trending, content.people, tuple(meetings)
            )
        return content

    # -- composing ------------------------------------------------------------------------------
    def prepare(
        self,
        config: CommunityConfig,
        item: DueDigest,
        content: DigestContent,
        digest_id: int,
        now: datetime,
        *,
        with_parts: bool = False,
        date: datetime | None = None,
    ) -> Prepared:
        """The message for one reader; ``date`` is its Date header (default: the clock, when it is sent)."""
        reader = item.reader
        assert reader.email is not None
        base = self.loaded.config.base_url
        issue = DigestIssue(
            slug=config.slug,
            name=config.name,
            subject_prefix=config.prefix,
            mission=config.description,
            base_url=base,
            frequency=item.frequency,
            start=item.period.start,
            end=item.period.end,
            time_zone=item.zone,
            content=content,
        )
        rendered = self.renderer.render(issue)
        unsubscribe = self.links.unsubscribe(reader.membership_id, now)
        links = PersonalLinks(
            unsubscribe=unsubscribe,
            manage=self.links.manage(config.slug, reader.membership_id, now),
            useful=self.links.feedback(config.slug, digest_id, True, now),
            not_useful=self.links.feedback(config.slug, digest_id, False, now),
        )
        text_qp, html_qp = rendered.encoded(name=reader.name, address=reader.email, links=links)
        envelope = DigestEnvelope(
            community=ListIdentity(config.slug, config.list_address, config.prefix, config.name),
            recipient=reader.email,
            recipient_name=reader.name,
            subject=rendered.subject,
            message_id=digest_message_id(digest_id, list_domain(config.list_address)),
            date=date or self.clock(),
            unsubscribe_url=unsubscribe,
            subscribe_url=subscribe_url(base, config.slug),
            archive_url=community_url(base, config.slug),
        )
        raw = compose_encoded(envelope, text_qp, html_qp)
        if not with_parts:
            return Prepared(raw, rendered.subject, content)
        text, html = rendered.personal(name=reader.name, address=reader.email, links=links)
        return Prepared(raw, rendered.subject, content, text, html)

    async def preview(self, slug: str, email: str, now: datetime) -> Prepared | None:
        """The digest ``email`` would get at ``now``: one full period ending now (from their previous
        digest, if that is nearer), whether or not a slot is due. None for an unknown reader."""
        config = next((c for c in self.loaded.config.community if c.slug == slug), None)
        record = await self.store.communities.by_slug(slug)
        if config is None or record is None:
            return None
        reader = await self.store.subscriptions.reader_by_email(record.id, email)
        if reader is None or reader.email is None:
            return None
        frequency = reader.digest_frequency if reader.digest_frequency != "never" else "weekly"
        zone = self._zone(reader, config)
        schedule, tz = _schedule(config, frequency), ZoneInfo(zone)
        length = next_slot(schedule, tz, now) - latest_slot(schedule, tz, now)
        last = (await self.store.digests.last_ends([reader.membership_id])).get(reader.membership_id)
        start = max(last, now - length) if last is not None and last < now else now - length
        item = DueDigest(reader, Period(start, now), zone, frequency)
        source = await self._source(config, record, [item.period])
        meetings = await self.meetings.upcoming(record.id, now, now + timedelta(days=31))
        content = self._content(rank_period(source.period(start, now)), reader, meetings)
        return self.prepare(config, item, content, 0, now, with_parts=True, date=now)

    async def _source(
        self, config: CommunityConfig, record: CommunityRecord, periods: list[Period]
    ) -> DigestSource:
        longest = max(p.end - p.start for p in periods)
        text = CommunityText(config.slug, config.name, config.description, self.loaded.config.base_url)
        return await DigestSource.load(
            self.store.db,
            record.id,
            text,
            min(p.start for p in periods) - longest,
            max(p.end for p in periods),
        )

    def _zone(self, reader: ReaderRecord, config: CommunityConfig) -> str:
        return reader.time_zone or config.time_zone

    def _require_smtp(self) -> SmtpSender:
        if self.smtp is None:
            raise RuntimeError("no SMTP sender: digests cannot be sent")
        return self.smtp


def _schedule(config: CommunityConfig, frequency: str) -> DigestSchedule:
    return DigestSchedule(
        Frequency(frequency), hour=config.digest.hour, weekday=weekday_number(config.digest.weekday)
    )


def _what(config: CommunityConfig, item: DueDigest) -> str:
    return f"{config.slug} {item.frequency} digest to {item.reader.email} ({_span(item.period, item.zone)})"


def _span(period: Period, zone: str) -> str:
    tz = ZoneInfo(zone)
    return (
        f"{period.start.astimezone(tz):%Y-%m-%d %H:%M} to {period.end.astimezone(tz):%Y-%m-%d %H:%M} {zone}"
    )
