"""Threading an archive: the live rules in the archive's own time, ghosts, late parents, store answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.core.archive_threads import (
    CITED_EARLIER,
    ArchivedItem,
    ArchiveThreads,
    StoreAnswers,
    ThreadSpan,
)
from bridge.core.model import ThreadRefs

T0 = datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)


def mail(
    message_id: str,
    subject: str = "Topic",
    *,
    at: timedelta = timedelta(0),
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> ArchivedItem:
    return ArchivedItem(
        refs=ThreadRefs(in_reply_to=in_reply_to, references=references),
        subject=subject,
        normalised_subject=subject.removeprefix("Re: ").lower(),
        sent_at=T0 + at,
        message_id=message_id,
    )


def test_replies_join_their_parents_within_one_batch() -> None:
    plan = ArchiveThreads(subject_window=WINDOW).plan(StoreAnswers())
    root = plan.place(mail("a"))
    reply = plan.place(mail("b", "Re: Topic", in_reply_to="a", references=("a",)))
    deeper = plan.place(mail("c", "Re: Topic", references=("a", "b")))
    assert root.new_thread
    assert (reply.thread_id, reply.rule, reply.parent_message_id) == (root.thread_id, "in_reply_to", "a")
    assert (deeper.thread_id, deeper.rule, deeper.parent_message_id) == (root.thread_id, "references", "b")


def test_the_store_knows_earlier_batches_and_live_posts() -> None:
    plan = ArchiveThreads(subject_window=WINDOW).plan(StoreAnswers(message_threads={"stored": 42}))
    placed = plan.place(mail("x", "Re: Topic", in_reply_to="stored"))
    assert (placed.thread_id, placed.parent_message_id) == (42, "stored")


def test_subject_window_runs_on_the_archive_clock() -> None:
    """A "Re:" 10 days after a thread's last post joins it; 30 days after does not, years later or not."""
    stored = StoreAnswers(subject_threads={"topic": [ThreadSpan(7, T0, T0)]})
    plan = ArchiveThreads(subject_window=WINDOW).plan(stored)
    assert plan.place(mail("soon", "Re: Topic", at=timedelta(days=10))).thread_id == 7
    late = plan.place(mail("late", "Re: Topic", at=timedelta(days=40)))
    assert late.new_thread
    assert late.rule == "new"


def test_subject_rule_ignores_a_thread_that_did_not_exist_yet() -> None:
    """A reply dated before a stored thread began is not folded into it."""
    stored = StoreAnswers(
        subject_threads={"topic": [ThreadSpan(7, T0 + timedelta(days=3), T0 + timedelta(days=3))]}
    )
    placed = ArchiveThreads(subject_window=WINDOW).plan(stored).place(mail("early", "Re: Topic"))
    assert placed.new_thread


def test_subject_without_reply_marker_starts_a_thread() -> None:
    stored = StoreAnswers(subject_threads={"topic": [ThreadSpan(7, T0, T0)]})
    assert ArchiveThreads(subject_window=WINDOW).plan(stored).place(mail("new", "Topic")).new_thread


def test_siblings_of_a_lost_parent_share_a_thread_across_batches() -> None:
    threads = ArchiveThreads(subject_window=WINDOW)
    first = threads.plan(StoreAnswers())
    orphan = first.place(mail("o1", "Re: Lost", in_reply_to="lost", references=("lost",)))
    assert orphan.new_thread
    assert orphan.awaits == "lost"
    threads.commit(first, {orphan.thread_id: 500})
    assert threads.wanted([mail("o2", "Re: Other", references=("lost",))]).message_ids == frozenset()
    sibling = threads.plan(StoreAnswers()).place(mail("o2", "Re: Other", references=("lost",)))
    assert (sibling.thread_id, sibling.rule) == (500, "references")


def test_a_parent_filed_after_its_reply_joins_the_reply() -> None:
    threads = ArchiveThreads(subject_window=WINDOW)
    plan = threads.plan(StoreAnswers())
    child = plan.place(mail("child", "Re: Late", in_reply_to="parent"))
    parent = plan.place(mail("parent", "Late", at=timedelta(hours=-1)))
    assert (parent.thread_id, parent.rule) == (child.thread_id, CITED_EARLIER)
    threads.commit(plan, {child.thread_id: 9})
    assert "parent" not in threads.ghosts  # it arrived: no longer a ghost


def test_nothing_is_remembered_from_a_batch_that_was_not_committed() -> None:
    """A batch rolled back (a race with the daemon) leaves no ghost behind."""
    threads = ArchiveThreads(subject_window=WINDOW)
    threads.plan(StoreAnswers()).place(mail("o1", "Re: Lost", in_reply_to="lost"))
    assert threads.ghosts == {}


def test_matrix_threads_and_replies_by_event_id() -> None:
    plan = ArchiveThreads(subject_window=WINDOW).plan(StoreAnswers(event_threads={"$root": 3}))
    in_thread = ArchivedItem(
        refs=ThreadRefs(matrix_thread_root="$root", matrix_in_reply_to="$root"),
        subject=None,
        normalised_subject="",
        sent_at=T0,
        event_id="$a",
    )
    reply = ArchivedItem(
        refs=ThreadRefs(matrix_in_reply_to="$a"),
        subject=None,
        normalised_subject="",
        sent_at=T0,
        event_id="$b",
    )
    first, second = plan.place(in_thread), plan.place(reply)
    assert (first.thread_id, first.rule, first.parent_event_id) == (3, "matrix_thread", "$root")
    assert (second.thread_id, second.rule, second.parent_event_id) == (3, "matrix_reply", "$a")
