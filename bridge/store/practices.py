"""Practices: threads a community keeps as what it knows, and the catalogue made of them.

A practice is proposed (``#practice`` by anyone) or confirmed (by the core team, in the room, by mail
or on the command line); it has a title, a summary the core team writes and edits, its thread and,
through the thread, its tags. ``catalogue`` is the one query the exported catalogue, the archive's
practices page and the digests read: every confirmed practice with what a reader of the catalogue
needs (tags, contributors, dates, size), in a fixed number of queries whatever the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.core.model import PostState, PracticeState
from bridge.store import audit
from bridge.store.database import Database, Transaction
from bridge.store.models import Post, Practice, Thread
from bridge.store.records import as_utc, utc_now
from bridge.store.stories import Stories, StoryRecord
from bridge.store.tags import AppliedTag, Tags


@dataclass(frozen=True, slots=True)
class PracticeRecord:
    id: int
    community_id: int
    thread_id: int
    title: str
    summary: str
    state: PracticeState
    proposed_by: str | None
    confirmed_by: str | None
    created_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One confirmed practice as the catalogue shows it.

    ``contributors`` are the display names of the thread's authors in the order they first wrote;
    ``first_at``/``last_at`` the dates of its first and latest visible post; ``posts`` how many;
    ``stories`` the value stories told about it, oldest first.
    """

    practice: PracticeRecord
    subject: str
    tags: tuple[AppliedTag, ...]
    contributors: tuple[str, ...]
    posts: int
    first_at: datetime
    last_at: datetime
    stories: tuple[StoryRecord, ...] = ()


class Practices:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def propose(
        self,
        community_id: int,
        thread_id: int,
        title: str,
        by: str | None,
        *,
        now: datetime,
        tx: Transaction | None = None,
    ) -> bool:
        """Propose the thread as a practice; False when it is one already (proposed or confirmed)."""
        now = as_utc(now)
        async with self._db.transaction(tx) as inner:
            conn = inner.client
            if await Practice.filter(thread_id=thread_id).using_db(conn).exists():
                return False
            await _propose(community_id, thread_id, title, by, now, inner)
            await audit.record(
                inner, community_id, by, "practice.propose", f"thread {thread_id}", title, now=now
            )
        return True

    async def confirm(
        self,
        community_id: int,
        thread_id: int,
        title: str,
        by: str,
        *,
        now: datetime,
        tx: Transaction | None = None,
    ) -> tuple[PracticeRecord, bool]:
        """Make the thread a confirmed practice titled ``title``; the bool says whether it was not
        confirmed before (a second confirmation renames it)."""
        now = as_utc(now)
        async with self._db.transaction(tx) as inner:
            conn = inner.client
            await _propose(community_id, thread_id, title, None, now, inner)
            row = await Practice.filter(thread_id=thread_id).using_db(conn).get()
            new = row.state is not PracticeState.CONFIRMED
            changes: dict[str, object] = {"title": title, "updated_at": now}
            if new:
                changes.update(state=PracticeState.CONFIRMED, confirmed_by=by, confirmed_at=now)
            await Practice.filter(id=row.id).using_db(conn).update(**changes)
            action = "practice.confirm" if new else "practice.rename"
            await audit.record(inner, community_id, by, action, f"thread {thread_id}", title, now=now)
            row = await Practice.filter(id=row.id).using_db(conn).get()
        return _practice(row), new

    async def set_summary(
        self, thread_id: int, summary: str, *, now: datetime, by: str | None = None
    ) -> PracticeRecord | None:
        """Write the practice's summary (the core team's words); None when the thread is no practice."""
        async with self._db.transaction() as tx:
            row = await Practice.filter(thread_id=thread_id).using_db(tx.client).first()
            if row is None:
                return None
            await (
                Practice.filter(id=row.id).using_db(tx.client).update(summary=summary, updated_at=as_utc(now))
            )
            await audit.record(
                tx, row.community_id, by, "practice.summary", f"thread {thread_id}", summary, now=now
            )
        return await self.of_thread(thread_id)

    async def withdraw(
        self,
        thread_id: int,
        *,
        proposed_by: str | None = None,
        by: str | None = None,
        tx: Transaction | None = None,
    ) -> bool:
        """Remove the practice (with ``proposed_by``: only a proposal that person made, not confirmed);
        ``by`` withdrew it (the proposer, when the proposal went with its post)."""
        async with self._db.transaction(tx) as inner:
            query = Practice.filter(thread_id=thread_id)
            if proposed_by is not None:
                query = query.filter(state=PracticeState.PROPOSED, proposed_by=proposed_by)
            row = await query.using_db(inner.client).first()
            if row is None:
                return False
            await Practice.filter(id=row.id).using_db(inner.client).delete()
            await audit.record(
                inner,
                row.community_id,
                by or proposed_by,
                "practice.withdraw",
                f"thread {thread_id}",
                row.title,
                now=utc_now(),
            )
        return True

    async def of_thread(self, thread_id: int) -> PracticeRecord | None:
        async with self._db.session() as conn:
            row = await Practice.filter(thread_id=thread_id).using_db(conn).first()
        return _practice(row) if row is not None else None

    async def in_community(
        self, community_id: int, state: PracticeState | None = None
    ) -> list[PracticeRecord]:
        """The community's practices (of one state, or all), newest first."""
        async with self._db.session() as conn:
            query = Practice.filter(community_id=community_id)
            if state is not None:
                query = query.filter(state=state)
            rows = await query.using_db(conn).order_by("-created_at", "-id")
        return [_practice(row) for row in rows]

    async def catalogue(self, community_id: int) -> list[CatalogueEntry]:
        """Every confirmed practice with its thread's tags, contributors and dates, by title."""
        practices = await self.in_community(community_id, PracticeState.CONFIRMED)
        if not practices:
            return []
        thread_ids = [p.thread_id for p in practices]
        async with self._db.session() as conn:
            subjects = dict(
                await Thread.filter(id__in=thread_ids).using_db(conn).values_list("id", "subject")
            )
            posts = (
                await Post.filter(thread_id__in=thread_ids, state=PostState.VISIBLE)
                .using_db(conn)
                .order_by("created_at", "id")
                .values_list("thread_id", "author_id", "author_address", "author_name", "created_at")
            )
        tags = await Tags(self._db).of_threads(thread_ids)
        told: dict[int, list[StoryRecord]] = {}
        for story in reversed(await Stories(self._db).in_community(community_id)):
            told.setdefault(story.thread_id, []).append(story)
        by_thread: dict[int, list[tuple[str, str, datetime]]] = {}
        for thread_id, author_id, address, name, created_at in posts:
            who = f"person:{author_id}" if author_id is not None else str(address).lower()
            by_thread.setdefault(int(thread_id), []).append((who, str(name or address), as_utc(created_at)))
        entries = []
        for practice in practices:
            written = by_thread.get(practice.thread_id, [])
            first_names: dict[str, str] = {}
            for who, name, _ in written:
                first_names.setdefault(who, name)
            first = written[0][2] if written else practice.created_at
            last = written[-1][2] if written else practice.created_at
            entries.append(
                CatalogueEntry(
                    practice=practice,
                    subject=str(subjects.get(practice.thread_id, "")),
                    tags=tuple(tags.get(practice.thread_id, ())),
                    contributors=tuple(dict.fromkeys(first_names.values())),
                    posts=len(written),
                    first_at=first,
                    last_at=last,
                    stories=tuple(told.get(practice.thread_id, ())),
                )
            )
        return sorted(entries, key=lambda e: (e.practice.title.casefold(), e.practice.id))


async def _propose(
    community_id: int, thread_id: int, title: str, by: str | None, now: datetime, tx: Transaction
) -> None:
    """A proposal row, unless the thread has one (a concurrent proposal wins: no error in ``tx``)."""
    row = Practice(
        community_id=community_id,
        thread_id=thread_id,
        title=title,
        state=PracticeState.PROPOSED,
        proposed_by=by,
        created_at=now,
        updated_at=now,
    )
    await Practice.bulk_create([row], ignore_conflicts=True, using_db=tx.client)


def _practice(row: Practice) -> PracticeRecord:
    return PracticeRecord(
        id=row.id,
        community_id=row.community_id,
        thread_id=row.thread_id,
        title=row.title,
        summary=row.summary,
        state=PracticeState(row.state),
        proposed_by=row.proposed_by,
        confirmed_by=row.confirmed_by,
        created_at=as_utc(row.created_at),
        confirmed_at=as_utc(row.confirmed_at) if row.confirmed_at is not None else None,
        updated_at=as_utc(row.updated_at),
    )
