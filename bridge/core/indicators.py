"""Value indicators of a community over a period, computed from what the store knows (DESIGN §6.6).

A community of practice proves its worth by value created for its members, not by money; the research
it comes from (Wenger, Trayner and de Laat, *Promoting and assessing value creation in communities and
networks*, 2011) names five cycles of value. Counts speak for the first two (immediate value: activity,
help given fast; potential value: knowledge captured, people connected) and only hint at the others
(applied, realized and reframing value), which need the members' own stories. Each figure here has a
one-line definition in ``DEFINITIONS`` (the README prints them) and is a pure function of the facts handed
in, so a built scenario with known answers tests it without a database. No money figure, ever.

Periods are half-open: ``since <= t < until``, all times UTC.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bridge.core.meetings import region_of
from bridge.core.model import Channel, Role

RETURN_WINDOW = timedelta(days=30)  # a newcomer who posts again within this window has returned
LAPSE_AFTER = timedelta(days=90)  # a contributor silent this long has lapsed
REUSE_AGE = timedelta(days=30)  # a thread this old, answered or cited again, is knowledge reused
UNKNOWN_REGION = "unknown"

_THREAD_LINK = re.compile(r"/c/(?P<slug>[a-z0-9][a-z0-9-]*)/t/(?P<thread>\d{1,18})\b")


class ValueCycle(StrEnum):
    """The value-creation cycles of Wenger, Trayner and de Laat."""

    IMMEDIATE = "immediate"  # activities and interactions are worth something in themselves
    POTENTIAL = "potential"  # knowledge capital: practices, connections, people who may help later
    APPLIED = "applied"  # practice changed because of the community
    REALIZED = "realized"  # performance improved because of that change
    REFRAMING = "reframing"  # how success itself is defined changed


# Cycles that counts cannot show: the report asks for value stories there.
CYCLES_NEEDING_STORIES = (ValueCycle.APPLIED, ValueCycle.REALIZED, ValueCycle.REFRAMING)


@dataclass(frozen=True, slots=True)
class PostFact:
    """A visible post as the indicators see it; ``author`` is a stable person key (``p:ID`` or an address)."""

    id: int
    thread_id: int
    author: str
    channel: Channel
    created_at: datetime
    parent_id: int | None = None  # the post it answers; for a reply without one, its thread's first post
    cited_threads: tuple[int, ...] = ()  # archive threads this post links to


@dataclass(frozen=True, slots=True)
class MemberFact:
    """A membership: who (the same key as ``PostFact.author``), their role, zone and digest choice."""

    key: str
    name: str
    role: Role
    time_zone: str | None
    active: bool = True
    reads_digest: bool = False


@dataclass(frozen=True, slots=True)
class ReactionFact:
    post_id: int
    reactor: str  # person key when the reactor is known, else their Matrix id
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackFact:
    """A digest reader's answer to "was this useful?"."""

    useful: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoryFact:
    """A member's account of how a practice or thread helped them: the applied and realized value.

    ``thread_id`` is the thread it cites; ``practice`` that thread's practice title, when it is one;
    ``author_name`` and ``text`` are what the report quotes."""

    thread_id: int
    author: str
    created_at: datetime
    author_name: str = ""
    text: str = ""
    practice: str | None = None


@dataclass(frozen=True, slots=True)
class CommunityFacts:
    """Everything the indicators read about one community: posts of all time (history matters)."""

    posts: Sequence[PostFact]
    thread_tags: Mapping[int, Sequence[str]]
    members: Sequence[MemberFact]
    practices_confirmed: Sequence[datetime] = ()  # when each practice was confirmed
    reactions: Sequence[ReactionFact] = ()
    feedback: Sequence[FeedbackFact] = ()
    stories: Sequence[StoryFact] = ()
    default_time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of one period; ``as_json`` gives the contract's keys and the documented extras."""

    since: datetime
    until: datetime
    values: dict[str, object] = field(default_factory=dict)
    stories: tuple[StoryFact, ...] = ()  # the period's stories, oldest first, for the report to quote

    def as_json(self) -> dict[str, object]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), **self.values}


def _in(moment: datetime, since: datetime, until: datetime) -> bool:
    return since <= moment < until


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def compute(facts: CommunityFacts, since: datetime, until: datetime) -> Report:
    """Every indicator of the period [since, until)."""
    posts = sorted((p for p in facts.posts if p.created_at < until), key=lambda p: (p.created_at, p.id))
    by_id = {p.id: p for p in posts}
    period = [p for p in posts if p.created_at >= since]
    first_of_thread: dict[int, PostFact] = {}
    for post in posts:
        first_of_thread.setdefault(post.thread_id, post)
    roots = [p for p in first_of_thread.values() if p.created_at >= since]
    members = {m.key: m for m in facts.members}

    def zone_of(author: str) -> str | None:
        member = members.get(author)
        return (member.time_zone or facts.default_time_zone) if member else None

    def region(author: str) -> str:
        zone = zone_of(author)
        return region_of(zone) if zone else UNKNOWN_REGION

    def parent_of(post: PostFact) -> PostFact | None:
        if post.parent_id is not None and post.parent_id in by_id:
            return by_id[post.parent_id]
        root = first_of_thread[post.thread_id]
        return None if root.id == post.id else root

    replies = [(p, parent) for p in period if (parent := parent_of(p)) is not None]
    responses = _first_responses(roots, posts)
    participants = {p.author for p in period}
    first_post_at: dict[str, datetime] = {}
    for post in posts:
        first_post_at.setdefault(post.author, post.created_at)
    newcomers = {a for a in participants if first_post_at[a] >= since}
    told = tuple(
        sorted((s for s in facts.stories if _in(s.created_at, since, until)), key=lambda s: s.created_at)
    )

    values: dict[str, object] = {
        "posts": len(period),
        "threads": len(roots),
        "participants": len(participants),
        "new_participants": len(newcomers),
        "by_channel": {c.value: sum(1 for p in period if p.channel is c) for c in Channel},
        "cross_channel_replies": sum(1 for p, parent in replies if p.channel is not parent.channel),
        "median_first_response_hours": _median_hours(
            [responses[r.id].created_at - r.created_at for r in roots if r.id in responses]
        ),
        "unanswered_threads": sum(1 for root in roots if root.id not in responses),
        "practices": sum(1 for at in facts.practices_confirmed if _in(at, since, until)),
        "practices_total": sum(1 for at in facts.practices_confirmed if at < until),
        "tags": _threads_per_tag({p.thread_id for p in period}, facts.thread_tags),
        "regions": dict(sorted(Counter(region(a) for a in participants).items())),
        "readers": sum(1 for m in facts.members if m.active and m.reads_digest),
        "engaged_share": _engaged_share(participants, facts, since, until),
        "newcomer_return": _newcomer_return(newcomers, posts, first_post_at),
        "concentration": _concentration(Counter(p.author for p in period)),
        "lapsed_contributors": _lapsed(posts, facts.members, until),
        "reuse": _reuse(period, first_of_thread),
        "cross_region_replies": sum(
            1
            for p, parent in replies
            if p.author != parent.author
            and UNKNOWN_REGION not in (region(p.author), region(parent.author))
            and region(p.author) != region(parent.author)
        ),
        "digest_usefulness": _usefulness([f for f in facts.feedback if _in(f.created_at, since, until)]),
        "stories": len(told),
    }
    return Report(since, until, values, told)


def _first_responses(roots: Sequence[PostFact], posts: Sequence[PostFact]) -> dict[int, PostFact]:
    """For each root, the first later post in its thread by someone other than its author."""
    waiting = {r.thread_id: r for r in roots}
    found: dict[int, PostFact] = {}
    for post in posts:  # sorted by time
        root = waiting.get(post.thread_id)
        if root is not None and post.author != root.author and post.id != root.id:
            found[root.id] = post
            del waiting[post.thread_id]
    return found


def _median_hours(delays: Sequence[timedelta]) -> float | None:
    return round(statistics.median(d.total_seconds() / 3600 for d in delays), 2) if delays else None


def _threads_per_tag(threads: set[int], thread_tags: Mapping[int, Sequence[str]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for thread in threads:
        counts.update(set(thread_tags.get(thread, ())))
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _engaged_share(
    participants: set[str], facts: CommunityFacts, since: datetime, until: datetime
) -> float | None:
    """Members who posted or reacted in the period, over the active members who may post."""
    eligible = {m.key for m in facts.members if m.active and m.role.may_post}
    reactors = {r.reactor for r in facts.reactions if _in(r.created_at, since, until)}
    return _share(len((participants | reactors) & eligible), len(eligible))


def _newcomer_return(
    newcomers: set[str], posts: Sequence[PostFact], first_post_at: Mapping[str, datetime]
) -> dict[str, object]:
    """First-time posters of the period who posted again within RETURN_WINDOW of their first post."""
    returned = {
        p.author
        for p in posts
        if p.author in newcomers
        and first_post_at[p.author] < p.created_at <= first_post_at[p.author] + RETURN_WINDOW
    }
    return {
        "newcomers": len(newcomers),
        "returned": len(returned),
        "share": _share(len(returned), len(newcomers)),
    }


def _concentration(per_author: Counter[str]) -> dict[str, object]:
    """The fewest people who together wrote at least half of the period's posts."""
    total = sum(per_author.values())
    people, written = 0, 0
    for _, count in per_author.most_common():
        if written * 2 >= total:
            break
        people += 1
        written += count
    return {"people_for_half": people, "share_of_participants": _share(people, len(per_author))}


def _lapsed(posts: Sequence[PostFact], members: Sequence[MemberFact], until: datetime) -> int:
    """Active members who have posted, but not in the LAPSE_AFTER before the period's end."""
    last: dict[str, datetime] = {}
    for post in posts:
        last[post.author] = post.created_at
    active = {m.key for m in members if m.active}
    return sum(1 for author, at in last.items() if author in active and at < until - LAPSE_AFTER)


def _reuse(period: Sequence[PostFact], first_of_thread: Mapping[int, PostFact]) -> int:
    """Posts that answer a thread older than REUSE_AGE, or link to one in the archive."""
    count = 0
    for post in period:
        root = first_of_thread[post.thread_id]
        answers_old = root.id != post.id and post.created_at - root.created_at > REUSE_AGE
        cites_old = any(
            (cited := first_of_thread.get(t)) is not None and post.created_at - cited.created_at > REUSE_AGE
            for t in post.cited_threads
            if t != post.thread_id
        )
        count += answers_old or cites_old
    return count


def _usefulness(feedback: Sequence[FeedbackFact]) -> dict[str, object]:
    useful = sum(1 for f in feedback if f.useful)
    return {"useful": useful, "not_useful": len(feedback) - useful, "share": _share(useful, len(feedback))}


def cited_threads(text: str, slug: str) -> tuple[int, ...]:
    """Archive threads of community ``slug`` that ``text`` links to (``…/c/SLUG/t/ID``)."""
    return tuple(dict.fromkeys(int(m["thread"]) for m in _THREAD_LINK.finditer(text) if m["slug"] == slug))


# What each figure means, in the README's words; the report's table prints these too.
DEFINITIONS: dict[str, tuple[ValueCycle, str]] = {
    "posts": (ValueCycle.IMMEDIATE, "visible posts written in the period, both channels"),
    "threads": (ValueCycle.IMMEDIATE, "threads whose first visible post is in the period"),
    "participants": (ValueCycle.IMMEDIATE, "distinct authors of the period's posts"),
    "new_participants": (ValueCycle.POTENTIAL, "participants whose first post ever is in the period"),
    "by_channel": (ValueCycle.IMMEDIATE, "the period's posts per channel (email, matrix)"),
    "cross_channel_replies": (
        ValueCycle.IMMEDIATE,
        "replies written on the other channel than the post they answer (the bridge at work)",
    ),
    "median_first_response_hours": (
        ValueCycle.IMMEDIATE,
        "median hours from a period thread's first post to the first reply by someone else",
    ),
    "unanswered_threads": (
        ValueCycle.IMMEDIATE,
        "period threads with no reply by anyone but their author before the period's end",
    ),
    "practices": (ValueCycle.POTENTIAL, "practices confirmed in the period (practices_total: all so far)"),
    "tags": (ValueCycle.POTENTIAL, "threads active in the period, per tag"),
    "regions": (ValueCycle.POTENTIAL, "participants per time-zone region (first part of their IANA zone)"),
    "readers": (
        ValueCycle.POTENTIAL,
        "memberships that get digests now (confirmed, digests chosen; pending subscriptions excluded)",
    ),
    "engaged_share": (
        ValueCycle.IMMEDIATE,
        "members who posted or reacted in the period, over active members who may post",
    ),
    "newcomer_return": (
        ValueCycle.POTENTIAL,
        "first-time posters of the period who posted again within 30 days of their first post",
    ),
    "concentration": (
        ValueCycle.POTENTIAL,
        "the fewest people who wrote half of the period's posts (low means a few carry the community)",
    ),
    "lapsed_contributors": (
        ValueCycle.POTENTIAL,
        "active members who have posted, but not in the 90 days before the period's end",
    ),
    "reuse": (
        ValueCycle.APPLIED,
        "posts answering a thread over 30 days old or linking to one in the archive (knowledge reused)",
    ),
    "cross_region_replies": (
        ValueCycle.POTENTIAL,
        "replies to someone in another time-zone region (connections across the world)",
    ),
    "digest_usefulness": (
        ValueCycle.IMMEDIATE,
        "digest readers' answers to 'was this useful?' in the period",
    ),
    "stories": (
        ValueCycle.REALIZED,
        "value stories told in the period: how a practice or thread changed someone's work",
    ),
}
