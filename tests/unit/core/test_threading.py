"""Thread resolution across channels (DESIGN §4)."""

from datetime import UTC, datetime, timedelta

import pytest

from bridge.core.model import ThreadRefs
from bridge.core.threading import (
    KnownRefs,
    LookupRequest,
    SubjectCandidate,
    ThreadChoice,
    ThreadRule,
    ids_to_look_up,
    resolve_thread,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)

# A three-hop email chain: root (thread 10) <- a <- b, plus an unrelated thread 20.
KNOWN_CHAIN = {"root@x": 10, "a@x": 10, "b@x": 10, "other@x": 20}


def resolve(
    refs: ThreadRefs,
    known: KnownRefs,
    subject: str | None = None,
    *,
    now: datetime = NOW,
    window: timedelta = WINDOW,
) -> ThreadChoice:
    return resolve_thread(refs, subject, known, now=now, subject_window=window)


@pytest.mark.parametrize(
    ("refs", "thread_id", "reason", "parent"),
    [
        # In-Reply-To to any hop of a known chain.
        (ThreadRefs(in_reply_to="b@x"), 10, ThreadRule.IN_REPLY_TO, "b@x"),
        (ThreadRefs(in_reply_to="root@x"), 10, ThreadRule.IN_REPLY_TO, "root@x"),
        # In-Reply-To beats References, even when they disagree.
        (
            ThreadRefs(in_reply_to="other@x", references=("root@x", "a@x")),
            20,
            ThreadRule.IN_REPLY_TO,
            "other@x",
        ),
        # Unknown parent: the newest known ancestor in References decides.
        (
            ThreadRefs(in_reply_to="lost@x", references=("root@x", "a@x", "b@x", "lost@x")),
            10,
            ThreadRule.REFERENCES,
            "b@x",
        ),
        # References read last-known-first: the newest known id wins over an older one.
        (
            ThreadRefs(references=("other@x", "unknown@x", "a@x", "gone@x")),
            10,
            ThreadRule.REFERENCES,
            "a@x",
        ),
        (
            ThreadRefs(references=("a@x", "other@x")),
            20,
            ThreadRule.REFERENCES,
            "other@x",
        ),
        # Only the root survived a trimming client.
        (ThreadRefs(references=("root@x",)), 10, ThreadRule.REFERENCES, "root@x"),
    ],
)
def test_email_headers(refs: ThreadRefs, thread_id: int, reason: ThreadRule, parent: str) -> None:
    choice = resolve(refs, KnownRefs(message_threads=KNOWN_CHAIN))
    assert (choice.thread_id, choice.reason, choice.parent_message_id) == (thread_id, reason, parent)
    assert choice.parent_event_id is None


def test_unknown_ids_everywhere_start_a_new_thread() -> None:
    refs = ThreadRefs(in_reply_to="x@y", references=("w@y", "x@y"))
    choice = resolve(refs, KnownRefs(message_threads=KNOWN_CHAIN), "Hello")
    assert choice.is_new
    assert choice.reason is ThreadRule.NEW
    assert choice.parent_message_id is None
    assert choice.unknown_message_ids == ("w@y", "x@y")


def test_unknown_ids_are_reported_for_a_found_thread_too() -> None:
    refs = ThreadRefs(in_reply_to="lost@x", references=("root@x", "lost@x", "new@x"))
    choice = resolve(refs, KnownRefs(message_threads=KNOWN_CHAIN))
    assert choice.thread_id == 10
    assert choice.unknown_message_ids == ("lost@x", "new@x")


def test_adopted_unknown_ids_let_the_next_reply_find_the_thread() -> None:
    first = ThreadRefs(in_reply_to="outside@y", references=("outside@y",))
    choice = resolve(first, KnownRefs())
    assert choice.is_new
    # The store records the new thread (say 30) for the new post and for the ids it reported.
    known = KnownRefs(message_threads=dict.fromkeys(("mine@x", *choice.unknown_message_ids), 30))
    second = ThreadRefs(in_reply_to="outside@y", references=("outside@y",))
    assert resolve(second, known).thread_id == 30


def test_token_is_used_when_headers_are_stripped() -> None:
    choice = resolve(ThreadRefs(reply_token="tok"), KnownRefs(token_thread_id=33), "Re: Hello")
    assert (choice.thread_id, choice.reason) == (33, ThreadRule.REPLY_TOKEN)
    assert choice.parent_message_id is None


def test_headers_beat_the_token() -> None:
    refs = ThreadRefs(in_reply_to="a@x", reply_token="tok")
    choice = resolve(refs, KnownRefs(message_threads=KNOWN_CHAIN, token_thread_id=33))
    assert (choice.thread_id, choice.reason) == (10, ThreadRule.IN_REPLY_TO)


def test_token_beats_the_subject() -> None:
    known = KnownRefs(
        token_thread_id=33,
        subject_candidates=(SubjectCandidate(44, NOW - timedelta(hours=1)),),
    )
    choice = resolve(ThreadRefs(reply_token="tok"), known, "Re: Hello")
    assert (choice.thread_id, choice.reason) == (33, ThreadRule.REPLY_TOKEN)


def test_unverified_token_is_not_enough() -> None:
    # The store passes token_thread_id only for a verified token; a bare token in refs does nothing.
    choice = resolve(ThreadRefs(reply_token="forged"), KnownRefs(), "Hello")
    assert choice.is_new


@pytest.mark.parametrize(
    ("subject", "age", "thread_id", "reason"),
    [
        ("Re: Hello", timedelta(hours=1), 44, ThreadRule.SUBJECT),
        ("[pm] AW: Hello", timedelta(days=6), 44, ThreadRule.SUBJECT),
        ("Re: Hello", WINDOW, 44, ThreadRule.SUBJECT),  # the window's edge is inside
        ("Re: Hello", WINDOW + timedelta(seconds=1), None, ThreadRule.NEW),  # expired
        ("Hello", timedelta(hours=1), None, ThreadRule.NEW),  # not a reply: a new conversation
        ("Fwd: Hello", timedelta(hours=1), None, ThreadRule.NEW),  # a forward starts its own
        (None, timedelta(hours=1), None, ThreadRule.NEW),
    ],
)
def test_subject_fallback(
    subject: str | None, age: timedelta, thread_id: int | None, reason: ThreadRule
) -> None:
    known = KnownRefs(subject_candidates=(SubjectCandidate(44, NOW - age),))
    choice = resolve(ThreadRefs(), known, subject)
    assert (choice.thread_id, choice.reason) == (thread_id, reason)


def test_subject_fallback_picks_the_most_recent_candidate_in_the_window() -> None:
    known = KnownRefs(
        subject_candidates=(
            SubjectCandidate(1, NOW - timedelta(days=30)),  # outside the window
            SubjectCandidate(2, NOW - timedelta(days=3)),
            SubjectCandidate(3, NOW - timedelta(hours=2)),
            SubjectCandidate(4, NOW - timedelta(days=1)),
        )
    )
    assert resolve(ThreadRefs(), known, "Re: x").thread_id == 3


def test_subject_fallback_tie_is_broken_deterministically() -> None:
    when = NOW - timedelta(hours=1)
    forward = KnownRefs(subject_candidates=(SubjectCandidate(5, when), SubjectCandidate(6, when)))
    backward = KnownRefs(subject_candidates=(SubjectCandidate(6, when), SubjectCandidate(5, when)))
    assert resolve(ThreadRefs(), forward, "Re: x").thread_id == 6
    assert resolve(ThreadRefs(), backward, "Re: x").thread_id == 6


def test_subject_window_follows_now() -> None:
    known = KnownRefs(subject_candidates=(SubjectCandidate(44, NOW),))
    later = NOW + WINDOW + timedelta(minutes=1)
    assert resolve(ThreadRefs(), known, "Re: x", now=later).is_new
    assert resolve(ThreadRefs(), known, "Re: x", now=later, window=WINDOW * 2).thread_id == 44


def test_known_references_beat_the_subject() -> None:
    known = KnownRefs(
        message_threads=KNOWN_CHAIN,
        subject_candidates=(SubjectCandidate(44, NOW - timedelta(hours=1)),),
    )
    choice = resolve(ThreadRefs(references=("a@x",)), known, "Re: Hello")
    assert (choice.thread_id, choice.reason) == (10, ThreadRule.REFERENCES)


# Matrix

EVENTS = {"$root": 50, "$in-thread": 50, "$plain": 60}


@pytest.mark.parametrize(
    ("refs", "thread_id", "reason", "parent"),
    [
        (ThreadRefs(matrix_thread_root="$root"), 50, ThreadRule.MATRIX_THREAD, "$root"),
        # A reply inside the thread: the replied-to event is the parent.
        (
            ThreadRefs(matrix_thread_root="$root", matrix_in_reply_to="$in-thread"),
            50,
            ThreadRule.MATRIX_THREAD,
            "$in-thread",
        ),
        # The thread relation wins over a reply to an event of another thread.
        (
            ThreadRefs(matrix_thread_root="$root", matrix_in_reply_to="$plain"),
            50,
            ThreadRule.MATRIX_THREAD,
            "$root",
        ),
        # A rich reply outside threads joins the parent's thread.
        (ThreadRefs(matrix_in_reply_to="$plain"), 60, ThreadRule.MATRIX_REPLY, "$plain"),
        (ThreadRefs(matrix_in_reply_to="$in-thread"), 50, ThreadRule.MATRIX_REPLY, "$in-thread"),
        # Unknown thread root, known reply parent: the parent still places it.
        (
            ThreadRefs(matrix_thread_root="$unknown", matrix_in_reply_to="$plain"),
            60,
            ThreadRule.MATRIX_REPLY,
            "$plain",
        ),
    ],
)
def test_matrix_relations(refs: ThreadRefs, thread_id: int, reason: ThreadRule, parent: str) -> None:
    choice = resolve(refs, KnownRefs(event_threads=EVENTS))
    assert (choice.thread_id, choice.reason, choice.parent_event_id) == (thread_id, reason, parent)
    assert choice.parent_message_id is None


def test_plain_room_message_starts_a_new_thread() -> None:
    choice = resolve(ThreadRefs(), KnownRefs(event_threads=EVENTS))
    assert choice.is_new
    assert choice.unknown_event_ids == ()


def test_unknown_matrix_thread_root_is_reported_for_adoption() -> None:
    choice = resolve(ThreadRefs(matrix_thread_root="$before-the-bridge"), KnownRefs(event_threads=EVENTS))
    assert choice.is_new
    assert choice.unknown_event_ids == ("$before-the-bridge",)


def test_matrix_message_ignores_email_subject_fallback() -> None:
    known = KnownRefs(subject_candidates=(SubjectCandidate(44, NOW),))
    assert resolve(ThreadRefs(matrix_in_reply_to="$gone"), known, None).is_new


# Lookups


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        (ThreadRefs(), LookupRequest()),
        (
            ThreadRefs(in_reply_to="c@x", references=("a@x", "b@x", "c@x")),
            LookupRequest(message_ids=("a@x", "b@x", "c@x")),
        ),
        (
            ThreadRefs(in_reply_to="z@x", references=("a@x",)),
            LookupRequest(message_ids=("a@x", "z@x")),
        ),
        (ThreadRefs(reply_token="tok"), LookupRequest(reply_token="tok")),
        (
            ThreadRefs(matrix_thread_root="$r", matrix_in_reply_to="$p"),
            LookupRequest(event_ids=("$r", "$p")),
        ),
        (
            ThreadRefs(matrix_thread_root="$r", matrix_in_reply_to="$r"),
            LookupRequest(event_ids=("$r",)),
        ),
    ],
)
def test_ids_to_look_up(refs: ThreadRefs, expected: LookupRequest) -> None:
    assert ids_to_look_up(refs) == expected


def test_lookup_request_empty() -> None:
    assert LookupRequest().empty
    assert not ids_to_look_up(ThreadRefs(reply_token="t")).empty
