"""Reads of posts shared by the deliveries that ask at the same moment, each answer still fresh.

Every mail checks, just before it goes out, that its post is still visible: a deletion must stop the
mails not sent yet. One query per mail is most of a mail's database work in a burst, so the deliveries
in flight share their reads: a question asked while no read runs starts one for everything waiting; a
question asked while a read runs waits for the next read, never taking the answer of one that began
before it was asked. The reader lets the loop turn once before it reads, so the deliveries woken
together ask together. So each answer is as fresh as a read of its own would have been, and a burst sent
8 mails at a time costs about one query per wave instead of one per mail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")

Reader = Callable[[list[int]], Awaitable[Mapping[int, V]]]


class FreshReads(Generic[V]):
    """``get(key)`` answers from a read of ``read`` that began after it was asked (None: not found)."""

    def __init__(self, read: Reader[V]) -> None:
        self._read = read
        self._waiting: dict[int, list[asyncio.Future[V | None]]] = {}
        self._reading: asyncio.Future[None] | None = None
        self.reads = 0
        """Reads made so far (what sharing saved is visible in tests and profiles)."""

    async def get(self, key: int) -> V | None:
        return (await self.get_many([key]))[key]

    async def get_many(self, keys: Iterable[int]) -> dict[int, V | None]:
        loop = asyncio.get_running_loop()
        asked: dict[int, asyncio.Future[V | None]] = {}
        for key in keys:
            if key not in asked:
                asked[key] = loop.create_future()
                self._waiting.setdefault(key, []).append(asked[key])
        try:
            for future in asked.values():
                while not future.done():
                    if self._reading is None:
                        await self._read_waiting()
                    else:  # a read began before we asked: wait for it to end, then for the next one
                        ends: set[asyncio.Future[object]] = {future, self._reading}  # type: ignore[arg-type]
                        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled: no read answers us any more
            for future in asked.values():
                future.cancel()
            raise
        return {key: future.result() for key, future in asked.items()}

    async def _read_waiting(self) -> None:
        """Read every key waiting now, in one call of ``read``, and answer those who asked."""
        self._reading = asyncio.get_running_loop().create_future()
        batch: dict[int, list[asyncio.Future[V | None]]] = {}
        try:
            await asyncio.sleep(0)  # the deliveries ready in this turn of the loop ask too, and share it
            batch, self._waiting = self._waiting, {}
            self.reads += 1
            found = await self._read(list(batch))
        except Exception as error:  # each asker gets the error, as a read of its own would have
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
        except BaseException:  # this reader was cancelled: those it read for ask again in the next read
            for key, futures in batch.items():
                self._waiting.setdefault(key, []).extend(f for f in futures if not f.done())
            raise
        else:
            for key, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            self._reading.set_result(None)
            self._reading = None
