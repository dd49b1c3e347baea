"""Group commit: what each caller of ``GroupCommit.add`` gets, and how many flushes carry them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bridge.relay.group_commit import GroupCommit


async def test_a_lone_item_is_flushed_at_once_alone() -> None:
    flushed: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        flushed.append(list(items))

    commit = GroupCommit(flush)
    await commit.add(1)
    assert flushed == [[1]]
    await commit.add(2)
    assert flushed == [[1], [2]]


async def test_items_that_arrive_during_a_flush_share_the_next_one() -> None:
    flushed: list[list[int]] = []
    release = asyncio.Event()

    async def flush(items: Sequence[int]) -> None:
        flushed.append(list(items))
        if len(flushed) == 1:
            await release.wait()  # the first flush is slow: the others queue behind it

    commit = GroupCommit(flush)
    first = asyncio.ensure_future(commit.add(0))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(commit.add(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in [first, *others])  # nobody returns before their flush
    release.set()
    await asyncio.gather(first, *others)
    assert flushed == [[0], [1, 2, 3, 4, 5]]
    assert (commit.flushes, commit.items) == (2, 6)


async def test_a_failed_flush_fails_every_item_it_carried_and_the_next_flush_works() -> None:
    calls: list[list[str]] = []
    release = asyncio.Event()

    async def flush(items: Sequence[str]) -> None:
        calls.append(list(items))
        if len(calls) == 1:
            await release.wait()
        if len(calls) == 2:
            raise ConnectionError("database gone")

    commit = GroupCommit(flush)
    first = asyncio.ensure_future(commit.add("a"))
    await asyncio.sleep(0)
    doomed = [asyncio.ensure_future(commit.add(x)) for x in ("b", "c")]
    await asyncio.sleep(0)
    release.set()
    await first
    for task in doomed:
        with pytest.raises(ConnectionError, match="database gone"):
            await task
    await commit.add("d")
    assert calls == [["a"], ["b", "c"], ["d"]]
