"""Posts and threads: idempotent ingest, the lookups thread resolution needs, edits and deletions.

Ingest stores a post and every outbox row it causes in one transaction (DESIGN §3), keyed by the
message's origin key: a second arrival of the same message writes nothing and says so. The caller's
transaction may be joined (``tx=``) so an ingest cursor moves in the same commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from bridge.core.model import Attachment, Channel, DeliverySpec, InboundMessage, PostState
from bridge.store.database import Database, Dialect, Transaction
from bridge.store.fit import (
    clean,
    clean_optional,
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
    Post,
    PostRevision,
    RawSource,
    StoredAttachment,
    Thread,
)
from bridge.store.outbox import cancel_pending, create_deliveries
from bridge.store.records import (
    IngestResult,
    NewThread,
    PostRecord,
    PostRef,
    RawMessage,
    ThreadRecord,
    as_utc,
    utc_now,
)


class Posts:
    """Posts, their threads, revisions, raw sources and attachments."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ingest(
        self,
        message: InboundMessage,
        *,
        community_id: int,
        thread: int | NewThread,
        author_id: int | None,
        deliveries: Sequence[DeliverySpec] = (),
        parent_id: int | None = None,
        state: PostState = PostState.VISIBLE,
        raw: RawMessage | None = None,
        now: datetime | None = None,
        tx: Transaction | None = None,
    ) -> IngestResult:
        """Store ``message`` and its deliveries, or nothing when it is already stored."""
        now = as_utc(now) if now is not None else utc_now()
        existing = await self._existing(community_id, message, tx)
        if existing is not None:
            return IngestResult(existing.post_id, existing.thread_id, duplicate=True)
        try:
            async with self._db.transaction(tx) as inner:
                thread_id = await _thread_for(community_id, thread, now, inner)
                post = await Post.create(
                    community_id=community_id,
                    thread_id=thread_id,
                    parent_id=parent_id,
                    author_id=author_id,
                    author_name=fit_text(message.sender_name, NAME_LENGTH),
                    author_address=fit_key(message.sender_address, ADDRESS_LENGTH),
                    origin_channel=message.channel,
                    origin_key=fit_key(message.origin_key, HEADER_VALUE_LENGTH),
                    matrix_event_id=fit_optional_key(message.matrix_event_id, EVENT_ID_LENGTH),
                    email_message_id=fit_optional_key(message.email_message_id, HEADER_VALUE_LENGTH),
                    subject=fit_optional_text(message.subject, HEADER_VALUE_LENGTH),
                    body_text=clean(message.text),
                    body_html=clean_optional(message.html),
                    full_text=clean_optional(message.full_text),
                    state=state,
                    created_at=as_utc(message.sent_at) if message.sent_at else now,
                    using_db=inner.client,
                )
                if raw is not None:
                    await RawSource.create(
                        post_id=post.id,
                        channel=message.channel,
                        content_type=raw.content_type,
                        data=raw.data,
                        using_db=inner.client,
                    )
                await _store_attachments(post.id, message.attachments, inner)
                await create_deliveries(post.id, deliveries, revision=0, now=now, tx=inner)
        except IntegrityError:
            # Lost a race with a concurrent ingest of the same message: theirs stands.
            existing = await self._existing(community_id, message, tx)
            if existing is None:
                raise
            return IngestResult(existing.post_id, existing.thread_id, duplicate=True)
        return IngestResult(post.id, thread_id, duplicate=False)

    async def get(self, post_id: int) -> PostRecord | None:
        async with self._db.session() as conn:
            post = await Post.filter(id=post_id).using_db(conn).first()
        return _post(post) if post is not None else None

    async def get_many(self, post_ids: Iterable[int]) -> dict[int, PostRecord]:
        """The posts of these ids that exist, by id: one query for a round of deliveries."""
        async with self._db.session() as conn:
            posts = await Post.filter(id__in=list(post_ids)).using_db(conn)
        return {p.id: _post(p) for p in posts}

    async def origin_channels(self, post_ids: Iterable[int]) -> dict[int, Channel]:
        """The channel each post arrived on (what a relay-latency metric is labelled with)."""
        async with self._db.session() as conn:
            rows = await Post.filter(id__in=list(post_ids)).using_db(conn).values_list("id", "origin_channel")
        return {int(post_id): Channel(channel) for post_id, channel in rows}

    async def thread_root(self, thread_id: int) -> PostRecord | None:
        """The thread's first post (what ``thread_posts`` would list first), read alone."""
        async with self._db.session() as conn:
            post = await Post.filter(thread_id=thread_id).using_db(conn).order_by("created_at", "id").first()
        return _post(post) if post is not None else None

    async def thread_ids(self, post_ids: Iterable[int]) -> dict[int, int]:
        """The thread of each of these posts (what keeps a thread's deliveries in order)."""
        async with self._db.session() as conn:
            rows = await Post.filter(id__in=list(post_ids)).using_db(conn).values_list("id", "thread_id")
        return {int(post_id): int(thread_id) for post_id, thread_id in rows}

    async def thread_posts(self, thread_id: int) -> list[PostRecord]:
        async with self._db.session() as conn:
            posts = await Post.filter(thread_id=thread_id).using_db(conn).order_by("created_at", "id")
        return [_post(p) for p in posts]

    async def attachments(self, post_id: int) -> list[Attachment]:
        async with self._db.session() as conn:
            rows = await StoredAttachment.filter(post_id=post_id).using_db(conn).order_by("position", "id")
        return [Attachment(r.filename, r.content_type, r.size, r.data, r.url) for r in rows]

    async def by_message_ids(self, community_id: int, message_ids: Iterable[str]) -> dict[str, PostRef]:
        """The known posts among these email Message-IDs (ours or received), keyed by Message-ID."""
        wanted = _stored_forms(message_ids, HEADER_VALUE_LENGTH)
        async with self._db.session() as conn:
            rows = await (
                Post.filter(community_id=community_id, email_message_id__in=list(wanted))
                .using_db(conn)
                .values_list("email_message_id", "id", "thread_id")
            )
        return {wanted[str(key)]: PostRef(int(post), int(thread)) for key, post, thread in rows}

    async def by_event_ids(self, community_id: int, event_ids: Iterable[str]) -> dict[str, PostRef]:
        """The known posts among these Matrix event ids, keyed by event id."""
        wanted = _stored_forms(event_ids, EVENT_ID_LENGTH)
        async with self._db.session() as conn:
            rows = await (
                Post.filter(community_id=community_id, matrix_event_id__in=list(wanted))
                .using_db(conn)
                .values_list("matrix_event_id", "id", "thread_id")
            )
        return {wanted[str(key)]: PostRef(int(post), int(thread)) for key, post, thread in rows}

    async def recent_threads_by_subject(
        self, community_id: int, normalised_subject: str, since: datetime
    ) -> list[ThreadRecord]:
        """Threads with this subject active since ``since``, most recently active first."""
        async with self._db.session() as conn:
            rows = (
                await Thread.filter(
                    community_id=community_id,
                    normalised_subject=fit_key(normalised_subject, HEADER_VALUE_LENGTH),
                    last_activity_at__gte=as_utc(since),
                )
                .using_db(conn)
                .order_by("-last_activity_at", "-id")
            )
        return [_thread(t) for t in rows]

    async def thread(self, thread_id: int, *, tx: Transaction | None = None) -> ThreadRecord | None:
        async with self._db.session(tx) as conn:
            row = await Thread.filter(id=thread_id).using_db(conn).first()
        return _thread(row) if row is not None else None

    async def thread_by_token(self, token: str) -> ThreadRecord | None:
        async with self._db.session() as conn:
            row = await Thread.filter(token=token).using_db(conn).first()
        return _thread(row) if row is not None else None

    async def record_remote_id(
        self, post_id: int, channel: Channel, remote_id: str, *, tx: Transaction | None = None
    ) -> bool:
        """Remember the post's id on ``channel`` once delivered there; the first one recorded stays."""
        column = "matrix_event_id" if channel is Channel.MATRIX else "email_message_id"
        async with self._db.session(tx) as conn:
            count = (
                await Post.filter(id=post_id, **{f"{column}__isnull": True})
                .using_db(conn)
                .update(**{column: remote_id})
            )
        return count > 0

    async def edit(
        self,
        post_id: int,
        *,
        text: str,
        html: str | None = None,
        subject: str | None = None,
        origin_key: str | None = None,
        deliveries: Sequence[DeliverySpec] = (),
        now: datetime | None = None,
        tx: Transaction | None = None,
    ) -> int | None:
        """Keep a new version of the post; returns its revision, or None when this edit is known."""
        now = as_utc(now) if now is not None else utc_now()
        async with self._db.transaction(tx) as inner:
            conn = inner.client
            origin_key = fit_optional_key(origin_key, HEADER_VALUE_LENGTH)
            if (
                origin_key is not None
                and await PostRevision.filter(post_id=post_id, origin_key=origin_key).using_db(conn).exists()
            ):
                return None
            post = await Post.filter(id=post_id).using_db(conn).get()
            latest = await PostRevision.filter(post_id=post_id).using_db(conn).count()
            if latest == 0:  # the original becomes revision 1 on the first edit
                await PostRevision.create(
                    post_id=post_id,
                    revision=1,
                    origin_key=post.origin_key,
                    subject=post.subject,
                    body_text=post.body_text,
                    body_html=post.body_html,
                    created_at=post.created_at,
                    using_db=conn,
                )
                latest = 1
            revision = latest + 1
            text, html = clean(text), clean_optional(html)
            new_subject = fit_text(subject, HEADER_VALUE_LENGTH) if subject is not None else post.subject
            await PostRevision.create(
                post_id=post_id,
                revision=revision,
                origin_key=origin_key,
                subject=new_subject,
                body_text=text,
                body_html=html,
                created_at=now,
                using_db=conn,
            )
            await (
                Post.filter(id=post_id)
                .using_db(conn)
                .update(body_text=text, body_html=html, subject=new_subject, edited_at=now)
            )
            await create_deliveries(post_id, deliveries, revision=revision, now=now, tx=inner)
        return revision

    async def delete(
        self,
        post_id: int,
        *,
        deliveries: Sequence[DeliverySpec] = (),
        now: datetime | None = None,
        tx: Transaction | None = None,
    ) -> bool:
        """Mark the post deleted, cancel what was not sent yet, queue redactions; False if already so."""
        now = as_utc(now) if now is not None else utc_now()
        async with self._db.transaction(tx) as inner:
            count = (
                await Post.filter(id=post_id)
                .exclude(state=PostState.DELETED)
                .using_db(inner.client)
                .update(state=PostState.DELETED, edited_at=now)
            )
            if count == 0:
                return False
            await cancel_pending(post_id, tx=inner)
            await create_deliveries(post_id, deliveries, revision=0, now=now, tx=inner)
        return True

    async def recent_by_author(
        self, community_id: int, author_id: int, since: datetime
    ) -> dict[PostState, int]:
        """How many posts a person wrote in the community since ``since``, per state (a rate limit)."""
        async with self._db.session() as conn:
            rows = (
                await Post.filter(
                    community_id=community_id, author_id=author_id, created_at__gte=as_utc(since)
                )
                .annotate(n=Count("id"))
                .group_by("state")
                .using_db(conn)
                .values_list("state", "n")
            )
        return {PostState(state): int(n) for state, n in rows}

    async def set_state(self, post_id: int, state: PostState) -> bool:
        """A convener's decision on a held post (visible or rejected)."""
        async with self._db.session() as conn:
            count = await Post.filter(id=post_id).using_db(conn).update(state=state)
        return count > 0

    async def _existing(
        self, community_id: int, message: InboundMessage, tx: Transaction | None
    ) -> PostRef | None:
        """The stored post for this message: by origin key, else by its id on either channel; one
        query over the keys as stored (``fit_key``), in that order of preference."""
        params = [
            community_id,
            fit_key(message.origin_key, HEADER_VALUE_LENGTH),
            fit_optional_key(message.email_message_id or None, HEADER_VALUE_LENGTH),
            fit_optional_key(message.matrix_event_id or None, EVENT_ID_LENGTH),
        ]
        sql = _EXISTING.replace("$", "?") if self._db.dialect is Dialect.SQLITE else _EXISTING
        rows = await self._db.fetch(sql, params, tx=tx)
        return PostRef(int(rows[0]["id"]), int(rows[0]["thread_id"])) if rows else None


_EXISTING = """
SELECT "id", "thread_id" FROM "post"
WHERE "community_id" = $1 AND ("origin_key" = $2 OR "email_message_id" = $3 OR "matrix_event_id" = $4)
ORDER BY CASE WHEN "origin_key" = $2 THEN 0 WHEN "email_message_id" = $3 THEN 1 ELSE 2 END, "id"
LIMIT 1
"""


async def _thread_for(community_id: int, thread: int | NewThread, now: datetime, tx: Transaction) -> int:
    if isinstance(thread, NewThread):
        created = await Thread.create(
            community_id=community_id,
            subject=fit_text(thread.subject, HEADER_VALUE_LENGTH),
            normalised_subject=fit_key(thread.normalised_subject, HEADER_VALUE_LENGTH),
            token=secrets.token_urlsafe(12),
            created_at=now,
            last_activity_at=now,
            using_db=tx.client,
        )
        return created.id
    await (
        Thread.filter(id=thread, community_id=community_id, last_activity_at__lt=now)
        .using_db(tx.client)
        .update(last_activity_at=now)
    )
    return thread


async def _store_attachments(post_id: int, attachments: Sequence[Attachment], tx: Transaction) -> None:
    rows = [
        StoredAttachment(
            post_id=post_id,
            position=position,
            filename=fit_filename(a.filename, FILENAME_LENGTH),
            content_type=fit_content_type(a.content_type, FILENAME_LENGTH),
            size=a.size,
            sha256=hashlib.sha256(a.data).hexdigest() if a.data is not None else None,
            data=a.data,
            url=fit_optional_text(a.url, URL_LENGTH),
        )
        for position, a in enumerate(attachments)
    ]
    if rows:
        await StoredAttachment.bulk_create(rows, using_db=tx.client)


def _stored_forms(keys: Iterable[str], limit: int) -> dict[str, str]:
    """Each key's stored form (``fit_key``) → the key as asked for, so answers use the caller's keys."""
    return {fit_key(key, limit): key for key in keys}


def _thread(row: Thread) -> ThreadRecord:
    return ThreadRecord(
        id=row.id,
        community_id=row.community_id,
        subject=row.subject,
        normalised_subject=row.normalised_subject,
        token=row.token,
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
    )


def _post(row: Post) -> PostRecord:
    return PostRecord(
        id=row.id,
        community_id=row.community_id,
        thread_id=row.thread_id,
        parent_id=row.parent_id,
        author_id=row.author_id,
        author_name=row.author_name,
        author_address=row.author_address,
        origin_channel=row.origin_channel,
        origin_key=row.origin_key,
        matrix_event_id=row.matrix_event_id,
        email_message_id=row.email_message_id,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        full_text=row.full_text,
        state=row.state,
        created_at=row.created_at,
        edited_at=row.edited_at,
        reaction_count=row.reaction_count,
    )
