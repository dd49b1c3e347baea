"""Threads of an archive being imported, decided by the same rules as live mail and chat.

Live ingest asks the store about each message as it arrives; an import places thousands of messages
per batch, so the store is asked once per batch (``wanted``) and the batch's own messages are placed
one after another on top of those answers, each seeing the ones before it. The rules are
``bridge.core.threading``'s, unchanged, with two differences an archive needs:

- time is the archive's own: a message's "now" is its date, and the subject rule looks for threads
  active within the window before that date, not before the day of the import;
- ghosts (JWZ's empty containers): a Message-ID cited by a reply but never seen is remembered as
  belonging to the reply's thread, so a sibling citing the same lost parent joins it, and so does the
  parent itself when it turns up later in the archive (archives are not always in order).

Thread ids are the store's, or provisional negative numbers for threads the batch creates; the caller
reserves real ids and hands the mapping to ``commit``.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.core.model import ThreadRefs
from bridge.core.subjects import is_reply_subject
from bridge.core.threading import KnownRefs, SubjectCandidate, ids_to_look_up, resolve_thread

CITED_EARLIER = "cited_earlier"
"""The rule name of a message whose own Message-ID an earlier reply of the archive cited."""


@dataclass(frozen=True, slots=True)
class ThreadSpan:
    """A thread with its first and latest activity, as the subject rule needs it."""

    thread_id: int
    created_at: datetime
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class ArchivedItem:
    """What threading reads from one message of the archive."""

    refs: ThreadRefs
    subject: str | None
    normalised_subject: str
    sent_at: datetime
    message_id: str | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one message goes: ``thread_id`` is negative for a thread this batch creates.

    ``parent_message_id``/``parent_event_id`` name the known message it answers; ``awaits`` the
    Message-ID its In-Reply-To names when that parent has not been seen (yet).
    """

    thread_id: int
    rule: str
    parent_message_id: str | None = None
    parent_event_id: str | None = None
    awaits: str | None = None

    @property
    def new_thread(self) -> bool:
        return self.thread_id < 0


@dataclass(frozen=True, slots=True)
class StoreAnswers:
    """What the store knows about the ids and subjects a batch cites (see ``ArchiveThreads.wanted``)."""

    message_threads: Mapping[str, int] = field(default_factory=dict)
    event_threads: Mapping[str, int] = field(default_factory=dict)
    subject_threads: Mapping[str, Sequence[ThreadSpan]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Wanted:
    message_ids: frozenset[str]
    event_ids: frozenset[str]
    normalised_subjects: frozenset[str]


class ArchiveThreads:
    """The threading memory of one import run: ghosts, across its batches."""

    def __init__(self, *, subject_window: timedelta) -> None:
        self.subject_window = subject_window
        self.ghosts: dict[str, int] = {}  # Message-ID or event id cited, never stored → its thread

    def wanted(self, items: Sequence[ArchivedItem]) -> Wanted:
        """Every id the batch cites that only the store can know, and the subjects to ask about."""
        message_ids: set[str] = set()
        event_ids: set[str] = set()
        subjects: set[str] = set()
        for item in items:
            request = ids_to_look_up(item.refs)
            message_ids.update(request.message_ids)
            event_ids.update(request.event_ids)
            if is_reply_subject(item.subject):
                subjects.add(item.normalised_subject)
        return Wanted(
            frozenset(i for i in message_ids if i not in self.ghosts),
            frozenset(i for i in event_ids if i not in self.ghosts),
            frozenset(subjects),
        )

    def plan(self, store: StoreAnswers) -> BatchPlan:
        """A plan for the next batch, on top of the store's answers to ``wanted``."""
        return BatchPlan(self, store)

    def commit(self, plan: BatchPlan, thread_ids: Mapping[int, int]) -> None:
        """Keep what a stored batch taught: its ghosts, with provisional thread ids made real."""
        for cited, thread in plan.new_ghosts.items():
            if cited not in plan.arrived:
                self.ghosts[cited] = thread_ids.get(thread, thread)
        for arrived in plan.arrived:
            self.ghosts.pop(arrived, None)


class BatchPlan:
    """Places the messages of one batch in order; nothing is remembered until ``commit``."""

    def __init__(self, threads: ArchiveThreads, store: StoreAnswers) -> None:
        self._threads = threads
        self._store = store
        self._placed_messages: dict[str, int] = {}
        self._placed_events: dict[str, int] = {}
        self.new_ghosts: dict[str, int] = {}
        self.arrived: set[str] = set()
        self._new_spans: dict[str, dict[int, tuple[datetime, datetime]]] = {}
        self._next_new = -1
        self._messages: Mapping[str, int] = ChainMap(
            self._placed_messages, self.new_ghosts, threads.ghosts, dict(store.message_threads)
        )
        self._events: Mapping[str, int] = ChainMap(
            self._placed_events, self.new_ghosts, threads.ghosts, dict(store.event_threads)
        )

    def place(self, item: ArchivedItem) -> Placement:
        cited_thread = self._messages.get(item.message_id) if item.message_id else None
        if cited_thread is not None and item.message_id not in self._placed_messages:
            placement = Placement(cited_thread, CITED_EARLIER)
            self.arrived.add(item.message_id or "")
        else:
            known = KnownRefs(
                message_threads=self._messages,
                event_threads=self._events,
                subject_candidates=self._candidates(item),
            )
            choice = resolve_thread(
                item.refs, item.subject, known, now=item.sent_at, subject_window=self._threads.subject_window
            )
            thread = choice.thread_id if choice.thread_id is not None else self._new_thread()
            awaits = item.refs.in_reply_to if item.refs.in_reply_to in choice.unknown_message_ids else None
            placement = Placement(
                thread, choice.reason.value, choice.parent_message_id, choice.parent_event_id, awaits
            )
            for cited in (*choice.unknown_message_ids, *choice.unknown_event_ids):
                self.new_ghosts.setdefault(cited, thread)
        self._remember(item, placement.thread_id)
        return placement

    def _new_thread(self) -> int:
        thread, self._next_new = self._next_new, self._next_new - 1
        return thread

    def _remember(self, item: ArchivedItem, thread: int) -> None:
        if item.message_id:
            self._placed_messages[item.message_id] = thread
        if item.event_id:
            self._placed_events[item.event_id] = thread
        spans = self._new_spans.setdefault(item.normalised_subject, {})
        first, last = spans.get(thread, (item.sent_at, item.sent_at))
        spans[thread] = (min(first, item.sent_at), max(last, item.sent_at))

    def _candidates(self, item: ArchivedItem) -> list[SubjectCandidate]:
        """Threads of the same subject that existed at the message's date and were active within the
        window before it; a thread active later too counts as active at that date."""
        if not is_reply_subject(item.subject):
            return []
        moment = item.sent_at
        earliest = moment - self._threads.subject_window
        spans: dict[int, tuple[datetime, datetime]] = {
            span.thread_id: (span.created_at, span.last_activity_at)
            for span in self._store.subject_threads.get(item.normalised_subject, ())
        }
        for thread, (first, last) in self._new_spans.get(item.normalised_subject, {}).items():
            old = spans.get(thread)
            spans[thread] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
        return [
            SubjectCandidate(thread, min(last, moment))
            for thread, (first, last) in spans.items()
            if first <= moment and last >= earliest
        ]
