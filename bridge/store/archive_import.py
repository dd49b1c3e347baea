"""Many posts at once: the store side of importing an archive (an mbox, a room's history).

Live ingest (``Posts.ingest``) costs a dozen round trips per post, which is right for one mail at a
time and far too slow for a million. Here a whole batch is one transaction: the ids it needs are
reserved in one query, every table is written with one multi-row statement, and the lookups threading
needs are one query per kind. The rows written are exactly the rows ``Posts.ingest`` writes (the same
columns, the same values for the same message; a test compares them), so an imported post is a post
like any other. Nothing here creates outbox rows: an archive is history and is never sent.

A batch holds the database's write lock from its first statement (SQLite: an immediate transaction;
PostgreSQL: row locks as it goes), so a daemon storing live mail beside an import waits a fraction of a
second and never sees half a batch, and a message the daemon stored first is found as already stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
from tortoise import fields as tortoise_fields
from tortoise.exceptions import IntegrityError, OperationalError

from bridge.core.archive_threads import ThreadSpan
from bridge.core.model import InboundMessage, PostState
from bridge.store.database import Database, Dialect, Transaction
from bridge.store.fit import (
    fit_content_type,
    fit_filename,
    fit_key,
    fit_optional_key,
    fit_optional_text,
    fit_text,
)
from bridge.store.models import (
    ADDRESS_LENGTH,
    EVENT_ID_LENGTH,
    FILENAME_LENGTH,
    HEADER_VALUE_LENGTH,
    NAME_LENGTH,
    URL_LENGTH,
    Thread,
)
from bridge.store.records import PostRef, RawMessage, as_utc

LOOKUP_CHUNK = 500  # ids per IN (...) list: far below SQLite's and asyncpg's parameter limits


@dataclass(frozen=True, slots=True)
class NewThreadRow:
    id: int
    subject: str
    normalised_subject: str
    created_at: datetime
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class NewPostRow:
    """One post to write: the message as the adapters built it, and where it goes."""

    id: int
    thread_id: int
    message: InboundMessage
    parent_id: int | None
    author_id: int | None
    author_name: str
    state: PostState
    created_at: datetime
    raw: RawMessage | None


@dataclass(frozen=True, slots=True)
class KnownPosts:
    """Stored posts found by origin key, email Message-ID or Matrix event id."""

    by_origin: dict[str, PostRef]
    by_message_id: dict[str, PostRef]
    by_event_id: dict[str, PostRef]

    def find(self, message: InboundMessage) -> PostRef | None:
        """The stored post of ``message`` by the same keys as ``Posts.ingest``'s duplicate check."""
        return (
            self.by_origin.get(message.origin_key)
            or (self.by_message_id.get(message.email_message_id) if message.email_message_id else None)
            or (self.by_event_id.get(message.matrix_event_id) if message.matrix_event_id else None)
        )


def _limits(model: Any, names: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for name in names:
        field = model._meta.fields_map[name]
        if isinstance(field, tortoise_fields.CharField):
            found[name] = int(field.max_length)
    return found


_THREAD_SUBJECT_LIMIT = _limits(Thread, ("subject",))["subject"]


def fitted(message: InboundMessage) -> InboundMessage:
    """``message`` with every bounded value fitted as the relay fits it (``bridge.store.fit``), so an
    archive's 64 KB Subject or 3 KB Message-ID is imported, shortened or keyed by its digest, exactly as
    the same mail arriving live would be stored, and found again by the same keys."""
    return replace(
        message,
        sender_name=fit_text(message.sender_name, NAME_LENGTH),
        sender_address=fit_key(message.sender_address, ADDRESS_LENGTH),
        origin_key=fit_key(message.origin_key, HEADER_VALUE_LENGTH),
        matrix_event_id=fit_optional_key(message.matrix_event_id, EVENT_ID_LENGTH),
        email_message_id=fit_optional_key(message.email_message_id, HEADER_VALUE_LENGTH),
        subject=fit_optional_text(message.subject, HEADER_VALUE_LENGTH),
        attachments=tuple(
            replace(
                a,
                filename=fit_filename(a.filename, FILENAME_LENGTH),
                content_type=fit_content_type(a.content_type, FILENAME_LENGTH),
                url=fit_optional_text(a.url, URL_LENGTH),
            )
            for a in message.attachments
        ),
    )


def thread_subject_fits(subject: str) -> str:
    """A new thread's subject within its column (a post's own subject is fitted by ``fitted``)."""
    return subject[:_THREAD_SUBJECT_LIMIT]


class ArchiveStore:
    """Batch reads and writes for importing archives into one database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sqlite = db.dialect is Dialect.SQLITE

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[Transaction]:
        """One transaction for a batch; on SQLite it holds the write lock from its start (``Database``),
        so what it reads stays true until it commits and the ids it reserves are its own."""
        async with self._db.transaction() as tx:
            if not self._sqlite:
                # Lookups by an array of keys run once per batch with the same text; PostgreSQL would
                # soon switch to a generic plan that cannot see the array is short and scans the table.
                await self._db.execute("SET LOCAL plan_cache_mode = force_custom_plan", tx=tx)
            yield tx

    async def known_posts(
        self,
        community_id: int,
        *,
        origin_keys: Iterable[str] = (),
        message_ids: Iterable[str] = (),
        event_ids: Iterable[str] = (),
        tx: Transaction,
    ) -> KnownPosts:
        return KnownPosts(
            by_origin=await self._refs(community_id, "origin_key", origin_keys, tx),
            by_message_id=await self._refs(community_id, "email_message_id", message_ids, tx),
            by_event_id=await self._refs(community_id, "matrix_event_id", event_ids, tx),
        )

    async def threads_by_subject(
        self, community_id: int, normalised_subjects: Iterable[str], tx: Transaction
    ) -> dict[str, list[ThreadSpan]]:
        found: dict[str, list[ThreadSpan]] = {}
        select = (
            'SELECT "id", "normalised_subject", "created_at", "last_activity_at" FROM "thread" '
            f'WHERE "community_id" = {self._p(1)} AND '
        )
        for row in await self._lookup(
            select, "normalised_subject", "varchar", community_id, normalised_subjects, tx
        ):
            found.setdefault(str(row["normalised_subject"]), []).append(
                ThreadSpan(int(row["id"]), _moment(row["created_at"]), _moment(row["last_activity_at"]))
            )
        return found

    async def authors(self, community_id: int) -> dict[tuple[str, str], tuple[int, str]]:
        """``(kind, address) → (person id, display name)`` of the community's members, every identity
        of theirs: the author ``Ingestor`` would find for a post, for all posts at once."""
        rows = await self._db.fetch(
            'SELECT i."kind", i."address", p."id", p."display_name" FROM "identity" i '
            'JOIN "person" p ON p."id" = i."person_id" '
            f'JOIN "membership" m ON m."person_id" = p."id" AND m."community_id" = {self._p(1)}',
            [community_id],
        )
        return {(str(r["kind"]), str(r["address"])): (int(r["id"]), str(r["display_name"])) for r in rows}

    async def banned(self, community_id: int) -> frozenset[str]:
        rows = await self._db.fetch(
            f'SELECT "address" FROM "sender_ban" WHERE "community_id" = {self._p(1)}', [community_id]
        )
        return frozenset(str(r["address"]) for r in rows)

    async def posts_by_id(
        self, community_id: int, post_ids: Iterable[int], tx: Transaction
    ) -> dict[int, PostRef]:
        """Those of ``post_ids`` that are posts of the community (ids our own Message-IDs name)."""
        select = f'SELECT "id", "thread_id" FROM "post" WHERE "community_id" = {self._p(1)} AND '
        rows = await self._lookup(select, "id", "int", community_id, post_ids, tx)
        return {int(r["id"]): PostRef(int(r["id"]), int(r["thread_id"])) for r in rows}

    async def reserve_ids(self, table: str, count: int, tx: Transaction) -> list[int]:
        """``count`` fresh ids of ``table`` ("thread" or "post"), never used before and never reused."""
        if count <= 0:
            return []
        if not self._sqlite:
            rows = await self._db.fetch(
                f"SELECT nextval(pg_get_serial_sequence('\"{table}\"', 'id')) AS id "
                "FROM generate_series(1, $1)",
                [count],
                tx=tx,
            )
            return sorted(int(row["id"]) for row in rows)
        # The write lock is held (``batch``), so nobody else takes ids until the commit.
        rows = await self._db.fetch(
            f'SELECT MAX(COALESCE((SELECT MAX("id") FROM "{table}"), 0), '
            f"COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0)) AS top",
            tx=tx,
        )
        top = int(rows[0]["top"])
        return list(range(top + 1, top + 1 + count))

    async def insert(
        self,
        community_id: int,
        threads: Sequence[NewThreadRow],
        posts: Sequence[NewPostRow],
        *,
        now: datetime,
        tx: Transaction,
    ) -> None:
        """Write new threads and posts with their raw sources and attachments: one statement per table."""
        now = as_utc(now)
        await self._many(
            "thread",
            (
                "id",
                "community_id",
                "subject",
                "normalised_subject",
                "token",
                "created_at",
                "last_activity_at",
            ),
            [
                (
                    t.id,
                    community_id,
                    t.subject,
                    t.normalised_subject,
                    secrets.token_urlsafe(12),
                    as_utc(t.created_at),
                    as_utc(t.last_activity_at),
                )
                for t in threads
            ],
            tx,
        )
        await self._many("post", _POST_COLUMNS, [_post_values(community_id, p, now) for p in posts], tx)
        await self._many(
            "raw_source",
            ("post_id", "channel", "content_type", "data", "received_at"),
            [
                (p.id, p.message.channel.value, p.raw.content_type, p.raw.data, now)
                for p in posts
                if p.raw is not None
            ],
            tx,
        )
        await self._many(
            "attachment",
            ("post_id", "position", "filename", "content_type", "size", "sha256", "data", "url"),
            [
                (p.id, position, a.filename, a.content_type, a.size, _sha256(a.data), a.data, a.url)
                for p in posts
                for position, a in enumerate(p.message.attachments)
            ],
            tx,
        )

    async def touch_threads(self, activity: dict[int, datetime], tx: Transaction) -> None:
        """Move each thread's last activity forward to the given moment (never backward)."""
        rows = [(as_utc(moment), thread_id, as_utc(moment)) for thread_id, moment in activity.items()]
        if rows:
            await self._execute_many(
                f'UPDATE "thread" SET "last_activity_at" = {self._p(1)} '
                f'WHERE "id" = {self._p(2)} AND "last_activity_at" < {self._p(3)}',
                rows,
                tx,
            )

    async def set_parents(self, parents: dict[int, int], tx: Transaction) -> None:
        """Posts whose parent arrived after them get it now (``post id → parent post id``)."""
        rows = [(parent, post) for post, parent in parents.items()]
        if rows:
            await self._execute_many(
                f'UPDATE "post" SET "parent_id" = {self._p(1)} '
                f'WHERE "id" = {self._p(2)} AND "parent_id" IS NULL',
                rows,
                tx,
            )

    # -- helpers --------------------------------------------------------------------------------
    async def _refs(
        self, community_id: int, column: str, keys: Iterable[str], tx: Transaction
    ) -> dict[str, PostRef]:
        select = (
            f'SELECT "{column}" AS k, "id", "thread_id" FROM "post" WHERE "community_id" = {self._p(1)} AND '
        )
        rows = await self._lookup(select, column, "varchar", community_id, keys, tx)
        return {str(row["k"]): PostRef(int(row["id"]), int(row["thread_id"])) for row in rows}

    async def _lookup(
        self, select: str, column: str, kind: str, community_id: int, values: Iterable[Any], tx: Transaction
    ) -> list[dict[str, Any]]:
        """Rows of ``select`` (ending in ``AND``) whose ``column`` is one of ``values``.

        PostgreSQL gets one array parameter, so one prepared statement serves every batch; SQLite gets
        ``IN`` lists of bounded length.
        """
        wanted = sorted(set(values))
        if not wanted:
            return []
        if not self._sqlite:
            return await self._db.fetch(
                f'{select}"{column}" = ANY($2::{kind}[])', [community_id, wanted], tx=tx
            )
        rows: list[dict[str, Any]] = []
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            rows += await self._db.fetch(
                f'{select}"{column}" IN ({self._ps(2, len(chunk))})', [community_id, *chunk], tx=tx
            )
        return rows

    async def _many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tx: Transaction
    ) -> None:
        if not rows:
            return
        if not self._sqlite:
            # COPY: PostgreSQL's bulk path. It runs on the driver's connection, so its errors are given
            # the store's exception types here, as tortoise gives them to every other statement.
            try:
                async with self._db.session(tx) as client, client.acquire_connection() as connection:
                    await connection.copy_records_to_table(table, records=rows, columns=list(columns))
            except asyncpg.IntegrityConstraintViolationError as error:
                raise IntegrityError(error) from error
            except asyncpg.PostgresError as error:
                raise OperationalError(error) from error
            return
        names = ", ".join(f'"{c}"' for c in columns)
        await self._execute_many(
            f'INSERT INTO "{table}" ({names}) VALUES ({self._ps(1, len(columns))})',
            rows,
            tx,
        )

    async def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]], tx: Transaction) -> None:
        async with self._db.session(tx) as client:
            await client.execute_many(sql, [list(row) for row in rows])

    def _p(self, number: int) -> str:
        return "?" if self._sqlite else f"${number}"

    def _ps(self, first: int, count: int) -> str:
        return ", ".join(self._p(first + i) for i in range(count))


_POST_COLUMNS = (
    "id",
    "community_id",
    "thread_id",
    "parent_id",
    "author_id",
    "author_name",
    "author_address",
    "origin_channel",
    "origin_key",
    "matrix_event_id",
    "email_message_id",
    "subject",
    "body_text",
    "body_html",
    "full_text",
    "state",
    "created_at",
    "received_at",
    "edited_at",
    "reaction_count",
)


def _post_values(community_id: int, row: NewPostRow, now: datetime) -> tuple[Any, ...]:
    message = row.message
    return (
        row.id,
        community_id,
        row.thread_id,
        row.parent_id,
        row.author_id,
        row.author_name,
        message.sender_address,
        message.channel.value,
        message.origin_key,
        message.matrix_event_id,
        message.email_message_id,
        message.subject,
        message.text,
        message.html,
        message.full_text,
        row.state.value,
        as_utc(row.created_at),
        now,
        None,
        0,
    )


def _sha256(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def _moment(value: object) -> datetime:
    """A timestamp column as read by a raw query: a datetime on PostgreSQL, ISO text on SQLite."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return as_utc(moment)
