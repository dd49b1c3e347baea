"""Value stories kept beside the posts that told them, cited to a thread and so to its practice.

A story is written in the transaction that stores (or approves, or edits) its post, so a post never
tells a story the archive lost, and a replayed post records nothing twice (one story per post). The
practice a story counts for is read through its thread when asked, so a thread confirmed as a practice
later gathers the stories told about it before.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bridge.core.model import Channel, PostState
from bridge.store.database import Database, Transaction
from bridge.store.models import Post, Practice, Story
from bridge.store.records import as_utc


@dataclass(frozen=True, slots=True)
class NewStory:
    """What filing a post found: who told which story about which thread."""

    community_id: int
    thread_id: int  # the thread it cites
    post_id: int
    author_id: int | None
    author_name: str
    author_address: str
    channel: Channel
    text: str


@dataclass(frozen=True, slots=True)
class StoryRecord:
    id: int
    community_id: int
    thread_id: int  # cited
    post_id: int
    author_name: str
    author_address: str
    author_id: int | None
    channel: Channel
    text: str
    created_at: datetime
    practice: str | None  # the title of the cited thread's practice, when it is one


class Stories:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, story: NewStory, *, now: datetime, tx: Transaction | None = None) -> bool:
        """Keep the story told by ``story.post_id``; False when that post already tells one."""
        now = as_utc(now)
        async with self._db.transaction(tx) as inner:
            row = Story(
                community_id=story.community_id,
                thread_id=story.thread_id,
                post_id=story.post_id,
                author_id=story.author_id,
                author_name=story.author_name,
                author_address=story.author_address,
                channel=story.channel,
                text=story.text,
                created_at=now,
                updated_at=now,
            )
            before = await Story.filter(post_id=story.post_id).using_db(inner.client).exists()
            if before:
                return False
            await Story.bulk_create([row], ignore_conflicts=True, using_db=inner.client)
        return True

    async def retell(
        self, post_id: int, text: str, thread_id: int, *, now: datetime, tx: Transaction | None = None
    ) -> bool:
        """An edited post's story: its new words and the thread they now cite; False when it told none."""
        async with self._db.session(tx) as conn:
            count = (
                await Story.filter(post_id=post_id)
                .using_db(conn)
                .update(text=text, thread_id=thread_id, updated_at=as_utc(now))
            )
        return count > 0

    async def withdraw(self, post_id: int, *, tx: Transaction | None = None) -> bool:
        """The post no longer tells a story (``#story`` edited away, the post deleted)."""
        async with self._db.session(tx) as conn:
            return bool(await Story.filter(post_id=post_id).using_db(conn).delete())

    async def in_community(
        self,
        community_id: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        thread_id: int | None = None,
    ) -> builtins.list[StoryRecord]:
        """The community's stories whose posts are visible, newest first (of a period, or one thread)."""
        async with self._db.session() as conn:
            query = Story.filter(community_id=community_id)
            if since is not None:
                query = query.filter(created_at__gte=as_utc(since))
            if until is not None:
                query = query.filter(created_at__lt=as_utc(until))
            if thread_id is not None:
                query = query.filter(thread_id=thread_id)
            rows = await query.using_db(conn).order_by("-created_at", "-id")
            visible = {
                int(post_id)
                for (post_id,) in await Post.filter(id__in=[r.post_id for r in rows], state=PostState.VISIBLE)
                .using_db(conn)
                .values_list("id")
            }
            titles = dict(
                await Practice.filter(thread_id__in={r.thread_id for r in rows})
                .using_db(conn)
                .values_list("thread_id", "title")
            )
        return [_story(r, titles.get(r.thread_id)) for r in rows if r.post_id in visible]

    async def of_post(self, post_id: int) -> StoryRecord | None:
        """The story a post tells, if it tells one."""
        async with self._db.session() as conn:
            row = await Story.filter(post_id=post_id).using_db(conn).first()
            title = (
                await Practice.filter(thread_id=row.thread_id).using_db(conn).values_list("title", flat=True)
                if row is not None
                else []
            )
        return _story(row, str(title[0]) if title else None) if row is not None else None

    async def count_by_thread(self, thread_ids: Iterable[int]) -> dict[int, int]:
        """How many stories (of visible posts) cite each of these threads; absent: none."""
        wanted = list(dict.fromkeys(thread_ids))
        if not wanted:
            return {}
        async with self._db.session() as conn:
            rows = (
                await Story.filter(thread_id__in=wanted, post__state=PostState.VISIBLE)
                .using_db(conn)
                .values_list("thread_id")
            )
        return dict(Counter(int(t) for (t,) in rows))


def _story(row: Story, practice: str | None) -> StoryRecord:
    return StoryRecord(
        id=row.id,
        community_id=row.community_id,
        thread_id=row.thread_id,
        post_id=row.post_id,
        author_name=row.author_name,
        author_address=row.author_address,
        author_id=row.author_id,
        channel=Channel(row.channel),
        text=row.text,
        created_at=as_utc(row.created_at),
        practice=str(practice) if practice is not None else None,
    )
