"""The outbox: deliveries waiting to go out, claimed by workers under a lease, retried with backoff.

Delivery is at-least-once (DESIGN §3). A worker claims due rows for ``lease_seconds``; a worker that
dies simply lets its lease expire and the rows come back to the next claim. Claiming is one atomic
statement: on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several processes claim side by side without
waiting on each other; on SQLite the single UPDATE holds the write lock for its whole run. Every claim
counts as an attempt, so a delivery that crashes its worker still reaches the retry limit and is parked
as dead for the convener instead of looping forever.
"""

from __future__ import annotations

import builtins
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.functions import Count, Min

from bridge.core.model import Channel, DeliveryKind, DeliverySpec, DeliveryState
from bridge.store.database import Database, Dialect, Transaction
from bridge.store.models import Delivery, Post
from bridge.store.records import OutboxEntry, as_utc, utc_now

_CLAIM = """
UPDATE "delivery"
SET "state" = 'sending', "claimed_by" = {p1}, "claimed_until" = {p2},
    "attempts" = "attempts" + 1, "updated_at" = {p3}
WHERE "id" IN (
    SELECT "id" FROM "delivery"
    WHERE (("state" = 'pending' AND "next_attempt_at" <= {p3}
            AND ("not_before" IS NULL OR "not_before" <= {p3}))
        OR ("state" = 'sending' AND "claimed_until" < {p3})){channel}
    ORDER BY "next_attempt_at", "id"
    LIMIT {p4}{lock}
)
RETURNING "id"
"""
_MARK_SENT = """
UPDATE "delivery"
SET "state" = 'sent', "remote_id" = $1, "claimed_by" = NULL, "claimed_until" = NULL,
    "updated_at" = COALESCE($2, "updated_at")
WHERE "id" IN ({ids}) AND "state" = 'sending' AND (CAST($3 AS TEXT) IS NULL OR "claimed_by" = $3)
RETURNING "id", "post_id", "channel", "kind"
"""
_SET_REMOTE_ID = {
    Channel.MATRIX.value: 'UPDATE "post" SET "matrix_event_id" = $1\n'
    'WHERE "id" = $2 AND "matrix_event_id" IS NULL',
    Channel.EMAIL.value: 'UPDATE "post" SET "email_message_id" = $1\n'
    'WHERE "id" = $2 AND "email_message_id" IS NULL',
}
"""A post's id on a channel, recorded by its first delivery there (what replies thread under)."""
_SKIP_LOCKED = "\n    FOR UPDATE SKIP LOCKED"
_CLAIM_SQL = {
    # (dialect, one channel only?) → statement
    (Dialect.SQLITE, False): _CLAIM.format(p1="?1", p2="?2", p3="?3", p4="?4", lock="", channel=""),
    (Dialect.SQLITE, True): _CLAIM.format(
        p1="?1", p2="?2", p3="?3", p4="?4", lock="", channel='\n      AND "channel" = ?5'
    ),
    (Dialect.POSTGRES, False): _CLAIM.format(
        p1="$1", p2="$2", p3="$3", p4="$4", lock=_SKIP_LOCKED, channel=""
    ),
    (Dialect.POSTGRES, True): _CLAIM.format(
        p1="$1", p2="$2", p3="$3", p4="$4", lock=_SKIP_LOCKED, channel='\n      AND "channel" = $5'
    ),
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base * 2**(attempt-1)`` capped at ``cap``, dead after ``max_attempts``.

    ``jitter`` (0..1) shortens each wait by up to that fraction, so rows that failed together (a server
    down) do not all come back in the same second.
    """

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    jitter: float = 0.0

    def delay(self, attempts: int, rand: float = 0.0) -> timedelta:
        exponent = min(max(attempts - 1, 0), 32)  # past 2**32 the cap has long won
        delay = min(self.cap, self.base * (1 << exponent))
        return delay * (1.0 - self.jitter * rand)


@dataclass(frozen=True, slots=True)
class Backlog:
    """The rows of one channel in one unfinished state, and when the oldest of them was queued."""

    channel: Channel
    state: DeliveryState
    count: int
    oldest: datetime | None


BACKLOG_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.DEAD)
"""The states that make the outbox's depth; sent and cancelled rows only accumulate."""


class Outbox:
    """Claiming, finishing and inspecting outbox rows."""

    def __init__(
        self,
        db: Database,
        policy: RetryPolicy | None = None,
        *,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self.policy = policy or RetryPolicy()
        self._rand = rand

    async def claim_due(
        self,
        worker_id: str,
        now: datetime,
        limit: int = 10,
        lease_seconds: float = 60.0,
        *,
        channel: Channel | None = None,
    ) -> builtins.list[OutboxEntry]:
        """Claim up to ``limit`` due rows (or rows whose lease expired) for ``worker_id``, of one
        ``channel`` when given (each channel has its own delivery lane)."""
        now = as_utc(now)
        until = now + timedelta(seconds=lease_seconds)
        params: list[object] = [worker_id, until, now, limit]
        if channel is not None:
            params.append(channel.value)
        sql = _CLAIM_SQL[self._db.dialect, channel is not None]
        async with self._db.transaction() as tx:
            rows = await self._db.fetch(sql, params, tx=tx)
            ids = [int(r["id"]) for r in rows]
            claimed = await Delivery.filter(id__in=ids).using_db(tx.client)
        return sorted((outbox_entry(d) for d in claimed), key=lambda e: (e.next_attempt_at, e.id))

    async def mark_sent(
        self,
        delivery_id: int,
        remote_id: str | None = None,
        *,
        worker_id: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Finish a claimed row; for a POST also record the post's id on that channel (threading).

        With ``worker_id``, only while that worker holds the claim: a worker that lost its lease
        reports nothing over the new holder.
        """
        async with self._db.transaction() as tx:
            row = await _claimed(delivery_id, worker_id, tx)
            if row is None:
                return False
            await (
                Delivery.filter(id=delivery_id)
                .using_db(tx.client)
                .update(
                    state=DeliveryState.SENT,
                    remote_id=remote_id,
                    claimed_by=None,
                    claimed_until=None,
                    **({"updated_at": as_utc(now)} if now is not None else {}),
                )
            )
            if remote_id and row.kind is DeliveryKind.POST:
                column = "matrix_event_id" if row.channel is Channel.MATRIX else "email_message_id"
                await (
                    Post.filter(id=row.post_id, **{f"{column}__isnull": True})
                    .using_db(tx.client)
                    .update(**{column: remote_id})
                )
        return True

    async def mark_sent_many(
        self,
        sent: Sequence[tuple[int, str | None]],
        *,
        worker_id: str | None = None,
        now: datetime | None = None,
    ) -> builtins.list[int]:
        """``mark_sent`` for a round of rows (id, remote id) in one transaction: one commit per round
        instead of one per mail. Returns the ids finished (those still claimed, by ``worker_id`` when
        given); rows sharing a remote id (one post's mails) are updated by one statement."""
        if not sent:
            return []
        by_remote: dict[str | None, builtins.list[int]] = {}
        for row_id, remote_id in sent:
            by_remote.setdefault(remote_id, []).append(row_id)
        finished: builtins.list[int] = []
        first_ids: dict[tuple[int, str], str] = {}
        async with self._db.transaction() as tx:
            for remote_id, ids in by_remote.items():
                sql, params = _mark_sent_sql(self._db.dialect, ids, remote_id, worker_id, now)
                for row in await self._db.fetch(sql, params, tx=tx):
                    finished.append(int(row["id"]))
                    if remote_id and row["kind"] == DeliveryKind.POST.value:
                        first_ids.setdefault((int(row["post_id"]), str(row["channel"])), remote_id)
            for (post_id, channel), remote_id in first_ids.items():
                sql = _numbered(_SET_REMOTE_ID[channel], self._db.dialect)
                await self._db.execute(sql, [remote_id, post_id], tx=tx)
        return finished

    async def mark_failed(
        self,
        delivery_id: int,
        error: str,
        now: datetime,
        *,
        worker_id: str | None = None,
        permanent: bool = False,
    ) -> DeliveryState | None:
        """Schedule a retry after the backoff, or park the row as dead (past the retry limit, or at once
        when ``permanent``); returns its new state.

        None when the row is not (or, with ``worker_id``, no longer this worker's) claim.
        """
        now = as_utc(now)
        async with self._db.transaction() as tx:
            row = await _claimed(delivery_id, worker_id, tx)
            if row is None:
                return None
            dead = permanent or row.attempts >= self.policy.max_attempts
            state = DeliveryState.DEAD if dead else DeliveryState.PENDING
            await (
                Delivery.filter(id=delivery_id)
                .using_db(tx.client)
                .update(
                    state=state,
                    last_error=error,
                    next_attempt_at=now + self.policy.delay(row.attempts, self._rand()),
                    claimed_by=None,
                    claimed_until=None,
                    updated_at=now,
                )
            )
        return state

    async def mark_dead(
        self, delivery_id: int, error: str, now: datetime, *, worker_id: str | None = None
    ) -> DeliveryState | None:
        """Park a claimed row as dead at once: retrying cannot help (a permanent rejection)."""
        return await self.mark_failed(delivery_id, error, now, worker_id=worker_id, permanent=True)

    async def list(
        self, state: DeliveryState | None = None, *, limit: int = 100
    ) -> builtins.list[OutboxEntry]:
        async with self._db.session() as conn:
            query = Delivery.all() if state is None else Delivery.filter(state=state)
            rows = await query.using_db(conn).order_by("id").limit(limit)
        return [outbox_entry(d) for d in rows]

    async def for_post(self, post_id: int) -> builtins.list[OutboxEntry]:
        async with self._db.session() as conn:
            rows = await Delivery.filter(post_id=post_id).using_db(conn).order_by("id")
        return [outbox_entry(d) for d in rows]

    async def retry(self, ids: Iterable[int], *, now: datetime | None = None) -> int:
        """Give dead rows a fresh set of attempts, due now; returns how many were reset."""
        due = as_utc(now) if now is not None else utc_now()
        async with self._db.session() as conn:
            return (
                await Delivery.filter(id__in=builtins.list(ids), state=DeliveryState.DEAD)
                .using_db(conn)
                .update(state=DeliveryState.PENDING, attempts=0, next_attempt_at=due)
            )

    async def cancel(self, ids: Iterable[int]) -> int:
        """Withdraw pending or dead rows (a sending row is in a worker's hands and finishes)."""
        async with self._db.session() as conn:
            return (
                await Delivery.filter(
                    id__in=builtins.list(ids),
                    state__in=[DeliveryState.PENDING, DeliveryState.DEAD],
                )
                .using_db(conn)
                .update(state=DeliveryState.CANCELLED)
            )

    async def claimants(self) -> set[str]:
        """The workers holding rows in ``sending`` now (live ones, and any that died holding them)."""
        async with self._db.session() as conn:
            rows = await (
                Delivery.filter(state=DeliveryState.SENDING)
                .using_db(conn)
                .distinct()
                .values_list("claimed_by", flat=True)
            )
        return {str(worker) for worker in rows if worker}

    async def release(self, worker_ids: Iterable[str]) -> int:
        """Hand the rows of workers known to be dead back to the queue, due now, without waiting for
        their leases (the claim already counted as an attempt)."""
        async with self._db.session() as conn:
            return (
                await Delivery.filter(state=DeliveryState.SENDING, claimed_by__in=builtins.list(worker_ids))
                .using_db(conn)
                .update(state=DeliveryState.PENDING, claimed_by=None, claimed_until=None)
            )

    async def counts(self) -> dict[DeliveryState, int]:
        """Rows per state, every state present (zero when none)."""
        counts = dict.fromkeys(DeliveryState, 0)
        async with self._db.session() as conn:
            rows = await (
                Delivery.annotate(n=Count("id")).group_by("state").using_db(conn).values_list("state", "n")
            )
        for state, n in rows:
            counts[DeliveryState(state)] = int(n)
        return counts

    async def backlog(self) -> builtins.list[Backlog]:
        """Rows waiting (pending), in a worker's hands (sending) and dead, per channel, each group with
        its oldest row's queueing time. Cheap enough for every metrics scrape: it reads the few rows in
        these states through the (state, next_attempt_at) index, never the sent ones."""
        async with self._db.session() as conn:
            rows = await (
                Delivery.filter(state__in=BACKLOG_STATES)
                .annotate(n=Count("id"), oldest=Min("created_at"))
                .group_by("channel", "state")
                .using_db(conn)
                .values_list("channel", "state", "n", "oldest")
            )
        return [
            Backlog(Channel(channel), DeliveryState(state), int(n), _as_datetime(oldest))
            for channel, state, n, oldest in rows
        ]

    async def add(
        self,
        post_id: int,
        specs: Sequence[DeliverySpec],
        *,
        now: datetime,
        tx: Transaction | None = None,
    ) -> None:
        """Queue more deliveries of an existing post (e.g. a notice); known ones are left as they are."""
        async with self._db.transaction(tx) as inner:
            await create_deliveries(post_id, specs, revision=0, now=as_utc(now), tx=inner)


async def create_deliveries(
    post_id: int,
    specs: Sequence[DeliverySpec],
    *,
    revision: int,
    now: datetime,
    tx: Transaction,
) -> None:
    """Insert outbox rows, skipping any that exist: re-creating a delivery is a no-op."""
    unique: dict[tuple[str, str, str], DeliverySpec] = {}
    for spec in specs:
        unique.setdefault((spec.channel, spec.kind, spec.recipient), spec)
    rows = [
        Delivery(
            post_id=post_id,
            channel=spec.channel,
            kind=spec.kind,
            revision=revision,
            recipient=spec.recipient,
            membership_id=spec.membership_id,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            not_before=as_utc(spec.not_before) if spec.not_before is not None else None,
            batch_key=spec.batch_key,
        )
        for spec in unique.values()
    ]
    if rows:
        await Delivery.bulk_create(rows, ignore_conflicts=True, using_db=tx.client)


def _numbered(sql: str, dialect: Dialect) -> str:
    """``$1`` placeholders as the engine takes them (SQLite: ``?1``)."""
    return sql.replace("$", "?") if dialect is Dialect.SQLITE else sql


def _mark_sent_sql(
    dialect: Dialect, ids: Sequence[int], remote_id: str | None, worker_id: str | None, now: datetime | None
) -> tuple[str, builtins.list[object]]:
    """One statement finishing the rows of one remote id that are still claimed (by ``worker_id`` when
    given), returning what the post's own remote id needs: no read before the write."""
    params: builtins.list[object] = [remote_id, as_utc(now) if now is not None else None, worker_id, *ids]
    marks = ", ".join(f"${n}" for n in range(4, len(params) + 1))
    return _numbered(_MARK_SENT.format(ids=marks), dialect), params


async def _claimed(delivery_id: int, worker_id: str | None, tx: Transaction) -> Delivery | None:
    query = Delivery.filter(id=delivery_id, state=DeliveryState.SENDING)
    if worker_id is not None:
        query = query.filter(claimed_by=worker_id)
    return await query.using_db(tx.client).first()


async def cancel_pending(post_id: int, *, tx: Transaction) -> int:
    """Withdraw a post's deliveries that have not started (it was deleted before they went out)."""
    return (
        await Delivery.filter(post_id=post_id, state=DeliveryState.PENDING)
        .using_db(tx.client)
        .update(state=DeliveryState.CANCELLED)
    )


def _as_datetime(value: object) -> datetime | None:
    """An aggregate's datetime: SQLite hands back its stored text, PostgreSQL a datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return as_utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))


def outbox_entry(d: Delivery) -> OutboxEntry:
    """The record of one outbox row (shared with the batch queries)."""
    return OutboxEntry(
        id=d.id,
        post_id=d.post_id,
        channel=d.channel,
        kind=d.kind,
        revision=d.revision,
        recipient=d.recipient,
        membership_id=d.membership_id,
        state=d.state,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        not_before=d.not_before,
        batch_key=d.batch_key,
        last_error=d.last_error,
        remote_id=d.remote_id,
        claimed_by=d.claimed_by,
        claimed_until=d.claimed_until,
        created_at=d.created_at,
    )
