"""What a digest is made of, read from the store once per community and run.

A run for thousands of readers meets only a few distinct periods (one per time zone and previous send,
mostly). ``DigestSource.load`` reads every visible post of the community in the window that covers all
of them (and the period before the earliest, for trending tags) in a handful of queries; ``period``
then builds each period's facts in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.core.digest.facts import CommunityPeriod, NewcomerFact, PostFact, PracticeFact, ThreadFact
from bridge.core.model import Channel, MembershipState, PostState, PracticeState, Role
from bridge.store.database import Database
from bridge.store.models import Membership, Person, Post, Practice, Tag, Thread, ThreadTag
from bridge.store.records import as_utc

_CHUNK = 500


def author_key(person_id: int | None, address: str) -> str:
    """The stable key of a post's author: the person when known, else the address they wrote from."""
    return f"person:{person_id}" if person_id is not None else address.casefold()


@dataclass(frozen=True, slots=True)
class CommunityText:
    """How the digest names the community: from its config."""

    slug: str
    name: str
    mission: str
    base_url: str


@dataclass(frozen=True, slots=True)
class _Root:
    author: str
    author_name: str
    text: str


class DigestSource:
    """One community's posts, tags, practices and newcomers over a window, loaded once."""

    def __init__(self, community: CommunityText, window_start: datetime, window_end: datetime) -> None:
        self.community = community
        self.window_start = as_utc(window_start)
        self.window_end = as_utc(window_end)
        self._posts: list[tuple[int, PostFact]] = []  # (thread id, post)
        self._threads: dict[int, dict[str, Any]] = {}
        self._roots: dict[int, _Root] = {}
        self._tags: dict[int, tuple[str, ...]] = {}
        self._labels: dict[str, str] = {}
        self._practices: dict[int, dict[str, Any]] = {}
        self._newcomers: list[NewcomerFact] = []

    @classmethod
    async def load(
        cls,
        db: Database,
        community_id: int,
        community: CommunityText,
        window_start: datetime,
        window_end: datetime,
    ) -> DigestSource:
        source = cls(community, window_start, window_end)
        await source._load(db, community_id)
        return source

    async def _load(self, db: Database, community_id: int) -> None:
        async with db.session() as conn:
            posts = (
                await Post.filter(
                    community_id=community_id,
                    state=PostState.VISIBLE,
                    created_at__gte=self.window_start,
                    created_at__lt=self.window_end,
                )
                .using_db(conn)
                .order_by("created_at", "id")
                .values(
                    "id",
                    "thread_id",
                    "parent_id",
                    "author_id",
                    "author_address",
                    "author_name",
                    "origin_channel",
                    "created_at",
                    "body_text",
                    "reaction_count",
                )
            )
            thread_ids = sorted({int(p["thread_id"]) for p in posts})
            threads = await _chunked(
                thread_ids,
                lambda ids: Thread.filter(id__in=ids).using_db(conn).values("id", "subject", "created_at"),
            )
            roots = await _chunked(
                thread_ids,
                lambda ids: (
                    Post.filter(thread_id__in=ids, parent_id__isnull=True)
                    .using_db(conn)
                    .order_by("created_at", "id")
                    .values("thread_id", "author_id", "author_address", "author_name", "body_text")
                ),
            )
            tags = {
                int(t["id"]): t
                for t in await Tag.filter(community_id=community_id)
                .using_db(conn)
                .values("id", "name", "label")
            }
            thread_tags = await _chunked(
                thread_ids,
                lambda ids: ThreadTag.filter(thread_id__in=ids).using_db(conn).values("thread_id", "tag_id"),
            )
            practices = (
                await Practice.filter(community_id=community_id)
                .using_db(conn)
                .values("thread_id", "title", "summary", "state", "created_at", "confirmed_at")
            )
            joined = (
                await Membership.filter(
                    community_id=community_id,
                    state=MembershipState.ACTIVE,
                    created_at__gte=self.window_start,
                    created_at__lt=self.window_end,
                )
                .exclude(role=Role.READER)
                .using_db(conn)
                .values("person_id", "created_at")
            )
            names = {
                int(p["id"]): str(p["display_name"])
                for p in await Person.filter(id__in=[int(j["person_id"]) for j in joined])
                .using_db(conn)
                .values("id", "display_name")
            }
        self._posts = [
            (
                int(p["thread_id"]),
                PostFact(
                    post_id=int(p["id"]),
                    author=author_key(p["author_id"], str(p["author_address"])),
                    author_name=str(p["author_name"]),
                    channel=Channel(p["origin_channel"]),
                    created_at=as_utc(p["created_at"]),
                    text=str(p["body_text"]),
                    reactions=int(p["reaction_count"]),
                    is_root=p["parent_id"] is None,
                ),
            )
            for p in posts
        ]
        self._threads = {int(t["id"]): t for t in threads}
        for root in roots:
            self._roots.setdefault(
                int(root["thread_id"]),
                _Root(
                    author_key(root["author_id"], str(root["author_address"])),
                    str(root["author_name"]),
                    str(root["body_text"]),
                ),
            )
        by_thread: dict[int, list[str]] = defaultdict(list)
        for link in thread_tags:
            tag = tags.get(int(link["tag_id"]))
            if tag is not None:
                by_thread[int(link["thread_id"])].append(str(tag["name"]))
        self._tags = {thread: tuple(sorted(names)) for thread, names in by_thread.items()}
        self._labels = {str(t["name"]): str(t["label"]) for t in tags.values()}
        self._practices = {int(p["thread_id"]): p for p in practices}
        self._newcomers = [
            NewcomerFact(
                author_key(int(j["person_id"]), ""), names[int(j["person_id"])], as_utc(j["created_at"])
            )
            for j in joined
            if int(j["person_id"]) in names
        ]

    def period(self, start: datetime, end: datetime) -> CommunityPeriod:
        """The facts of ``[start, end)``, with the tag counts of the period of equal length before it."""
        previous_start = start - (end - start)
        current: dict[int, list[PostFact]] = defaultdict(list)
        previous_threads: set[int] = set()
        for thread_id, post in self._posts:
            if start <= post.created_at < end:
                current[thread_id].append(post)
            elif previous_start <= post.created_at < start:
                previous_threads.add(thread_id)
        previous_counts: dict[str, int] = defaultdict(int)
        for thread_id in previous_threads:
            for tag in self._tags.get(thread_id, ()):
                previous_counts[tag] += 1
        return CommunityPeriod(
            slug=self.community.slug,
            name=self.community.name,
            mission=self.community.mission,
            base_url=self.community.base_url,
            start=start,
            end=end,
            threads=tuple(self._thread(thread_id, posts) for thread_id, posts in current.items()),
            practices=tuple(self._practices_between(start, end)),
            previous_tag_counts=dict(previous_counts),
            tag_labels=self._labels,
            newcomers=tuple(n for n in self._newcomers if start <= n.joined_at < end),
        )

    def _thread(self, thread_id: int, posts: Sequence[PostFact]) -> ThreadFact:
        thread = self._threads.get(thread_id, {})
        root = self._roots.get(thread_id) or _Root(posts[0].author, posts[0].author_name, posts[0].text)
        practice = self._practices.get(thread_id)
        return ThreadFact(
            thread_id=thread_id,
            subject=str(thread.get("subject") or ""),
            author=root.author,
            author_name=root.author_name,
            created_at=as_utc(thread["created_at"]) if thread.get("created_at") else posts[0].created_at,
            root_text=root.text,
            posts=tuple(posts),
            tags=self._tags.get(thread_id, ()),
            practice=PracticeState(practice["state"]) if practice else None,
        )

    def _practices_between(self, start: datetime, end: datetime) -> Iterable[PracticeFact]:
        for thread_id, p in self._practices.items():
            state = PracticeState(p["state"])
            at = (
                p["confirmed_at"]
                if state is PracticeState.CONFIRMED and p["confirmed_at"]
                else p["created_at"]
            )
            when = as_utc(at)
            if start <= when < end:
                yield PracticeFact(
                    thread_id, str(p["title"]), str(p["summary"]), state, when, self._tags.get(thread_id, ())
                )


async def _chunked(ids: Sequence[int], query: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), _CHUNK):
        rows.extend(await query(list(ids[start : start + _CHUNK])))
    return rows
