"""Leases: one process at a time runs a loop that must run once, however many processes share the store.

Several ``icop run`` processes may share one PostgreSQL database (DESIGN §7). Outbox rows are claimed row
by row (``FOR UPDATE SKIP LOCKED``), but an ingest loop (the list mailbox, the Matrix sync) and a
scheduler must run in exactly one of them: two readers of one mailbox would race for its cursor. A
``Lease`` is a PostgreSQL session-level advisory lock (``pg_try_advisory_lock``) taken on a connection
kept for locks alone, never returned to a pool. PostgreSQL drops the lock the moment that session ends,
so a process that dies (kill -9, a crash, its host gone once TCP notices) frees its leases by itself,
and a standby polling every ``retry_seconds`` takes them over within seconds. No table of heartbeats,
no clock to trust, no second broker.

The holder re-checks its lock every ``check_seconds`` and listens for its connection's end: when the
connection is lost the loop is cancelled at once, since another process may take the lease from then
on. Ingest stays idempotent (origin keys), so even the moment between a connection's end and the
holder noticing it doubles nothing.

Each process also holds a lock named after its delivery worker (``process_lock``): other processes ask
``alive`` whether that worker's process still runs, and hand the outbox rows of a dead one back at once
instead of waiting for their claims to expire.

On SQLite the store belongs to one process and every lease is held from the start (``LocalLocks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from bridge.store.database import Database, Dialect, Transaction, redact

log = logging.getLogger(__name__)

LOCK_NAMESPACE = int.from_bytes(b"icop", "big")
"""First key of every advisory lock the bridge takes (the two-key form), so that another application's
locks on the same database never collide with ours."""
RETRY_SECONDS = 1.0
CHECK_SECONDS = 1.0
QUERY_TIMEOUT_SECONDS = 5.0

_HELD_BY_ME = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
  AND classid = $1 AND objid = $2 AND objsubid = 2
"""
_HELD_BY_ANYONE = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid = $1 AND objid = $2 AND objsubid = 2
"""


def lock_key(name: str) -> int:
    """The second advisory-lock key of ``name`` (a non-negative int4, as ``pg_locks.objid`` shows it)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class LocksUnavailable(RuntimeError):
    """The database cannot be reached for locks just now; the message says why (without a password)."""


class LeaseLost(RuntimeError):
    """A lease this process held is no longer its own; the message says how it was lost."""


class Locks(Protocol):
    """Named locks that die with their holder. A ``generation`` numbers the connection a lock was taken
    on: a lock never outlives its generation."""

    async def try_lock(self, key: int) -> int | None:
        """Take ``key`` if it is free; the generation it was taken in, or None when another holds it."""
        ...

    async def holds(self, key: int, generation: int) -> bool:
        """Whether ``key`` is still ours in ``generation``; raises LocksUnavailable when unsure."""
        ...

    async def unlock(self, key: int, generation: int) -> None: ...

    def ended(self, generation: int) -> asyncio.Event:
        """Set when the connection of ``generation`` ends (and every lock taken in it with it)."""
        ...

    async def alive(self, process: str) -> bool | None:
        """Whether the process named ``process`` holds its process lock now; None: cannot be known."""
        ...

    async def close(self) -> None: ...


class LocalLocks:
    """One process owns the store (SQLite): every lock is free for it, and nothing can take it away."""

    def __init__(self) -> None:
        self._never = asyncio.Event()

    async def try_lock(self, key: int) -> int | None:
        return 0

    async def holds(self, key: int, generation: int) -> bool:
        return True

    async def unlock(self, key: int, generation: int) -> None:
        return None

    def ended(self, generation: int) -> asyncio.Event:
        return self._never

    async def alive(self, process: str) -> bool | None:
        return None

    async def close(self) -> None:
        return None


class AdvisoryLocks:
    """PostgreSQL advisory locks on one connection of their own, reopened (a new generation) when lost.

    ``process`` names this process (its delivery worker's id); its process lock is taken again on every
    new connection, so other processes can tell a live process from a dead one with ``alive``.
    """

    def __init__(self, url: str, process: str, *, timeout: float = QUERY_TIMEOUT_SECONDS) -> None:
        self._url = url
        self._process_key = lock_key(process_lock(process))
        self._timeout = timeout
        self._connection: asyncpg.Connection | None = None
        self._generation = 0
        self._ended: dict[int, asyncio.Event] = {}
        self._mutex = asyncio.Lock()  # one statement at a time on the one connection

    async def try_lock(self, key: int) -> int | None:
        got, generation = await self._query("SELECT pg_try_advisory_lock($1, $2)", key)
        return generation if got else None

    async def holds(self, key: int, generation: int) -> bool:
        if generation != self._generation or self.ended(generation).is_set():
            return False
        held, _ = await self._query(_HELD_BY_ME, key, generation=generation)
        return bool(held)

    async def unlock(self, key: int, generation: int) -> None:
        if generation != self._generation or self.ended(generation).is_set():
            return  # the connection that held it is gone, and the lock with it
        with contextlib.suppress(LocksUnavailable):
            await self._query("SELECT pg_advisory_unlock($1, $2)", key, generation=generation)

    def ended(self, generation: int) -> asyncio.Event:
        return self._ended.setdefault(generation, asyncio.Event())

    async def alive(self, process: str) -> bool | None:
        try:
            held, _ = await self._query(_HELD_BY_ANYONE, lock_key(process_lock(process)))
            return bool(held)
        except LocksUnavailable:
            return None

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), self._timeout)
            connection.terminate()
        self.ended(self._generation).set()

    async def _query(self, sql: str, key: int, *, generation: int | None = None) -> tuple[Any, int]:
        """One statement on the lock connection (opened first when needed) and the connection's
        generation; LocksUnavailable on trouble.

        With ``generation``, only on that connection: a lock is never looked for on a newer one.
        """
        async with self._mutex:
            try:
                if generation is None:
                    connection = await self._connect()
                elif self._connection is None or generation != self._generation:
                    raise LocksUnavailable("the connection that held the lock has ended")
                else:
                    connection = self._connection
                value = await connection.fetchval(sql, LOCK_NAMESPACE, key, timeout=self._timeout)
                return value, self._generation
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                self._drop()
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise LocksUnavailable(f"locks in {redact(self._url)}: {reason}") from None

    async def _connect(self) -> asyncpg.Connection:
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        self._drop()
        credentials = expand_db_url("postgres://" + self._url.partition("://")[2])["credentials"]
        known = ("host", "port", "user", "password", "database", "ssl")
        connection = await asyncpg.connect(
            **{k: v for k, v in credentials.items() if k in known}, timeout=self._timeout
        )
        self._generation += 1
        generation = self._generation
        connection.add_termination_listener(lambda _: self.ended(generation).set())
        self._connection = connection  # from here on, a failure drops it (``_query``)
        await connection.execute(
            f"SELECT pg_try_advisory_lock({LOCK_NAMESPACE}, {self._process_key})", timeout=self._timeout
        )
        return connection

    def _drop(self) -> None:
        """Forget a broken connection: its generation has ended, and its locks with it."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()
        self.ended(self._generation).set()


async def one_at_a_time(database: Database, tx: Transaction, name: str) -> None:
    """Make transactions that call this with the same ``name`` run one after another (until ``tx``
    ends) on PostgreSQL; SQLite's single writer does that already."""
    if database.dialect is Dialect.POSTGRES:
        await database.execute(
            "SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, lock_key(name)], tx=tx
        )


def locks_for(database: Database, process: str) -> Locks:
    """Advisory locks on PostgreSQL (several processes may share it); trivial ones on SQLite."""
    if database.dialect is Dialect.POSTGRES:
        return AdvisoryLocks(database.url, process)
    return LocalLocks()


def process_lock(process: str) -> str:
    """The lock a live process holds under its delivery worker's id."""
    return f"process {process}"


class Lease:
    """A named lease: ``run(work)`` waits until this process holds it, then runs ``work`` while it does.

    ``label`` is the short name shown in logs, ``/healthz`` and ``/metrics``; ``name`` identifies what is
    leased across processes (say, the mailbox's address), so two bridges on one database for different
    mailboxes do not exclude each other.
    """

    def __init__(
        self,
        locks: Locks,
        name: str,
        *,
        label: str,
        retry_seconds: float = RETRY_SECONDS,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.locks = locks
        self.name = name
        self.label = label
        self.key = lock_key(name)
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self.held = False
        self.standing_by = False
        """Another process holds the lease (as of the last try), and this one tries every second."""
        self.losses = 0

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Hold the lease and run ``work``; when the lease is lost, cancel ``work`` and wait to hold it
        again. Returns when ``work`` returns; raises what ``work`` raises (after letting the lease go)."""
        while True:
            generation = await self._acquire()
            try:
                await self._while_held(work, generation)
                return
            except LeaseLost as lost:
                self.losses += 1
                log.warning("lease %s lost (%s); its loop stopped until it is taken again", self.label, lost)
            finally:
                self.held = False
                await self.locks.unlock(self.key, generation)

    async def _acquire(self) -> int:
        waiting_since = time.monotonic()
        said: str | None = None
        while True:
            try:
                generation = await self.locks.try_lock(self.key)
                self.standing_by = generation is None
            except LocksUnavailable as error:
                generation, why = None, str(error)
                self.standing_by = False
                if said != "unavailable":
                    log.warning("lease %s: cannot reach the database (%s); retrying", self.label, why)
                    said = "unavailable"
            else:
                if generation is None and said != "standby":
                    log.info("lease %s is held by another process; standing by", self.label)
                    said = "standby"
            if generation is not None:
                self.held, self.standing_by = True, False
                log.info(
                    "lease %s taken after %.1f s",
                    self.label,
                    time.monotonic() - waiting_since,
                    extra={"lease": self.label},
                )
                return generation
            await asyncio.sleep(self.retry_seconds)

    async def _while_held(self, work: Callable[[], Awaitable[None]], generation: int) -> None:
        # Both tasks are owned here: whichever ends first, the other is cancelled and awaited.
        async def until_done() -> None:
            await work()

        working = asyncio.create_task(until_done(), name=f"lease {self.label}: work")
        watching = asyncio.create_task(self._watch(generation), name=f"lease {self.label}: watch")
        try:
            await asyncio.wait({working, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (working, watching):
                task.cancel()
            await asyncio.gather(working, watching, return_exceptions=True)
        if working.done() and not working.cancelled():
            working.result()  # returns, or raises what the work raised
            return
        watching.result()  # raises LeaseLost

    async def _watch(self, generation: int) -> None:
        """Raise LeaseLost as soon as the connection ends, or when a re-check finds the lock gone."""
        ended = self.locks.ended(generation)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), self.check_seconds)
            if ended.is_set():
                raise LeaseLost("the database connection holding it ended")
            try:
                still = await self.locks.holds(self.key, generation)
            except LocksUnavailable as error:
                raise LeaseLost(str(error)) from None
            if not still:
                raise LeaseLost("the lock is no longer held")
