"""What the web archive reads: threads, posts, tags, practices and the reader, never written here.

Every query is bounded by what one page shows, so a page costs the same at a thousand posts and at a
million: recent threads walk the ``(community, last_activity_at)`` index a page at a time (keyset, not
OFFSET), and per-thread details (participants, replies, tags) are read for that page's threads only.
Held and rejected posts never leave this module: a thread is listed only when it has a visible post,
and a thread page holds visible posts and the tombstones of deleted ones. Attachment bytes are never
read here; pages link to the signed file URLs.
"""

# The queries are composed of constant SQL and numbered placeholders only; every value is a parameter.

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from bridge.core.model import Channel, MembershipState, PostState, PracticeState, Role
from bridge.store.database import Database, Dialect
from bridge.store.models import (
    Identity,
    IdentityKind,
    Membership,
    Person,
    Post,
    PostRevision,
    Practice,
    StoredAttachment,
    Tag,
    Thread,
)
from bridge.store.records import as_utc

READABLE_STATES = frozenset({MembershipState.ACTIVE, MembershipState.SUSPENDED})
"""Memberships that may read a members-only archive: a bounce suspension stops mail, not reading."""


@dataclass(frozen=True, slots=True)
class Participant:
    name: str
    channel: Channel


@dataclass(frozen=True, slots=True)
class TagRef:
    name: str
    label: str


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """One line of a thread list: ``posts`` counts visible posts, so replies are ``posts - 1``."""

    id: int
    subject: str
    created_at: datetime
    last_activity_at: datetime
    posts: int
    participants: tuple[Participant, ...]
    tags: tuple[TagRef, ...]

    @property
    def replies(self) -> int:
        return max(self.posts - 1, 0)


@dataclass(frozen=True, slots=True)
class ThreadHead:
    id: int
    community_id: int
    subject: str
    created_at: datetime
    last_activity_at: datetime
    tags: tuple[TagRef, ...]


@dataclass(frozen=True, slots=True)
class FileRef:
    """An attachment as a page lists it: ``number`` is its position, as the signed file link needs."""

    number: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Revision:
    revision: int
    created_at: datetime
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class ArchivePost:
    id: int
    parent_id: int | None
    author_name: str
    channel: Channel
    deleted: bool
    created_at: datetime
    edited_at: datetime | None
    text: str
    html: str | None
    full_text: str | None
    reactions: int
    files: tuple[FileRef, ...]
    revisions: tuple[Revision, ...]  # earlier versions, oldest first; empty unless edited


@dataclass(frozen=True, slots=True)
class TagSummary:
    name: str
    label: str
    description: str
    threads: int


@dataclass(frozen=True, slots=True)
class PracticeEntry:
    id: int
    thread_id: int
    title: str
    summary: str
    state: PracticeState
    created_at: datetime
    confirmed_at: datetime | None
    tags: tuple[TagRef, ...]


@dataclass(frozen=True, slots=True)
class NewThread:
    """A thread as a feed announces it: its first visible post's author and text."""

    id: int
    subject: str
    created_at: datetime
    author_name: str
    channel: Channel
    text: str


@dataclass(frozen=True, slots=True)
class Reader:
    """A signed-in person: who, their time zone, and which communities they may read (with role)."""

    person_id: int
    name: str
    time_zone: str | None
    emails: tuple[str, ...]
    memberships: dict[int, Role]
    time_zones: dict[int, str]  # community id → the membership's own zone, where it has one

    def member_of(self, community_id: int) -> bool:
        return community_id in self.memberships

    def zone_in(self, community_id: int) -> str | None:
        return self.time_zones.get(community_id) or self.time_zone


Cursor = tuple[datetime, int]
"""Where a thread list continues: the last shown thread's (last_activity_at, id)."""


class Archive:
    """Read-only queries behind the archive pages and feeds."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- thread lists ----------------------------------------------------------------------------
    async def recent_threads(
        self, community_id: int, *, limit: int, before: Cursor | None = None, tag: str | None = None
    ) -> list[ThreadSummary]:
        """The community's threads with a visible post, most recently active first; under ``tag``
        when given; continuing after ``before``."""
        params: list[Any] = [community_id]
        where = ['t."community_id" = $1']
        join = ""
        if tag is not None:
            params.append(tag)
            join = (
                'JOIN "thread_tag" tt ON tt."thread_id" = t."id" '
                'JOIN "tag" g ON g."id" = tt."tag_id" AND g."community_id" = $1 '
                f'AND g."name" = ${len(params)}'
            )
        if before is not None:
            params += [self._at(before[0]), before[1]]
            at, ident = f"${len(params) - 1}", f"${len(params)}"
            where.append(
                f'(t."last_activity_at" < {at} OR (t."last_activity_at" = {at} AND t."id" < {ident}))'
            )
        params.append(limit)
        sql = (
            f'SELECT t."id", t."subject", t."created_at", t."last_activity_at" FROM "thread" t {join} '
            f'WHERE {" AND ".join(where)} AND EXISTS (SELECT 1 FROM "post" p '
            'WHERE p."thread_id" = t."id" AND p."state" = \'visible\') '
            f'ORDER BY t."last_activity_at" DESC, t."id" DESC LIMIT ${len(params)}'
        )
        rows = await self._fetch(sql, params)
        return await self._summaries(rows)

    async def new_threads(self, community_id: int, *, limit: int, tag: str | None = None) -> list[NewThread]:
        """The newest threads (by creation), with their first visible post, for feeds."""
        params: list[Any] = [community_id]
        join = ""
        if tag is not None:
            params.append(tag)
            join = (
                'JOIN "thread_tag" tt ON tt."thread_id" = t."id" '
                'JOIN "tag" g ON g."id" = tt."tag_id" AND g."community_id" = $1 AND g."name" = $2'
            )
        params.append(limit)
        sql = (
            f'SELECT t."id", t."subject", t."created_at" FROM "thread" t {join} '
            'WHERE t."community_id" = $1 AND EXISTS (SELECT 1 FROM "post" p '
            'WHERE p."thread_id" = t."id" AND p."state" = \'visible\') '
            f'ORDER BY t."id" DESC LIMIT ${len(params)}'
        )
        threads = await self._fetch(sql, params)
        ids = [int(r["id"]) for r in threads]
        firsts: dict[int, dict[str, Any]] = {}
        if ids:
            async with self._db.session() as conn:
                posts = (
                    await Post.filter(thread_id__in=ids, state=PostState.VISIBLE)
                    .using_db(conn)
                    .order_by("-created_at", "-id")
                    .values("thread_id", "author_name", "origin_channel", "body_text")
                )
            for post in posts:  # newest first, so the oldest of each thread is written last
                firsts[int(post["thread_id"])] = post
        return [
            NewThread(
                id=int(r["id"]),
                subject=str(r["subject"]),
                created_at=_time(r["created_at"]),
                author_name=str(firsts[int(r["id"])]["author_name"]),
                channel=Channel(firsts[int(r["id"])]["origin_channel"]),
                text=str(firsts[int(r["id"])]["body_text"]),
            )
            for r in threads
            if int(r["id"]) in firsts
        ]

    # -- one thread ------------------------------------------------------------------------------
    async def thread(self, community_id: int, thread_id: int) -> ThreadHead | None:
        """The thread, when it belongs to the community and has a visible post."""
        async with self._db.session() as conn:
            row = await Thread.filter(id=thread_id, community_id=community_id).using_db(conn).first()
            visible = (
                row is not None
                and await Post.filter(thread_id=thread_id, state=PostState.VISIBLE).using_db(conn).exists()
            )
        if row is None or not visible:
            return None
        tags = await self._thread_tags([thread_id])
        return ThreadHead(
            id=row.id,
            community_id=row.community_id,
            subject=row.subject,
            created_at=as_utc(row.created_at),
            last_activity_at=as_utc(row.last_activity_at),
            tags=tuple(tags.get(thread_id, ())),
        )

    async def thread_version(self, thread_id: int) -> tuple[str, ...]:
        """What changes whenever the thread page would: posts added, edited, deleted, reacted to."""
        rows = await self._fetch(
            'SELECT COUNT(*) AS "n", MAX("id") AS "last", MAX("edited_at") AS "edited", '
            'SUM("reaction_count") AS "reactions", '
            'SUM(CASE WHEN "state" = \'deleted\' THEN 1 ELSE 0 END) AS "deleted" FROM "post" '
            "WHERE \"thread_id\" = $1 AND \"state\" IN ('visible', 'deleted')",
            [thread_id],
        )
        return tuple(str(value) for value in rows[0].values())

    async def thread_posts(self, thread_id: int) -> list[ArchivePost]:
        """Visible posts and the tombstones of deleted ones, in the order they were written."""
        rows = await self._fetch(
            'SELECT "id", "parent_id", "author_name", "origin_channel", "state", "created_at", "edited_at", '
            '"body_text", "body_html", "full_text", "reaction_count" FROM "post" '
            'WHERE "thread_id" = $1 AND "state" IN (\'visible\', \'deleted\') ORDER BY "created_at", "id"',
            [thread_id],
        )
        visible = [int(r["id"]) for r in rows if r["state"] != PostState.DELETED]
        edited = [int(r["id"]) for r in rows if r["state"] != PostState.DELETED and r["edited_at"]]
        async with self._db.session() as conn:
            files = (
                await StoredAttachment.filter(post_id__in=visible)
                .using_db(conn)
                .order_by("position", "id")
                .values("post_id", "filename", "content_type", "size")
                if visible
                else []
            )
            revisions = (
                await PostRevision.filter(post_id__in=edited)
                .using_db(conn)
                .order_by("revision")
                .values("post_id", "revision", "created_at", "body_text", "body_html")
                if edited
                else []
            )
        by_post: dict[int, list[FileRef]] = {}
        for f in files:
            found = by_post.setdefault(int(f["post_id"]), [])
            found.append(FileRef(len(found), str(f["filename"]), str(f["content_type"]), int(f["size"])))
        earlier: dict[int, list[Revision]] = {}
        for r in revisions:
            earlier.setdefault(int(r["post_id"]), []).append(
                Revision(int(r["revision"]), as_utc(r["created_at"]), str(r["body_text"]), r["body_html"])
            )
        return [_archive_post(r, by_post, earlier) for r in rows]

    # -- tags and practices ----------------------------------------------------------------------
    async def tags(self, community_id: int) -> list[TagSummary]:
        """The community's tags with how many threads each files, most used first."""
        sql = (
            'SELECT g."name", g."label", g."description", COUNT(tt."id") AS "threads" FROM "tag" g '
            'LEFT JOIN "thread_tag" tt ON tt."tag_id" = g."id" WHERE g."community_id" = $1 '
            'GROUP BY g."id", g."name", g."label", g."description" ORDER BY COUNT(tt."id") DESC, g."name"'
        )
        rows = await self._fetch(sql, [community_id])
        return [
            TagSummary(str(r["name"]), str(r["label"]), str(r["description"]), int(r["threads"]))
            for r in rows
        ]

    async def tag(self, community_id: int, name: str) -> TagSummary | None:
        async with self._db.session() as conn:
            row = await Tag.filter(community_id=community_id, name=name).using_db(conn).first()
        if row is None:
            return None
        sql = 'SELECT COUNT(*) AS "n" FROM "thread_tag" WHERE "tag_id" = $1'
        count = (await self._fetch(sql, [row.id]))[0]["n"]
        return TagSummary(row.name, row.label, row.description, int(count))

    async def practices(self, community_id: int, *, tag: str | None = None) -> list[PracticeEntry]:
        """The catalogue: confirmed practices first, then proposed ones, each newest first."""
        async with self._db.session() as conn:
            query = Practice.filter(community_id=community_id)
            if tag is not None:
                tagged = await (
                    Tag.filter(community_id=community_id, name=tag)
                    .using_db(conn)
                    .values_list("id", flat=True)
                )
                thread_ids = await self._threads_under(cast("list[int]", tagged))
                query = query.filter(thread_id__in=thread_ids)
            rows = await query.using_db(conn).order_by("-created_at", "-id")
        tags = await self._thread_tags([r.thread_id for r in rows])
        entries = [
            PracticeEntry(
                id=r.id,
                thread_id=r.thread_id,
                title=r.title,
                summary=r.summary,
                state=PracticeState(r.state),
                created_at=as_utc(r.created_at),
                confirmed_at=as_utc(r.confirmed_at) if r.confirmed_at else None,
                tags=tuple(tags.get(r.thread_id, ())),
            )
            for r in rows
        ]
        return sorted(entries, key=lambda e: e.state is not PracticeState.CONFIRMED)

    # -- readers ---------------------------------------------------------------------------------
    async def reader(self, person_id: int) -> Reader | None:
        """The person behind a session, with the communities they may read."""
        async with self._db.session() as conn:
            person = await Person.filter(id=person_id).using_db(conn).first()
            if person is None:
                return None
            memberships = await Membership.filter(person_id=person_id).using_db(conn).all()
            emails = (
                await Identity.filter(person_id=person_id, kind=IdentityKind.EMAIL)
                .using_db(conn)
                .order_by("id")
                .values_list("address", flat=True)
            )
        readable = [m for m in memberships if m.state in READABLE_STATES]
        return Reader(
            person_id=person.id,
            name=person.display_name,
            time_zone=person.time_zone,
            emails=tuple(str(e) for e in emails),
            memberships={m.community_id: Role(m.role) for m in readable},
            time_zones={m.community_id: m.time_zone for m in readable if m.time_zone},
        )

    async def person_by_address(self, kind: IdentityKind, address: str) -> int | None:
        async with self._db.session() as conn:
            rows = await Identity.filter(kind=kind, address=address).using_db(conn).values_list("person_id")
        return int(rows[0][0]) if rows else None

    # -- helpers ---------------------------------------------------------------------------------
    async def _summaries(self, rows: Sequence[dict[str, Any]]) -> list[ThreadSummary]:
        ids = [int(r["id"]) for r in rows]
        if not ids:
            return []
        marks = ", ".join(f"${n}" for n in range(1, len(ids) + 1))
        sql = (
            'SELECT "thread_id", "author_name", "origin_channel", COUNT(*) AS "n", MIN("id") AS "first" '
            f'FROM "post" WHERE "thread_id" IN ({marks}) AND "state" = \'visible\' '
            'GROUP BY "thread_id", "author_name", "origin_channel" ORDER BY MIN("id")'
        )
        counts: dict[int, int] = {}
        people: dict[int, list[Participant]] = {}
        for r in await self._fetch(sql, ids):
            thread = int(r["thread_id"])
            counts[thread] = counts.get(thread, 0) + int(r["n"])
            people.setdefault(thread, []).append(
                Participant(str(r["author_name"]), Channel(r["origin_channel"]))
            )
        tags = await self._thread_tags(ids)
        return [
            ThreadSummary(
                id=int(r["id"]),
                subject=str(r["subject"]),
                created_at=_time(r["created_at"]),
                last_activity_at=_time(r["last_activity_at"]),
                posts=counts.get(int(r["id"]), 0),
                participants=tuple(people.get(int(r["id"]), ())),
                tags=tuple(tags.get(int(r["id"]), ())),
            )
            for r in rows
        ]

    async def _thread_tags(self, thread_ids: list[int]) -> dict[int, list[TagRef]]:
        if not thread_ids:
            return {}
        marks = ", ".join(f"${n}" for n in range(1, len(thread_ids) + 1))
        sql = (
            'SELECT tt."thread_id", g."name", g."label" FROM "thread_tag" tt '
            'JOIN "tag" g ON g."id" = tt."tag_id" '
            f'WHERE tt."thread_id" IN ({marks}) ORDER BY g."name"'
        )
        found: dict[int, list[TagRef]] = {}
        for r in await self._fetch(sql, thread_ids):
            found.setdefault(int(r["thread_id"]), []).append(TagRef(str(r["name"]), str(r["label"])))
        return found

    async def _threads_under(self, tag_ids: list[int]) -> list[int]:
        if not tag_ids:
            return []
        marks = ", ".join(f"${n}" for n in range(1, len(tag_ids) + 1))
        sql = f'SELECT "thread_id" FROM "thread_tag" WHERE "tag_id" IN ({marks})'
        rows = await self._fetch(sql, tag_ids)
        return [int(r["thread_id"]) for r in rows]

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        if self._db.dialect is Dialect.SQLITE:
            sql = _NUMBERED.sub(r"?\1", sql)
        return await self._db.fetch(sql, params)

    def _at(self, moment: datetime) -> Any:
        """A time as a query parameter: SQLite compares the text tortoise wrote, PostgreSQL a timestamptz."""
        moment = as_utc(moment)
        return str(moment) if self._db.dialect is Dialect.SQLITE else moment


_NUMBERED = re.compile(r"\$(\d+)")


def _time(value: Any) -> datetime:
    """A time read by a raw query: text on SQLite, a datetime on PostgreSQL; UTC either way."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _archive_post(
    row: dict[str, Any], files: dict[int, list[FileRef]], revisions: dict[int, list[Revision]]
) -> ArchivePost:
    post_id = int(row["id"])
    deleted = row["state"] == PostState.DELETED
    earlier = revisions.get(post_id, [])
    return ArchivePost(
        id=post_id,
        parent_id=row["parent_id"],
        author_name=str(row["author_name"]),
        channel=Channel(row["origin_channel"]),
        deleted=deleted,
        created_at=_time(row["created_at"]),
        edited_at=_time(row["edited_at"]) if row["edited_at"] else None,
        text="" if deleted else str(row["body_text"]),
        html=None if deleted else row["body_html"],
        full_text=None if deleted else row["full_text"],
        reactions=int(row["reaction_count"]),
        files=() if deleted else tuple(files.get(post_id, ())),
        # The latest revision is the post itself; what came before is offered on request.
        revisions=() if deleted else tuple(earlier[:-1]),
    )
