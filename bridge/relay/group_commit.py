"""Group commit: many small records written in one transaction, each caller told when its own is durable.

List mail is recorded as sent *before* the final dot of SMTP DATA (``bridge.email.smtp_commit``), so a
daemon killed at any instant sends each mail at most once. One transaction per mail would cost a commit
per recipient; here the mails that reach their commit point together share one. The first caller starts
a flush at once; callers that arrive while it runs wait for the next flush, which takes all of them. No
timer: under a light load every mail commits alone with no added delay, under a heavy one a commit
carries as many mails as there are SMTP connections waiting on it.

A flush that fails fails every caller it carried: none of their dots is sent, so none of their mails is
delivered, and their rows are retried as if the sender had stopped there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Collects items and writes them with ``flush`` in batches; ``add`` returns once its item is written."""

    def __init__(self, flush: Callable[[Sequence[T]], Awaitable[None]]) -> None:
        self._flush = flush
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._running: asyncio.Task[None] | None = None
        self.flushes = 0
        self.items = 0

    async def add(self, item: T) -> None:
        """Write ``item`` with the next flush; raises what that flush raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._drain())
        await done

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._flush([item for item, _ in batch])
            except BaseException as error:  # each caller gets the flush's own error
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error if isinstance(error, Exception) else RuntimeError(error))
                if not isinstance(error, Exception):
                    raise
                continue
            self.flushes += 1
            self.items += len(batch)
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
