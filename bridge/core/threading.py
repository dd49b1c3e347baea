"""Which thread an inbound message belongs to, from what the store already knows (DESIGN §4).

The store answers a few lookups (``ids_to_look_up``) and hands the answers over as ``KnownRefs``;
the decision itself is a pure, ordered chain of small rules, strongest evidence first, so it is
testable without a database and explains itself through ``ThreadChoice.reason``.

Email: In-Reply-To, then References from the newest known, then the verified reply-address token,
then the subject of a recently active thread (JWZ's fallback, only for subjects that say they are
replies). Matrix: the ``m.thread`` root, then the ``m.in_reply_to`` parent. Anything else starts a
new thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bridge.core.model import ThreadRefs
from bridge.core.subjects import is_reply_subject


class ThreadRule(StrEnum):
    """The rule that placed a message; ``NEW`` when none did."""

    MATRIX_THREAD = "matrix_thread"
    MATRIX_REPLY = "matrix_reply"
    IN_REPLY_TO = "in_reply_to"
    REFERENCES = "references"
    REPLY_TOKEN = "reply_token"  # noqa: S105 (a rule name, not a secret)
    SUBJECT = "subject"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """The ids the store must resolve to thread ids before ``resolve_thread`` can decide."""

    message_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    reply_token: str | None = None  # to verify (tokens.verify_reply_token) and map to its thread

    @property
    def empty(self) -> bool:
        return not (self.message_ids or self.event_ids or self.reply_token)


@dataclass(frozen=True, slots=True)
class SubjectCandidate:
    """A thread whose normalised subject equals the message's, with its last activity."""

    thread_id: int
    last_activity: datetime


@dataclass(frozen=True, slots=True)
class KnownRefs:
    """The store's answers: which of the looked-up ids it knows, and in which thread.

    ``token_thread_id`` is the thread of a reply token that was *verified* for this sender; an
    unverified token must not be passed. ``subject_candidates`` are threads of the same community
    whose normalised subject matches (the store may pre-filter by the window; the rule filters
    again).
    """

    message_threads: Mapping[str, int] = field(default_factory=dict)
    event_threads: Mapping[str, int] = field(default_factory=dict)
    token_thread_id: int | None = None
    subject_candidates: Sequence[SubjectCandidate] = ()


@dataclass(frozen=True, slots=True)
class ThreadChoice:
    """Where a message goes: ``thread_id`` None means start a new thread.

    ``parent_message_id``/``parent_event_id`` name the known message it answers, when one matched.
    ``unknown_message_ids``/``unknown_event_ids`` are ids the message cites that the store does not
    know; recording them as belonging to the chosen (or new) thread lets later replies that cite
    only them find the conversation, as JWZ's empty containers do.
    """

    thread_id: int | None
    reason: ThreadRule
    parent_message_id: str | None = None
    parent_event_id: str | None = None
    unknown_message_ids: tuple[str, ...] = ()
    unknown_event_ids: tuple[str, ...] = ()

    @property
    def is_new(self) -> bool:
        return self.thread_id is None


@dataclass(frozen=True, slots=True)
class _Context:
    refs: ThreadRefs
    subject: str | None
    known: KnownRefs
    now: datetime
    subject_window: timedelta


def _message_ids(refs: ThreadRefs) -> tuple[str, ...]:
    cited = (*refs.references, refs.in_reply_to) if refs.in_reply_to else refs.references
    return tuple(dict.fromkeys(cited))


def _event_ids(refs: ThreadRefs) -> tuple[str, ...]:
    cited = (refs.matrix_thread_root, refs.matrix_in_reply_to)
    return tuple(dict.fromkeys(event for event in cited if event))


def ids_to_look_up(refs: ThreadRefs) -> LookupRequest:
    """Everything a message cites, for the store to map to threads in one round trip."""
    return LookupRequest(
        message_ids=_message_ids(refs), event_ids=_event_ids(refs), reply_token=refs.reply_token
    )


def _by_matrix_thread(ctx: _Context) -> ThreadChoice | None:
    """An ``m.thread`` relation names the conversation outright: its root's thread.

    The parent is the replied-to event when it is in the same thread (a reply inside a thread), else
    the root itself.
    """
    root = ctx.refs.matrix_thread_root
    thread_id = ctx.known.event_threads.get(root) if root else None
    if thread_id is None:
        return None
    reply_to = ctx.refs.matrix_in_reply_to
    same = reply_to is not None and ctx.known.event_threads.get(reply_to) == thread_id
    parent = reply_to if same else root
    return ThreadChoice(thread_id, ThreadRule.MATRIX_THREAD, parent_event_id=parent)


def _by_matrix_reply(ctx: _Context) -> ThreadChoice | None:
    """A rich reply outside any thread joins the thread of the event it answers."""
    parent = ctx.refs.matrix_in_reply_to
    thread_id = ctx.known.event_threads.get(parent) if parent else None
    if thread_id is None:
        return None
    return ThreadChoice(thread_id, ThreadRule.MATRIX_REPLY, parent_event_id=parent)


def _by_in_reply_to(ctx: _Context) -> ThreadChoice | None:
    """In-Reply-To names the direct parent: the strongest email evidence."""
    parent = ctx.refs.in_reply_to
    thread_id = ctx.known.message_threads.get(parent) if parent else None
    if thread_id is None:
        return None
    return ThreadChoice(thread_id, ThreadRule.IN_REPLY_TO, parent_message_id=parent)


def _by_references(ctx: _Context) -> ThreadChoice | None:
    """References lists the ancestry oldest first; the newest id we know is the nearest known
    ancestor."""
    for ancestor in reversed(ctx.refs.references):
        thread_id = ctx.known.message_threads.get(ancestor)
        if thread_id is not None:
            return ThreadChoice(thread_id, ThreadRule.REFERENCES, parent_message_id=ancestor)
    return None


def _by_reply_token(ctx: _Context) -> ThreadChoice | None:
    """The reply address was minted for this member and thread, so it survives stripped headers."""
    if ctx.known.token_thread_id is None:
        return None
    return ThreadChoice(ctx.known.token_thread_id, ThreadRule.REPLY_TOKEN)


def _by_subject(ctx: _Context) -> ThreadChoice | None:
    """A reply-marked subject joins the most recently active thread of that subject within the
    window.

    Only replies qualify: two people starting "Meeting notes" a week apart are two conversations.
    Among several candidates the latest activity wins, then the newest thread, so the choice is
    deterministic.
    """
    if not is_reply_subject(ctx.subject):
        return None
    recent = [
        candidate
        for candidate in ctx.known.subject_candidates
        if ctx.now - candidate.last_activity <= ctx.subject_window
    ]
    if not recent:
        return None
    best = max(recent, key=lambda candidate: (candidate.last_activity, candidate.thread_id))
    return ThreadChoice(best.thread_id, ThreadRule.SUBJECT)


ThreadRuleFn = Callable[[_Context], ThreadChoice | None]

# Each channel fills only its own fields of ThreadRefs, so one chain serves both.
THREAD_RULES: tuple[ThreadRuleFn, ...] = (
    _by_matrix_thread,
    _by_matrix_reply,
    _by_in_reply_to,
    _by_references,
    _by_reply_token,
    _by_subject,
)


def resolve_thread(
    refs: ThreadRefs,
    subject: str | None,
    known: KnownRefs,
    *,
    now: datetime,
    subject_window: timedelta,
) -> ThreadChoice:
    """Apply the rules in order; the first that matches decides, else the message starts a new
    thread."""
    ctx = _Context(refs, subject, known, now, subject_window)
    choice = next(
        (found for found in (rule(ctx) for rule in THREAD_RULES) if found is not None),
        ThreadChoice(None, ThreadRule.NEW),
    )
    unknown_messages = tuple(m for m in _message_ids(refs) if m not in known.message_threads)
    unknown_events = tuple(e for e in _event_ids(refs) if e not in known.event_threads)
    return ThreadChoice(
        choice.thread_id,
        choice.reason,
        parent_message_id=choice.parent_message_id,
        parent_event_id=choice.parent_event_id,
        unknown_message_ids=unknown_messages,
        unknown_event_ids=unknown_events,
    )
