"""Store imported messages as posts, a batch per transaction, and never send anything.

Every imported post, from an mbox or a room's history, is stored by ``ArchiveWriter.write``: the one
place that decides author, state, thread and parent for a batch and writes it (``ArchiveStore``). It
decides them as live ingest does (``bridge.relay.ingest``): the author is the member whose address
sent the message, with the roster's name; the thread comes from ``bridge.core.threading``'s rules (via
``bridge.core.archive_threads``); a sender the community banned is stored as rejected. What differs,
because an archive is history:

- no outbox rows, no held posts, no notices: the list already delivered these messages when they
  were written, so a non-member's post in an archive is imported as visible (the list accepted it then)
  and nobody is asked to moderate the past;
- a message already stored in the community (same origin key, Message-ID or event id: an earlier run,
  earlier in the same files, or the relay itself) is counted as already stored and left as it is; one
  that repeats a key of a message this run imported (two mails of an archive sharing a Message-ID) is
  also named, with the message that has it, since only the first of the two is kept.

A batch that loses a race with the daemon (a unique key it stored meanwhile) is read and written again;
a batch the database refuses for another reason is written one message at a time, so only the message
at fault fails, named with the database's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from tortoise.exceptions import BaseORMException, IntegrityError

from bridge.core.archive_threads import ArchivedItem, ArchiveThreads, Placement, StoreAnswers
from bridge.core.message_ids import post_id_from_message_id
from bridge.core.model import Channel, InboundMessage, PostState
from bridge.core.subjects import normalize_subject
from bridge.importer.mbox import name_of
from bridge.importer.progress import Progress
from bridge.relay.community import CommunityContext
from bridge.relay.filing import ArchiveFiling, Writing
from bridge.relay.ingest import SUBJECT_WINDOW, new_thread
from bridge.store import RawMessage, Store
from bridge.store.archive_import import (
    ArchiveStore,
    KnownPosts,
    NewPostRow,
    NewThreadRow,
    fitted,
    thread_subject_fits,
)
from bridge.store.communities import normalise_email, normalise_matrix_id
from bridge.store.database import Transaction

log = logging.getLogger(__name__)

RACE_RETRIES = 3


class Outcome(StrEnum):
    IMPORTED = "imported"
    ALREADY_STORED = "already stored"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Pending:
    """A message to import: ``message.sent_at`` is set; ``where`` names it in reports
    (``FILE#INDEX (line N)``); its bounded values are fitted to the store as the relay fits them."""

    where: str
    message: InboundMessage
    raw: RawMessage | None = None

    def __post_init__(self) -> None:
        # Fitted here, whoever reads the archive, so the run's own keys (repeats, parents) are the
        # stored ones and an archive's 64 KB Subject is imported as the relay would store it.
        object.__setattr__(self, "message", fitted(self.message))


@dataclass(frozen=True, slots=True)
class Written:
    where: str
    outcome: Outcome
    post_id: int | None = None
    reason: str | None = None


class ArchiveWriter:
    """Writes one community's imported messages; keeps the run's threading memory across batches."""

    def __init__(self, store: Store, community: CommunityContext, *, now: datetime | None = None) -> None:
        self.store = store
        self.archive = ArchiveStore(store.db)
        self.community = community
        self.now = now or datetime.now(UTC)
        self.threads = ArchiveThreads(subject_window=SUBJECT_WINDOW)
        self.filing = ArchiveFiling(store)
        self._authors: dict[tuple[str, str], tuple[int, str]] = {}
        self._banned: frozenset[str] = frozenset()
        self._waiting: dict[str, list[int]] = {}  # a parent's Message-ID → replies stored before it
        self._known = KnownPosts({}, {}, {})  # the stored posts the current batch cites
        self._imported_here: dict[str, str] = {}  # origin key / Message-ID → where this run imported it

    async def prepare(self) -> None:
        """Read the roster and the bans once: every post of the run is matched against them."""
        self._authors = await self.archive.authors(self.community.id)
        self._banned = await self.archive.banned(self.community.id)

    async def write(self, batch: Sequence[Pending]) -> list[Written]:
        """Store ``batch`` in one transaction; one result per message, in order."""
        results: dict[int, Written] = {}
        ready = list(enumerate(batch))  # every value already fits the store (``Pending`` fits it)
        for attempt in range(RACE_RETRIES + 1):
            try:
                written = await self._write(ready)
                break
            except IntegrityError:
                if attempt == RACE_RETRIES:
                    written = await self._one_by_one(ready)
                    break
                log.info("an import batch met a post stored meanwhile; reading it again")
            except BaseORMException:
                if len(ready) <= 1:
                    raise
                written = await self._one_by_one(ready)
                break
        results.update(written)
        for position, result in written.items():
            if result.outcome is Outcome.IMPORTED:
                message = batch[position].message
                for key in (message.origin_key, message.email_message_id, message.matrix_event_id):
                    if key is not None:
                        self._imported_here.setdefault(key, result.where)
        return [results[position] for position in range(len(batch))]

    async def _one_by_one(self, ready: list[tuple[int, Pending]]) -> dict[int, Written]:
        results: dict[int, Written] = {}
        for position, item in ready:
            try:
                results.update({position: (await self._write([(0, item)]))[0]})
            except BaseORMException as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                results[position] = Written(
                    item.where, Outcome.FAILED, reason=f"the store refused it: {reason}"
                )
        return results

    async def _write(self, ready: list[tuple[int, Pending]]) -> dict[int, Written]:
        results: dict[int, Written] = {}
        if not ready:
            return results
        async with self.archive.batch() as tx:
            fresh = await self._fresh(ready, tx, results)
            items = [_item(item.message, self.community.config.prefix) for _, item in fresh]
            plan = self.threads.plan(await self._answers(items, tx))
            placements = [plan.place(item) for item in items]
            new_threads = sorted({p.thread_id for p in placements if p.new_thread}, reverse=True)
            thread_ids = dict(
                zip(new_threads, await self.archive.reserve_ids("thread", len(new_threads), tx), strict=True)
            )
            post_ids = await self.archive.reserve_ids("post", len(fresh), tx)
            rows = await self._rows(fresh, placements, thread_ids, post_ids, tx)
            await self.archive.insert(
                self.community.id, self._thread_rows(rows, placements, thread_ids), rows, now=self.now, tx=tx
            )
            await self.archive.touch_threads(_activity(rows, set(thread_ids.values())), tx)
            waiting = self._adopted(fresh, placements, post_ids)
            await self.archive.set_parents(waiting, tx)
            await self._file_tags(rows, set(thread_ids.values()), tx)
        self.threads.commit(plan, thread_ids)
        self._remember_waiting(fresh, placements, post_ids)
        for (position, item), post_id in zip(fresh, post_ids, strict=True):
            results[position] = Written(item.where, Outcome.IMPORTED, post_id)
        return results

    async def _file_tags(self, rows: list[NewPostRow], created: set[int], tx: Transaction) -> None:
        """Tags and practice proposals of the imported posts, in the batch's transaction, by the rules of
        live ingest (``ArchiveFiling``), without telling anyone: an archive is history. A thread this
        batch created is new for its first post only (its subject's [tags] are read there)."""
        opened: set[int] = set()
        for row in rows:
            if row.state is not PostState.VISIBLE:
                continue
            new_thread = row.thread_id in created and row.thread_id not in opened
            opened.add(row.thread_id)
            await self.filing.file_new_post(
                self.community,
                post_id=row.id,
                thread_id=row.thread_id,
                new_thread=new_thread,
                writing=Writing.of_message(row.message),
                now=self.now,
                tx=tx,
                notify=False,
            )

    async def _fresh(
        self, ready: list[tuple[int, Pending]], tx: Transaction, results: dict[int, Written]
    ) -> list[tuple[int, Pending]]:
        """The messages not stored yet; the others, and repeats within the batch, are already stored."""
        messages = [item.message for _, item in ready]
        known = await self.archive.known_posts(
            self.community.id,
            origin_keys=[m.origin_key for m in messages],
            message_ids=[m.email_message_id for m in messages if m.email_message_id],
            event_ids=[m.matrix_event_id for m in messages if m.matrix_event_id],
            tx=tx,
        )
        seen: dict[str, str] = {}  # key → where, for the batch's own repeats
        fresh: list[tuple[int, Pending]] = []
        for position, item in ready:
            message = item.message
            keys = [k for k in (message.origin_key, message.email_message_id, message.matrix_event_id) if k]
            found = known.find(message)
            if found is not None or any(k in seen for k in keys):
                results[position] = Written(
                    item.where,
                    Outcome.ALREADY_STORED,
                    found.post_id if found is not None else None,
                    reason=self._repeat_of(message, seen),
                )
                continue
            seen.update((k, item.where) for k in keys)
            fresh.append((position, item))
        return fresh

    def _repeat_of(self, message: InboundMessage, seen: Mapping[str, str]) -> str | None:
        """Why a message of this run is already stored when an earlier message of the same run has its
        key (two mails sharing a Message-ID lose the second one, so it is named); None when an earlier
        run or the relay stored it (a re-import names nothing)."""
        for key in (message.email_message_id, message.matrix_event_id, message.origin_key):
            first = seen.get(key) if key else None
            first = first or (self._imported_here.get(key) if key else None)
            if first is not None and key == message.email_message_id:
                return f"same Message-ID as {name_of(first)}"
            if first is not None:
                return f"the same message as {name_of(first)}"
        return None

    async def _answers(self, items: list[ArchivedItem], tx: Transaction) -> StoreAnswers:
        wanted = self.threads.wanted(items)
        known = await self.archive.known_posts(
            self.community.id, message_ids=wanted.message_ids, event_ids=wanted.event_ids, tx=tx
        )
        message_threads = {key: ref.thread_id for key, ref in known.by_message_id.items()}
        # Replies to our own edit/batch/notice mails cite ids the store does not keep; they name the post.
        own = {
            cited: post_id
            for cited in wanted.message_ids
            if cited not in message_threads
            and (post_id := post_id_from_message_id(cited, self.community.domain)) is not None
        }
        by_id = await self.archive.posts_by_id(self.community.id, own.values(), tx) if own else {}
        own_refs = {cited: by_id[post_id] for cited, post_id in own.items() if post_id in by_id}
        message_threads.update({cited: ref.thread_id for cited, ref in own_refs.items()})
        self._known = KnownPosts({}, {**known.by_message_id, **own_refs}, known.by_event_id)
        subjects = await self.archive.threads_by_subject(self.community.id, wanted.normalised_subjects, tx)
        return StoreAnswers(
            message_threads=message_threads,
            event_threads={key: ref.thread_id for key, ref in known.by_event_id.items()},
            subject_threads=subjects,
        )

    async def _rows(
        self,
        fresh: list[tuple[int, Pending]],
        placements: list[Placement],
        thread_ids: dict[int, int],
        post_ids: list[int],
        tx: Transaction,
    ) -> list[NewPostRow]:
        batch_posts: dict[str, int] = {}
        rows: list[NewPostRow] = []
        for (_, item), placement, post_id in zip(fresh, placements, post_ids, strict=True):
            message = item.message
            author_id, name = self._author(message)
            parent_id = self._parent(placement, batch_posts)
            rows.append(
                NewPostRow(
                    id=post_id,
                    thread_id=thread_ids.get(placement.thread_id, placement.thread_id),
                    message=message,
                    parent_id=parent_id,
                    author_id=author_id,
                    author_name=name,
                    state=PostState.REJECTED if self._is_banned(message) else PostState.VISIBLE,
                    created_at=message.sent_at or self.now,
                    raw=item.raw,
                )
            )
            if message.email_message_id:
                batch_posts[message.email_message_id] = post_id
            if message.matrix_event_id:
                batch_posts[message.matrix_event_id] = post_id
        return rows

    def _parent(self, placement: Placement, batch_posts: dict[str, int]) -> int | None:
        for cited, known in (
            (placement.parent_event_id, self._known.by_event_id),
            (placement.parent_message_id, self._known.by_message_id),
        ):
            if cited is None:
                continue
            if cited in batch_posts:
                return batch_posts[cited]
            if cited in known:
                return known[cited].post_id
        return None

    def _thread_rows(
        self, rows: list[NewPostRow], placements: list[Placement], thread_ids: dict[int, int]
    ) -> list[NewThreadRow]:
        spans: dict[int, tuple[NewPostRow, datetime, datetime]] = {}
        for row, placement in zip(rows, placements, strict=True):
            if not placement.new_thread:
                continue
            first_row, first, last = spans.get(row.thread_id, (row, row.created_at, row.created_at))
            spans[row.thread_id] = (first_row, min(first, row.created_at), max(last, row.created_at))
        threads = []
        for thread_id, (first_row, first, last) in spans.items():
            subject = new_thread(self.community, first_row.message)
            threads.append(
                NewThreadRow(
                    id=thread_id,
                    subject=thread_subject_fits(subject.subject),
                    normalised_subject=thread_subject_fits(subject.normalised_subject),
                    created_at=first,
                    last_activity_at=last,
                )
            )
        return threads

    def _adopted(
        self, fresh: list[tuple[int, Pending]], placements: list[Placement], post_ids: list[int]
    ) -> dict[int, int]:
        """Replies stored before their parent (in an earlier batch or earlier in this one), now that the
        parent is here: reply id → parent id."""
        waiting = {cited: list(children) for cited, children in self._waiting.items()}
        adopted: dict[int, int] = {}
        for (_, item), placement, post_id in zip(fresh, placements, post_ids, strict=True):
            for child in waiting.pop(item.message.email_message_id or "", []):
                adopted[child] = post_id
            if placement.awaits:
                waiting.setdefault(placement.awaits, []).append(post_id)
        return adopted

    def _remember_waiting(
        self, fresh: list[tuple[int, Pending]], placements: list[Placement], post_ids: list[int]
    ) -> None:
        for (_, item), placement, post_id in zip(fresh, placements, post_ids, strict=True):
            self._waiting.pop(item.message.email_message_id or "", None)
            if placement.awaits:
                self._waiting.setdefault(placement.awaits, []).append(post_id)

    def _author(self, message: InboundMessage) -> tuple[int | None, str]:
        if message.channel is Channel.EMAIL:
            key = ("email", normalise_email(message.sender_address))
        else:
            key = ("matrix", normalise_matrix_id(message.sender_address))
        found = self._authors.get(key)
        return (found[0], found[1]) if found is not None else (None, message.sender_name)

    def _is_banned(self, message: InboundMessage) -> bool:
        return message.sender_address.strip().lower() in self._banned


def _item(message: InboundMessage, prefix: str) -> ArchivedItem:
    return ArchivedItem(
        refs=message.refs,
        subject=message.subject,
        normalised_subject=normalize_subject(message.subject, [prefix]) if message.subject else "",
        sent_at=message.sent_at or datetime.now(UTC),
        message_id=message.email_message_id,
        event_id=message.matrix_event_id,
    )


def _activity(rows: list[NewPostRow], new_threads: set[int]) -> dict[int, datetime]:
    """The latest post date per existing thread the batch added to."""
    latest: dict[int, datetime] = {}
    for row in rows:
        if row.thread_id in new_threads:
            continue
        latest[row.thread_id] = max(latest.get(row.thread_id, row.created_at), row.created_at)
    return latest


def report(results: Sequence[Written], progress: Progress) -> None:
    """Count each result in the run's tally; name each failure."""
    tally = progress.tally
    for written in results:
        if written.outcome is Outcome.IMPORTED:
            tally.imported += 1
        elif written.outcome is Outcome.ALREADY_STORED:
            tally.already_stored += 1
            if written.reason is not None:  # a repeat within the run: the one that lost is named
                progress.not_imported(written.where, f"already stored: {written.reason}")
        else:
            tally.failed += 1
            progress.not_imported(written.where, f"failed: {written.reason}")
