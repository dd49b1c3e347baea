"""Leases: one holder at a time across processes, given up with the holder's connection, taken over.

Each "process" here is an ``AdvisoryLocks`` of its own (its own connection to the same PostgreSQL), as
``icop run`` processes have. A death is the server ending the holder's session, which is what PostgreSQL
sees when a process is killed. What each case gets: the holder runs its work and the others stand by;
a holder whose connection ends has its work cancelled and the lease passes to a standby; work that ends
or fails lets the lease go; SQLite holds every lease at once.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from bridge.store.database import Database
from bridge.store.lease import (
    LOCK_NAMESPACE,
    AdvisoryLocks,
    Lease,
    LocalLocks,
    lock_key,
    locks_for,
)
from tests.e2e.conftest import wait_for

FAST = {"retry_seconds": 0.05, "check_seconds": 0.05}
WAIT = 30.0  # an upper bound for a loaded machine; a passing test never waits it


@pytest_asyncio.fixture
async def processes(postgres_database_url: str) -> AsyncIterator[list[AdvisoryLocks]]:
    """Three processes' lock connections to one database."""
    locks = [AdvisoryLocks(postgres_database_url, f"host:{n}") for n in (1, 2, 3)]
    try:
        yield locks
    finally:
        for each in locks:
            await each.close()


class Work:
    """A loop that runs until cancelled or told to end, remembering how it went."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.running = asyncio.Event()
        self.finish = asyncio.Event()
        self.starts = 0
        self.cancelled = 0

    async def __call__(self) -> None:
        self.starts += 1
        self.running.set()
        try:
            await self.finish.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running.clear()


async def _until(condition: Callable[[], bool], what: str) -> None:
    await wait_for(condition, WAIT, what, interval=0.01)


async def _kill_session(url: str, key: int) -> int:
    """End the session holding lock ``key``, as PostgreSQL does when its process dies."""
    admin = await asyncpg.connect(url)
    try:
        pid = await admin.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2",
            LOCK_NAMESPACE,
            key,
        )
        assert pid is not None
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        return int(pid)
    finally:
        await admin.close()


HOLDER = """
import asyncio, sys
from bridge.store.lease import AdvisoryLocks, Lease

async def hold() -> None:
    async def work() -> None:
        print("holding", flush=True)
        await asyncio.Event().wait()

    await Lease(AdvisoryLocks(sys.argv[1], "host:1"), sys.argv[2], label="mailbox").run(work)

asyncio.run(hold())
"""


@pytest.mark.postgres
async def test_a_standby_takes_over_when_the_holder_is_killed(
    processes: list[AdvisoryLocks], postgres_database_url: str
) -> None:
    """The holder is a real process, killed with SIGKILL: exactly one standby takes the lease over."""
    name = "mailbox lists@example.org"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, postgres_database_url, name, stdout=asyncio.subprocess.PIPE
    )
    leases = [Lease(locks, name, label="mailbox", **FAST) for locks in processes[1:]]
    works = [Work("p2"), Work("p3")]
    tasks = []
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), WAIT) == b"holding\n"
        tasks = [asyncio.create_task(lease.run(work)) for lease, work in zip(leases, works, strict=True)]
        await asyncio.sleep(0.5)  # ten tries each: a standby must not get a lease that is held
        assert [lease.held for lease in leases] == [False, False]
        assert await processes[1].alive("host:1") is True
        assert await processes[1].alive("host:9") is False

        holder.kill()
        await holder.wait()
        await _until(lambda: any(work.running.is_set() for work in works), "a standby to take over")
        await asyncio.sleep(0.5)
        assert sum(work.running.is_set() for work in works) == 1
        assert sum(lease.held for lease in leases) == 1
        assert await processes[1].alive("host:1") is False
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.postgres
async def test_a_holder_whose_connection_ends_stops_its_work_at_once(
    processes: list[AdvisoryLocks], postgres_database_url: str
) -> None:
    """The server ends the holder's session (as a network cut or an administrator would): its work is
    cancelled, and one process (perhaps the same one, reconnected) holds the lease again."""
    leases = [Lease(locks, "matrix sync @icop:example.org", label="matrix", **FAST) for locks in processes]
    works = [Work(f"p{n}") for n in (1, 2, 3)]
    first = asyncio.create_task(leases[0].run(works[0]))
    await _until(lambda: works[0].running.is_set(), "the first process to hold the lease")
    others = [asyncio.create_task(lease.run(work)) for lease, work in zip(leases[1:], works[1:], strict=True)]
    try:
        await asyncio.sleep(0.2)
        await _kill_session(postgres_database_url, lock_key("matrix sync @icop:example.org"))
        await _until(lambda: works[0].cancelled == 1, "the holder's work to be cancelled")
        assert leases[0].losses == 1
        await _until(lambda: sum(w.running.is_set() for w in works) == 1, "a holder again")
        await asyncio.sleep(0.5)
        assert sum(w.running.is_set() for w in works) == 1
        assert sum(lease.held for lease in leases) == 1
        assert await processes[2].alive("host:1") is True  # reconnected, with its process lock again

        # Work that ends lets the lease go, to one of those standing by.
        holder = next(n for n, work in enumerate(works) if work.running.is_set())
        works[holder].finish.set()
        await _until(
            lambda: sum(w.running.is_set() for w in works) == 1 and not leases[holder].held, "the next holder"
        )
        assert [task.done() for task in (first, *others)].count(True) == 1
    finally:
        for task in (first, *others):
            task.cancel()
        await asyncio.gather(first, *others, return_exceptions=True)


@pytest.mark.postgres
async def test_work_that_fails_lets_the_lease_go_and_the_failure_through(
    processes: list[AdvisoryLocks],
) -> None:
    async def broken() -> None:
        raise RuntimeError("the mailbox loop broke")

    one, two = (
        Lease(locks, "matrix sync @icop:example.org", label="matrix", **FAST) for locks in processes[:2]
    )
    with pytest.raises(RuntimeError, match="broke"):
        await one.run(broken)
    assert not one.held
    work = Work("p2")
    task = asyncio.create_task(two.run(work))
    try:
        await _until(lambda: work.running.is_set(), "the second process to take the free lease")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # A cancelled holder (the daemon stopping) lets its lease go too.
    assert await processes[0].try_lock(lock_key("matrix sync @icop:example.org")) is not None


@pytest.mark.postgres
async def test_different_names_are_different_leases_and_a_dead_process_is_seen_dead(
    processes: list[AdvisoryLocks],
) -> None:
    mailbox = Lease(processes[0], "mailbox a@example.org", label="mailbox", **FAST)
    other = Lease(processes[1], "mailbox b@example.org", label="mailbox", **FAST)
    works = [Work("a"), Work("b")]
    tasks = [asyncio.create_task(mailbox.run(works[0])), asyncio.create_task(other.run(works[1]))]
    try:
        await _until(lambda: all(w.running.is_set() for w in works), "both mailboxes to be read")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert await processes[2].alive("host:2") is True
    await processes[1].close()
    assert await processes[2].alive("host:2") is False


async def test_on_sqlite_every_lease_is_held_at_once(tmp_path: Path) -> None:
    async with Database(f"sqlite://{tmp_path / 'store.sqlite3'}") as database:
        locks = locks_for(database, "host:1")
    assert isinstance(locks, LocalLocks)
    lease = Lease(locks, "mailbox", label="mailbox")
    work = Work("only")
    task = asyncio.create_task(lease.run(work))
    try:
        await _until(lambda: work.running.is_set(), "the only process to hold the lease")
        assert lease.held
        assert await locks.alive("host:2") is None  # nothing to ask: the worker's pid is checked instead
        work.finish.set()
        await asyncio.wait_for(task, WAIT)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not lease.held
