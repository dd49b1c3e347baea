"""Shared post reads: one read for the askers of a moment, and never an answer older than the question."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from bridge.relay.fresh_reads import FreshReads


class Table:
    """A stand-in for the posts table whose reads take a moment (``gate``) and are counted."""

    def __init__(self) -> None:
        self.rows: dict[int, str] = {1: "visible", 2: "visible"}
        self.asked: list[list[int]] = []
        self.gate = asyncio.Event()
        self.begun = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def read(self, keys: list[int]) -> Mapping[int, str]:
        await asyncio.sleep(0)  # a query hands over to the driver's thread
        self.asked.append(sorted(keys))
        self.begun.set()
        snapshot = {key: self.rows[key] for key in keys if key in self.rows}  # the read sees rows now
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return snapshot


async def test_askers_of_one_moment_share_one_read() -> None:
    table = Table()
    reads = FreshReads(table.read)
    answers = await asyncio.gather(reads.get(1), reads.get(2), reads.get(1), reads.get(3))
    assert answers == ["visible", "visible", "visible", None]
    assert table.asked == [[1, 2, 3]]


async def test_a_question_asked_during_a_read_waits_for_the_next_read() -> None:
    table = Table()
    table.gate.clear()
    reads = FreshReads(table.read)
    early = asyncio.ensure_future(reads.get(1))
    await table.begun.wait()  # it has seen the post visible
    table.rows[1] = "deleted"
    late = asyncio.ensure_future(reads.get(1))
    await asyncio.sleep(0)
    table.gate.set()
    assert await early == "visible"
    assert await late == "deleted"  # not the answer of the read that began before it asked
    assert table.asked == [[1], [1]]
    assert reads.reads == 2


async def test_a_failed_read_fails_every_asker_and_the_next_read_works() -> None:
    table = Table()
    table.fail = RuntimeError("database gone")
    reads = FreshReads(table.read)
    results = await asyncio.gather(reads.get(1), reads.get(2), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone", "database gone"]
    table.fail = None
    assert await reads.get(2) == "visible"


async def test_a_cancelled_reader_leaves_no_asker_waiting() -> None:
    table = Table()
    table.gate.clear()
    reads = FreshReads(table.read)
    reader = asyncio.ensure_future(reads.get(1))
    await table.begun.wait()
    other = asyncio.ensure_future(reads.get_many([1, 2]))
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    table.gate.set()
    assert await asyncio.wait_for(other, 1) == {1: "visible", 2: "visible"}


async def test_a_cancelled_asker_is_not_answered() -> None:
    table = Table()
    table.gate.clear()
    table.fail = RuntimeError("database gone")
    reads = FreshReads(table.read)
    reader = asyncio.ensure_future(reads.get(1))
    await table.begun.wait()
    waiting = asyncio.ensure_future(reads.get(2))
    await asyncio.sleep(0)
    waiting.cancel()
    table.gate.set()
    with pytest.raises(RuntimeError):
        await reader
    assert waiting.cancelled()
    left = [future for futures in reads._waiting.values() for future in futures]
    assert all(future.cancelled() for future in left)  # no answer, no error left unretrieved
