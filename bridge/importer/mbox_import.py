"""``icop import mbox``: archives of a list into one community's posts, fast, idempotent, never sent.

Three stages overlap: this process splits the files into messages (``mbox``), worker processes read
chunks of them into posts-to-be (``mail``: the MIME work, which is most of the cost), and this process
stores them a batch per transaction (``writer``), in file order. Reading in other processes is what
lets an import use every core; a small import is read in this process (starting workers costs more
than it saves).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.importer.mail import NotImported, ReadMail, read_entries
from bridge.importer.mbox import MboxEntry, MboxFile, MboxReadError
from bridge.importer.progress import Progress
from bridge.importer.writer import ArchiveWriter, Pending, report
from bridge.relay.community import CommunityContext
from bridge.store import RawMessage, Store

CHUNK = 250  # messages per unit of work for a worker process
BATCH = 500  # messages per transaction: the write lock is held a fraction of a second, well within the
# daemon's busy timeout (5 s), so live mail stored beside an import waits, never fails
SMALL_IMPORT_BYTES = 4 << 20  # below this, workers cost more than they save
PRELOAD = ["bridge.importer.mail"]


@dataclass(frozen=True, slots=True)
class MboxImportResult:
    unreadable_files: tuple[str, ...] = ()


def default_jobs(files: Sequence[MboxFile]) -> int:
    if sum(f.size for f in files) < SMALL_IMPORT_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


async def import_mbox(
    store: Store,
    community: CommunityContext,
    files: Sequence[MboxFile],
    progress: Progress,
    *,
    jobs: int | None = None,
    now: datetime | None = None,
) -> MboxImportResult:
    """Import every message of ``files`` into ``community``; the tally is kept in ``progress``."""
    now = now or datetime.now(UTC)
    writer = ArchiveWriter(store, community, now=now)
    await writer.prepare()
    jobs = default_jobs(files) if jobs is None else jobs
    unreadable: list[str] = []
    chunks = _chunks(files, unreadable, progress)
    loop = asyncio.get_running_loop()
    pool: Executor | None = None
    if jobs > 1:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        in_flight: deque[tuple[list[MboxEntry], int, asyncio.Future[list[ReadMail | NotImported]]]] = deque()
        pending: list[Pending] = []
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < max(4, jobs * 4):
                chunk = next(chunks, None)
                if chunk is None:
                    exhausted = True
                    break
                entries, position = chunk
                if pool is None:
                    done: asyncio.Future[list[ReadMail | NotImported]] = loop.create_future()
                    done.set_result(read_entries(entries, community.slug, now))
                else:
                    done = loop.run_in_executor(pool, read_entries, entries, community.slug, now)
                in_flight.append((entries, position, done))
            if not in_flight:
                break
            entries, position, done = in_flight.popleft()
            for entry, result in zip(entries, await done, strict=True):
                if isinstance(result, NotImported):
                    _not_imported(progress, result)
                else:
                    pending.append(_pending(result, entry))
            if len(pending) >= BATCH or (exhausted and not in_flight):
                await _store(writer, pending, progress)
                pending = []
            progress.advance_to(position)
        if pending:
            await _store(writer, pending, progress)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return MboxImportResult(tuple(unreadable))


def _chunks(
    files: Sequence[MboxFile], unreadable: list[str], progress: Progress
) -> Iterator[tuple[list[MboxEntry], int]]:
    """Chunks of messages with the bytes read of all files once the chunk was read."""
    offset = 0
    for file in files:
        chunk: list[MboxEntry] = []
        try:
            for entry in file.entries():
                chunk.append(entry)
                if len(chunk) >= CHUNK:
                    yield chunk, offset + file.position()
                    chunk = []
        except MboxReadError as error:
            unreadable.append(file.name)
            progress.not_imported(file.name, str(error).removeprefix(f"{file.name}: "))
        if chunk:
            yield chunk, offset + file.size
        offset += file.size


def _pending(read: ReadMail, entry: MboxEntry) -> Pending:
    return Pending(read.where, read.message, RawMessage(content_type="message/rfc822", data=entry.raw))


def _not_imported(progress: Progress, result: NotImported) -> None:
    if result.automatic:
        progress.tally.skipped += 1
        progress.not_imported(result.where, f"skipped: {result.reason}")
    else:
        progress.tally.failed += 1
        progress.not_imported(result.where, f"failed: {result.reason}")


async def _store(writer: ArchiveWriter, pending: list[Pending], progress: Progress) -> None:
    report(await writer.write(pending), progress)
