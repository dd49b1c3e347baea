"""Digest ranking and selection on built scenarios whose answers are known by construction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bridge.core.digest.facts import (
    CommunityPeriod,
    MeetingFact,
    NewcomerFact,
    PostFact,
    PracticeFact,
    ReaderView,
    ThreadFact,
)
from bridge.core.digest.ranking import base_score
from bridge.core.digest.selection import DigestLimits, rank_period, snippet
from bridge.core.model import Channel, PracticeState

END = datetime(2026, 3, 9, 8, tzinfo=UTC)
START = END - timedelta(days=7)
LONG = (
    "We sized the migration with reference classes from the last three platform moves, "
    "then widened the range for the vendor we had never worked with before."
)
READER = ReaderView("person:99")


def thread(
    thread_id: int,
    author: str,
    repliers: list[str],
    *,
    at: datetime = END - timedelta(hours=6),
    tags: tuple[str, ...] = (),
    channels: tuple[Channel, ...] = (Channel.EMAIL,),
    reactions: int = 0,
    practice: PracticeState | None = None,
    created: datetime | None = None,
    text: str = LONG,
) -> ThreadFact:
    """A thread opened by ``author`` at ``at`` with one reply from each of ``repliers`` an hour apart."""
    root = PostFact(thread_id * 100, author, author.title(), channels[0], at, text, reactions, is_root=True)
    posts = [root] + [
        PostFact(
            thread_id * 100 + i,
            who,
            who.title(),
            channels[i % len(channels)],
            at + timedelta(minutes=i),
            f"Reply {i} from {who}.",
        )
        for i, who in enumerate(repliers, start=1)
    ]
    return ThreadFact(
        thread_id=thread_id,
        subject=f"Thread {thread_id}",
        author=author,
        author_name=author.title(),
        created_at=created or at,
        root_text=text,
        posts=tuple(posts),
        tags=tags,
        practice=practice,
    )


def period(*threads: ThreadFact, **extra: object) -> CommunityPeriod:
    fields: dict[str, object] = {
        "slug": "pm",
        "name": "PM Practice",
        "mission": "Project leads compare how they plan.",
        "base_url": "https://icop.example.com",
        "start": START,
        "end": END,
        "threads": threads,
    }
    fields.update(extra)
    return CommunityPeriod(**fields)  # type: ignore[arg-type]


def top_ids(community: CommunityPeriod, reader: ReaderView = READER, **limits: int) -> list[int]:
    ranked = rank_period(community, limits=DigestLimits(**limits))
    return [item.thread_id for item in ranked.for_reader(reader).top]


def test_distinct_participants_outrank_a_monologue_of_the_same_length() -> None:
    lively = thread(1, "ana", ["bo", "cy", "di", "ed"])
    monologue = thread(2, "fay", ["fay", "fay", "fay", "fay"])
    assert top_ids(period(monologue, lively)) == [1, 2]


def test_a_conversation_across_mail_and_chat_outranks_the_same_on_one_channel() -> None:
    crossing = thread(1, "ana", ["bo", "cy"], channels=(Channel.EMAIL, Channel.MATRIX))
    one_side = thread(2, "di", ["ed", "fay"])
    assert top_ids(period(one_side, crossing)) == [1, 2]


def test_reactions_and_practice_marks_lift_a_thread() -> None:
    plain = thread(1, "ana", ["bo", "cy"])
    liked = thread(2, "di", ["ed", "fay"], reactions=4)
    practice = thread(3, "gus", ["hal", "ivy"], practice=PracticeState.CONFIRMED)
    proposed = thread(4, "jo", ["kim", "lu"], practice=PracticeState.PROPOSED)
    assert top_ids(period(plain, liked, practice, proposed)) == [2, 3, 4, 1]


def test_recent_activity_outranks_the_same_activity_early_in_the_period() -> None:
    early = thread(1, "ana", ["bo", "cy"], at=START + timedelta(hours=2))
    late = thread(2, "di", ["ed", "fay"], at=END - timedelta(hours=2))
    assert top_ids(period(early, late)) == [2, 1]
    # Exactly: one period of age halves the score (the decay's half-life is the period's length).
    aged = thread(3, "ana", ["bo", "cy"], at=START, created=START)
    fresh = thread(4, "ana", ["bo", "cy"], at=END, created=START)
    ratio = base_score(aged, START, END) / base_score(fresh, START, END)
    assert abs(ratio - 0.5) < 0.01


def test_at_most_two_items_per_tag_and_one_per_author_at_the_top() -> None:
    estimation = [
        thread(i, f"author{i}", ["w", "x", "y", "z"][: 5 - i], tags=("estimation",)) for i in (1, 2, 3)
    ]
    by_ana = [thread(4, "ana", ["p"], tags=("risk",)), thread(5, "ana", [], tags=("risk",))]
    quiet = thread(6, "bo", [], tags=("retro",))
    assert top_ids(period(*estimation, *by_ana, quiet)) == [1, 2, 4, 6]
    # With room for more, the rules still hold: what they refuse never fills a gap.
    assert top_ids(period(*estimation, *by_ana, quiet), top=10) == [1, 2, 4, 6]


def test_a_readers_own_threads_are_not_news_to_them() -> None:
    mine = thread(1, "person:99", ["bo", "cy", "di"])
    theirs = thread(2, "ed", ["fay"])
    assert top_ids(period(mine, theirs)) == [2]
    assert top_ids(period(mine, theirs), ReaderView("person:7")) == [1, 2]


def test_a_followed_tag_lifts_a_thread_for_that_reader_only() -> None:
    busy = thread(1, "ana", ["bo", "cy", "di"], tags=("estimation",))
    risk = thread(2, "ed", ["fay"], tags=("risk",))
    community = period(busy, risk)
    assert top_ids(community) == [1, 2]
    assert top_ids(community, ReaderView("person:5", frozenset({"risk"}))) == [2, 1]


def test_snippets_carry_at_least_100_characters_when_the_thread_has_them() -> None:
    short = thread(1, "ana", ["bo", "cy"], text="Anyone tried #NoEstimates?")
    # The whole thread says less than 100 characters: all of it, opening first.
    assert snippet(short) == "Anyone tried #NoEstimates? Reply 1 from bo. Reply 2 from cy."
    # A short opening with long replies: the replies fill the snippet past 100 characters.
    opening = thread(4, "ana", [], text="Anyone tried #NoEstimates?")
    answer = PostFact(9, "bo", "Bo", Channel.EMAIL, END, LONG)
    filled = snippet(replace(opening, posts=(*opening.posts, answer)))
    assert filled.startswith("Anyone tried #NoEstimates? We sized the migration")
    assert len(filled) >= 100
    long = thread(2, "ana", [], text=(LONG + " ") * 4 + "\n> quoted line\n")
    cut = snippet(long)
    assert 100 <= len(cut) <= 241
    assert cut.endswith("…")
    assert "quoted" not in cut
    assert "  " not in cut
    assert snippet(thread(3, "ana", [], text="Short.")) == "Short."


def test_sections_new_practices_trending_tags_people_meetings() -> None:
    threads = (
        thread(1, "ana", ["bo", "cy"], tags=("estimation",)),
        thread(2, "bo", ["ana"], tags=("estimation", "risk")),
        thread(3, "cy", ["ana", "bo"], tags=("risk",)),
        thread(4, "di", ["ana"], tags=("retro",)),
        thread(5, "ed", ["ana"], tags=("retro",)),
    )
    practices = (
        PracticeFact(3, "Pre-mortems", "Imagine the failure first.", PracticeState.PROPOSED, END),
        PracticeFact(1, "Reference classes", "Size by analogy.", PracticeState.CONFIRMED, START),
    )
    meeting = MeetingFact("Monthly call", END + timedelta(days=3))
    community = period(
        *threads,
        practices=practices,
        previous_tag_counts={"estimation": 2, "risk": 0, "retro": 1},
        tag_labels={"risk": "Risk management"},
        newcomers=(NewcomerFact("ed", "Ed", START + timedelta(days=1)),),
        meetings=(meeting,),
    )
    digest = rank_period(community).for_reader(READER)
    assert [(p.title, p.confirmed) for p in digest.practices] == [
        ("Reference classes", True),
        ("Pre-mortems", False),
    ]
    assert digest.practices[0].url == "https://icop.example.com/c/pm/t/1"
    # risk 0 → 2 (+2), retro 1 → 2 (+1); estimation 2 → 2 did not grow.
    assert [(t.tag, t.label, t.threads, t.growth) for t in digest.trending] == [
        ("risk", "Risk management", 2, 2),
        ("retro", "retro", 2, 1),
    ]
    # Ana wrote 5 posts, Bo 3, Cy 2; Ed is new. Four places: three active, then the newcomer.
    assert [(p.name, p.why, p.posts) for p in digest.people] == [
        ("Ana", "active", 5),
        ("Bo", "active", 3),
        ("Cy", "active", 2),
        ("Ed", "new", 1),
    ]
    assert digest.people[0].tags == ("estimation", "retro", "risk")
    assert digest.meetings == (meeting,)
    # Ana reading her own digest does not meet herself among the people to know.
    assert "Ana" not in [p.name for p in rank_period(community).for_reader(ReaderView("ana")).people]


def test_an_empty_period_is_empty() -> None:
    digest = rank_period(period()).for_reader(READER)
    assert digest.is_empty
    assert not rank_period(period(thread(1, "ana", []))).for_reader(READER).is_empty
    only_mine = rank_period(period(thread(1, "person:99", []))).for_reader(READER)
    assert only_mine.is_empty  # nothing is news to the one who wrote it
