"""Tags on threads and posts, with who or what filed each one and when (DESIGN §9).

A post's tags record what its text said (``post_tag``); a thread's tags are what the archive files it
under (``thread_tag``). Filing is callable inside the transaction that stores the post, so a post and
its tags are committed together, live or imported. One thread tag keeps one source: a person's filing
(room command, mail line, command line) outranks what a text decided, so a tag the core team set
survives an edit that drops the hashtag, while a tag only hashtags set leaves the thread when the last
post carrying it no longer does. Writes never raise on a row another process wrote first: inserts skip
conflicts (an error inside a PostgreSQL transaction would abort the post's whole ingest).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Count

from bridge.core.model import PracticeState, TagSource
from bridge.core.tags.filing import AUTOMATIC_SOURCES
from bridge.core.tags.taxonomy import TagDefinition
from bridge.store import audit
from bridge.store.database import Database, Transaction
from bridge.store.models import PostTag, Practice, Tag, ThreadTag
from bridge.store.records import as_utc, utc_now


@dataclass(frozen=True, slots=True)
class NewTag:
    """A tag to file: its name, the label a new free tag gets (how it was first written), its source
    and who applied it (an address; None when automatic)."""

    name: str
    source: TagSource
    label: str = ""
    applied_by: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedTag:
    """A tag as filed on one thread or post."""

    name: str
    label: str
    source: TagSource
    applied_by: str | None
    applied_at: datetime | None


@dataclass(frozen=True, slots=True)
class TagUsage:
    """One tag of a community and how much it is used (``icop tags``)."""

    name: str
    label: str
    description: str
    threads: int
    practices: int  # confirmed practices among those threads


class Tags:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync_taxonomy(self, community_id: int, definitions: Sequence[TagDefinition]) -> int:
        """Labels and descriptions from the config; returns how many tags were created or changed.
        Tags dropped from the taxonomy stay: threads are filed under them."""
        changed = 0
        names = [d.tag for d in definitions]
        async with self._db.transaction() as tx:
            conn = tx.client
            known = {
                str(row[0])
                for row in await Tag.filter(community_id=community_id, name__in=names)
                .using_db(conn)
                .values_list("name")
            }
            await _ensure(community_id, {d.tag: d.label for d in definitions}, tx)
            rows = {
                t.name: t for t in await Tag.filter(community_id=community_id, name__in=names).using_db(conn)
            }
            for definition in definitions:
                row = rows[definition.tag]
                if (row.label, row.description) != (definition.label, definition.description):
                    await (
                        Tag.filter(id=row.id)
                        .using_db(conn)
                        .update(label=definition.label, description=definition.description)
                    )
                    changed += definition.tag in known
        changed += len(set(names) - known)
        return changed

    async def file_post(
        self,
        community_id: int,
        thread_id: int,
        post_id: int,
        tags: Sequence[NewTag],
        *,
        now: datetime,
        tx: Transaction | None = None,
    ) -> list[str]:
        """File a post's tags on it and on its thread; returns the names new on the thread."""
        return await self._file(community_id, thread_id, post_id, tags, now, tx)

    async def unfile_post(
        self, thread_id: int, post_id: int, names: Collection[str], *, tx: Transaction | None = None
    ) -> list[str]:
        """Take back what a post's text filed under ``names``; returns the names that left the thread
        (those only texts had filed, and no other post of the thread still files)."""
        if not names:
            return []
        async with self._db.transaction(tx) as inner:
            conn = inner.client
            tag_ids = dict(
                await ThreadTag.filter(thread_id=thread_id, tag__name__in=list(names))
                .using_db(conn)
                .values_list("tag_id", "source")
            )
            await (
                PostTag.filter(post_id=post_id, tag__name__in=list(names), source__in=list(AUTOMATIC_SOURCES))
                .using_db(conn)
                .delete()
            )
            still = {
                int(row[0])
                for row in await PostTag.filter(post__thread_id=thread_id, tag_id__in=list(tag_ids))
                .using_db(conn)
                .values_list("tag_id")
            }
            gone = [tag_id for tag_id, source in tag_ids.items() if source in AUTOMATIC_SOURCES]
            gone = [tag_id for tag_id in gone if tag_id not in still]
            if not gone:
                return []
            await ThreadTag.filter(thread_id=thread_id, tag_id__in=gone).using_db(conn).delete()
            left = await Tag.filter(id__in=gone).using_db(conn).order_by("name").values_list("name")
            return [str(row[0]) for row in left]

    async def tag_thread(
        self,
        community_id: int,
        thread_id: int,
        tags: Sequence[NewTag],
        *,
        now: datetime,
        tx: Transaction | None = None,
    ) -> list[str]:
        """A person files the thread under ``tags``; returns the names it was not filed under before."""
        return await self._file(community_id, thread_id, None, tags, now, tx)

    async def untag_thread(
        self,
        thread_id: int,
        names: Collection[str],
        *,
        by: str | None = None,
        now: datetime | None = None,
        tx: Transaction | None = None,
    ) -> list[str]:
        """A person (``by``) takes the thread out of ``names``, with the posts' filings under them (an
        edit of an old post must not file it back); returns the names it was filed under."""
        async with self._db.transaction(tx) as inner:
            conn = inner.client
            rows = (
                await ThreadTag.filter(thread_id=thread_id, tag__name__in=list(names))
                .using_db(conn)
                .values_list("tag_id", "tag__name", "tag__community_id")
            )
            tag_ids = [tag_id for tag_id, _, _ in rows]
            await ThreadTag.filter(thread_id=thread_id, tag_id__in=tag_ids).using_db(conn).delete()
            await PostTag.filter(post__thread_id=thread_id, tag_id__in=tag_ids).using_db(conn).delete()
            removed = sorted(name for _, name, _ in rows)
            if rows:
                await audit.record(
                    inner,
                    int(rows[0][2]),
                    by,
                    "tag.remove",
                    f"thread {thread_id}",
                    ", ".join(f"#{n}" for n in removed),
                    now=now or utc_now(),
                )
        return removed

    async def _file(
        self,
        community_id: int,
        thread_id: int,
        post_id: int | None,
        tags: Sequence[NewTag],
        now: datetime,
        tx: Transaction | None,
    ) -> list[str]:
        if not tags:
            return []
        now = as_utc(now)
        async with self._db.transaction(tx) as inner:
            ids = await _ensure(community_id, {t.name: t.label or t.name for t in tags}, inner)
            if post_id is not None:
                await _insert(PostTag, ids, tags, now, inner, post_id=post_id)
            added = await _file_thread(thread_id, ids, tags, now, inner)
            if added:
                sources = {t.name: t for t in tags}
                detail = ", ".join(f"#{n} ({sources[n].source.value})" for n in added if n in sources)
                actor = next((t.applied_by for t in tags if t.applied_by), None)
                await audit.record(
                    inner, community_id, actor, "tag.add", f"thread {thread_id}", detail, now=now
                )
            return added

    async def of_thread(self, thread_id: int) -> list[AppliedTag]:
        """The thread's tags, in the order they were filed."""
        async with self._db.session() as conn:
            rows = (
                await ThreadTag.filter(thread_id=thread_id)
                .using_db(conn)
                .order_by("id")
                .values_list("tag__name", "tag__label", "source", "applied_by", "applied_at")
            )
        return [_applied(*row) for row in rows]

    async def of_threads(self, thread_ids: Iterable[int]) -> dict[int, list[AppliedTag]]:
        """The tags of many threads at once (listings, the catalogue), by thread id."""
        found: dict[int, list[AppliedTag]] = {}
        async with self._db.session() as conn:
            rows = (
                await ThreadTag.filter(thread_id__in=list(thread_ids))
                .using_db(conn)
                .order_by("id")
                .values_list("thread_id", "tag__name", "tag__label", "source", "applied_by", "applied_at")
            )
        for thread_id, *rest in rows:
            found.setdefault(int(thread_id), []).append(_applied(*rest))
        return found

    async def of_post(self, post_id: int) -> list[AppliedTag]:
        async with self._db.session() as conn:
            rows = (
                await PostTag.filter(post_id=post_id)
                .using_db(conn)
                .order_by("id")
                .values_list("tag__name", "tag__label", "source", "applied_by", "applied_at")
            )
        return [_applied(*row) for row in rows]

    async def usage(self, community_id: int) -> list[TagUsage]:
        """Every tag of the community with its thread and practice counts, most used first."""
        async with self._db.session() as conn:
            tags = await Tag.filter(community_id=community_id).using_db(conn).all()
            threads = dict(
                await ThreadTag.filter(tag__community_id=community_id)
                .annotate(n=Count("id"))
                .group_by("tag_id")
                .using_db(conn)
                .values_list("tag_id", "n")
            )
            practice_threads = (
                await Practice.filter(community_id=community_id, state=PracticeState.CONFIRMED)
                .using_db(conn)
                .values_list("thread_id", flat=True)
            )
            practices = dict(
                await ThreadTag.filter(thread_id__in=list(practice_threads))
                .annotate(n=Count("id"))
                .group_by("tag_id")
                .using_db(conn)
                .values_list("tag_id", "n")
            )
        usage = [
            TagUsage(t.name, t.label, t.description, int(threads.get(t.id, 0)), int(practices.get(t.id, 0)))
            for t in tags
        ]
        return sorted(usage, key=lambda u: (-u.threads, u.name))


async def _ensure(community_id: int, labels: dict[str, str], tx: Transaction) -> dict[str, int]:
    """The ids of these tag names, creating the missing ones with their labels."""
    conn = tx.client
    await Tag.bulk_create(
        [Tag(community_id=community_id, name=name, label=label[:200]) for name, label in labels.items()],
        ignore_conflicts=True,
        using_db=conn,
    )
    rows = (
        await Tag.filter(community_id=community_id, name__in=list(labels))
        .using_db(conn)
        .values_list("name", "id")
    )
    return {str(name): int(tag_id) for name, tag_id in rows}


async def _file_thread(
    thread_id: int, ids: dict[str, int], tags: Sequence[NewTag], now: datetime, tx: Transaction
) -> list[str]:
    conn = tx.client
    before = {
        int(row[0])
        for row in await ThreadTag.filter(thread_id=thread_id, tag_id__in=list(ids.values()))
        .using_db(conn)
        .values_list("tag_id")
    }
    await _insert(ThreadTag, ids, tags, now, tx, thread_id=thread_id)
    for tag in tags:
        if tag.source not in AUTOMATIC_SOURCES and ids[tag.name] in before:
            # A person files what a text had filed: the person's filing is what the thread keeps.
            await (
                ThreadTag.filter(
                    thread_id=thread_id, tag_id=ids[tag.name], source__in=list(AUTOMATIC_SOURCES)
                )
                .using_db(conn)
                .update(source=tag.source, applied_by=tag.applied_by, applied_at=now)
            )
    return list(dict.fromkeys(t.name for t in tags if ids[t.name] not in before))


async def _insert(
    model: type[PostTag] | type[ThreadTag],
    ids: dict[str, int],
    tags: Sequence[NewTag],
    now: datetime,
    tx: Transaction,
    **owner: int,
) -> None:
    """Rows filing ``owner`` (a post or a thread) under ``tags``; rows that exist are left as they are."""
    rows = [
        model(tag_id=ids[t.name], source=t.source, applied_by=t.applied_by, applied_at=now, **owner)
        for t in tags
    ]
    await model.bulk_create(rows, ignore_conflicts=True, using_db=tx.client)  # type: ignore[arg-type]


def _applied(
    name: str, label: str, source: str, applied_by: str | None, applied_at: datetime | None
) -> AppliedTag:
    return AppliedTag(
        name=name,
        label=label,
        source=TagSource(source),
        applied_by=applied_by,
        applied_at=as_utc(applied_at) if applied_at is not None else None,
    )
