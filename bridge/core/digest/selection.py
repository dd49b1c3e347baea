"""What goes into a reader's digest: the sections, chosen from one community's period.

The work is split so that a run for thousands of readers ranks each community's period once
(:func:`rank_period`) and then makes each reader's digest from that ranking (:meth:`RankedPeriod.for_reader`):
their own threads dropped (a reader's own threads are not news to them), the tags they follow lifted,
the diversity rules applied (at most two items per tag and one per author among the top discussions).

Sections: top discussions (title, a snippet of at least 100 characters when the thread has that much to
say, participants, replies, link), new practices, trending tags (threads this period against the period
before), people to know (the most active contributors and the newcomers, with their tags), upcoming
meetings, and the community's mission line. A period with no discussion and no new practice is empty:
nothing is sent, unless the community asks for a short quiet-period note.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from bridge.core.digest.facts import CommunityPeriod, MeetingFact, PracticeFact, ReaderView, ThreadFact
from bridge.core.digest.ranking import DEFAULT_WEIGHTS, DigestWeights, base_score, participants, reader_score
from bridge.core.digest.ranking import replies as reply_count
from bridge.core.links import thread_url

SNIPPET_MIN = 100
SNIPPET_TARGET = 240


@dataclass(frozen=True, slots=True)
class DigestLimits:
    """How much a digest shows; a short digest is read, a long one is archived unread."""

    top: int = 5
    per_tag: int = 2
    per_author: int = 1
    practices: int = 5
    trending: int = 5
    people: int = 4
    meetings: int = 5


@dataclass(frozen=True, slots=True)
class TopItem:
    thread_id: int
    title: str
    snippet: str
    participants: tuple[str, ...]
    replies: int
    url: str
    tags: tuple[str, ...]
    both_channels: bool
    score: float


@dataclass(frozen=True, slots=True)
class PracticeItem:
    thread_id: int
    title: str
    summary: str
    confirmed: bool
    url: str


@dataclass(frozen=True, slots=True)
class TrendingTag:
    tag: str
    label: str
    threads: int
    previous: int

    @property
    def growth(self) -> int:
        return self.threads - self.previous


@dataclass(frozen=True, slots=True)
class PersonItem:
    name: str
    why: str  # "active" (posts this period) or "new" (joined this period)
    posts: int
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DigestContent:
    """One reader's digest, before rendering; ``key`` tells digests with the same content apart."""

    top: tuple[TopItem, ...]
    practices: tuple[PracticeItem, ...]
    trending: tuple[TrendingTag, ...]
    people: tuple[PersonItem, ...]
    meetings: tuple[MeetingFact, ...]

    @property
    def is_empty(self) -> bool:
        """Nothing was discussed and no practice was added: there is no news to send."""
        return not self.top and not self.practices

    @property
    def key(self) -> tuple[object, ...]:
        return (
            tuple(item.thread_id for item in self.top),
            tuple(item.thread_id for item in self.practices),
            tuple(person.name for person in self.people),
        )


@dataclass(frozen=True, slots=True)
class _Candidate:
    thread: ThreadFact
    base: float


@dataclass(frozen=True, slots=True)
class RankedPeriod:
    """A community's period ranked once; :meth:`for_reader` makes each reader's digest from it."""

    period: CommunityPeriod
    candidates: tuple[_Candidate, ...]
    practices: tuple[PracticeItem, ...]
    trending: tuple[TrendingTag, ...]
    contributors: tuple[tuple[str, PersonItem], ...]  # (author key, item), most active first
    newcomers: tuple[tuple[str, PersonItem], ...]
    limits: DigestLimits
    weights: DigestWeights
    _shared: dict[frozenset[str], tuple[TopItem, ...]] = field(default_factory=dict, compare=False)
    _items: dict[int, TopItem] = field(default_factory=dict, compare=False)  # made when first chosen
    _authors: frozenset[str] = field(default=frozenset(), compare=False)

    def for_reader(self, reader: ReaderView) -> DigestContent:
        own = reader.author in self._authors
        if own or reader.followed_tags:
            top = self._top(reader)
        elif frozenset() in self._shared:  # most readers: the same top list, computed once
            top = self._shared[frozenset()]
        else:
            top = self._shared.setdefault(frozenset(), self._top(reader))
        return DigestContent(
            top=top,
            practices=self.practices,
            trending=self.trending,
            people=self._people(reader),
            meetings=self.period.meetings[: self.limits.meetings],
        )

    def _item(self, candidate: _Candidate) -> TopItem:
        """The displayed item of a thread, made once, when a digest first shows it: most threads of a
        period never reach anyone's top list, so their snippets are never cut."""
        thread = candidate.thread
        found = self._items.get(thread.thread_id)
        if found is None:
            found = self._items[thread.thread_id] = TopItem(
                thread_id=thread.thread_id,
                title=thread.subject.strip() or "(no subject)",
                snippet=snippet(thread),
                participants=tuple(participants(thread)),
                replies=reply_count(thread),
                url=thread_url(self.period.base_url, self.period.slug, thread.thread_id),
                tags=thread.tags,
                both_channels=len({p.channel for p in thread.posts}) > 1,
                score=candidate.base,
            )
        return found

    def _people(self, reader: ReaderView) -> tuple[PersonItem, ...]:
        """The most active contributors, leaving room for the newcomers; never the reader."""
        newcomers = [(key, item) for key, item in self.newcomers if key != reader.author]
        room = self.limits.people - min(len(newcomers), max(self.limits.people // 2, 1))
        chosen = [(key, item) for key, item in self.contributors if key != reader.author][:room]
        known = {key for key, _ in chosen}
        chosen += [(key, item) for key, item in newcomers if key not in known]
        return tuple(item for _, item in chosen[: self.limits.people])

    def _top(self, reader: ReaderView) -> tuple[TopItem, ...]:
        scored = sorted(
            (
                (reader_score(c.thread, c.base, reader.followed_tags, self.weights), c)
                for c in self.candidates
                if c.thread.author != reader.author
            ),
            key=lambda pair: (-pair[0], -pair[1].thread.thread_id),
        )
        chosen: list[TopItem] = []
        per_tag: Counter[str] = Counter()
        per_author: Counter[str] = Counter()
        for score, candidate in scored:
            thread = candidate.thread
            if per_author[thread.author] >= self.limits.per_author:
                continue
            if any(per_tag[tag] >= self.limits.per_tag for tag in thread.tags):
                continue
            per_author[thread.author] += 1
            per_tag.update(thread.tags)
            chosen.append(_with_score(self._item(candidate), score))
            if len(chosen) == self.limits.top:
                break
        return tuple(chosen)


def rank_period(
    period: CommunityPeriod,
    *,
    weights: DigestWeights = DEFAULT_WEIGHTS,
    limits: DigestLimits = DigestLimits(),
) -> RankedPeriod:
    """Score every thread of the period and prepare the sections that are the same for every reader."""
    candidates = [
        _Candidate(thread, base_score(thread, period.start, period.end, weights))
        for thread in period.threads
        if thread.posts
    ]
    return RankedPeriod(
        period=period,
        candidates=tuple(candidates),
        practices=_practices(period, limits),
        trending=_trending(period, limits),
        contributors=_contributors(period, limits),
        newcomers=_newcomers(period, limits),
        limits=limits,
        weights=weights,
        _authors=frozenset(c.thread.author for c in candidates),
    )


def snippet(thread: ThreadFact, minimum: int = SNIPPET_MIN, target: int = SNIPPET_TARGET) -> str:
    """At least ``minimum`` characters of what the thread says (its opening post, then its replies when
    the opening is short), cut at a word near ``target`` with an ellipsis."""
    texts = [thread.root_text] + [
        p.text for p in sorted(thread.posts, key=lambda p: (p.created_at, p.post_id)) if not p.is_root
    ]
    words: list[str] = []
    length = 0
    for text in texts:
        flat = _flatten(text)
        if not flat:
            continue
        words.extend(flat.split(" "))
        length += len(flat) + 1
        if length > minimum:
            break
    whole = " ".join(words)
    if len(whole) <= target:
        return whole
    cut = whole[: target + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space >= minimum else cut[:target]
    return cut.rstrip(" ,;:.-") + "…"


_QUOTE_OR_BLANK = re.compile(r"^\s*(?:>.*)?$")


def _flatten(text: str) -> str:
    """One line of words: quoted lines and blank lines dropped, whitespace folded."""
    lines = [line for line in text.splitlines() if not _QUOTE_OR_BLANK.match(line)]
    return " ".join(" ".join(lines).split())


def _with_score(item: TopItem, score: float) -> TopItem:
    if score == item.score:
        return item
    return TopItem(
        item.thread_id,
        item.title,
        item.snippet,
        item.participants,
        item.replies,
        item.url,
        item.tags,
        item.both_channels,
        score,
    )


def _practices(period: CommunityPeriod, limits: DigestLimits) -> tuple[PracticeItem, ...]:
    ordered = sorted(period.practices, key=_practice_order)
    return tuple(
        PracticeItem(
            thread_id=p.thread_id,
            title=p.title,
            summary=p.summary,
            confirmed=p.state.value == "confirmed",
            url=thread_url(period.base_url, period.slug, p.thread_id),
        )
        for p in ordered[: limits.practices]
    )


def _practice_order(practice: PracticeFact) -> tuple[int, float]:
    """Confirmed practices first, newest first."""
    return (0 if practice.state.value == "confirmed" else 1, -practice.at.timestamp())


def _trending(period: CommunityPeriod, limits: DigestLimits) -> tuple[TrendingTag, ...]:
    """Tags on more threads this period than the period before (at least two threads), most growth
    first."""
    counts: Counter[str] = Counter(tag for thread in period.threads if thread.posts for tag in thread.tags)
    rising = [
        TrendingTag(tag, period.tag_labels.get(tag, tag), n, period.previous_tag_counts.get(tag, 0))
        for tag, n in counts.items()
        if n >= 2 and n > period.previous_tag_counts.get(tag, 0)
    ]
    rising.sort(key=lambda t: (-t.growth, -t.threads, t.tag))
    return tuple(rising[: limits.trending])


def _contributors(period: CommunityPeriod, limits: DigestLimits) -> tuple[tuple[str, PersonItem], ...]:
    """The period's most active people (posts, then threads), with the tags they wrote under."""
    posts: Counter[str] = Counter()
    threads: dict[str, set[int]] = {}
    tags: dict[str, Counter[str]] = {}
    names: dict[str, str] = {}
    for thread in period.threads:
        for post in thread.posts:
            posts[post.author] += 1
            threads.setdefault(post.author, set()).add(thread.thread_id)
            tags.setdefault(post.author, Counter()).update(thread.tags)
            names.setdefault(post.author, post.author_name)
    ranked = sorted(posts, key=lambda a: (-posts[a], -len(threads[a]), names[a]))
    return tuple(
        (author, PersonItem(names[author], "active", posts[author], _top_tags(tags[author])))
        for author in ranked[: limits.people + 1]  # one spare: the reader may be among them
    )


def _newcomers(period: CommunityPeriod, limits: DigestLimits) -> tuple[tuple[str, PersonItem], ...]:
    if not period.newcomers:
        return ()
    written: Counter[str] = Counter()
    tags: dict[str, Counter[str]] = {}
    for thread in period.threads:
        for post in thread.posts:
            written[post.author] += 1
            tags.setdefault(post.author, Counter()).update(thread.tags)
    ordered = sorted(period.newcomers, key=lambda n: (n.joined_at, n.name))
    return tuple(
        (n.author, PersonItem(n.name, "new", written[n.author], _top_tags(tags.get(n.author, Counter()))))
        for n in ordered[: limits.people]
    )


def _top_tags(counts: Counter[str], n: int = 3) -> tuple[str, ...]:
    return tuple(tag for tag, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n])
