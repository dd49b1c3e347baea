"""What the digest is chosen from: plain facts about one community over one period, and one reader.

The store gathers these (``bridge/digest/gather.py``); the ranking and the selection read nothing else,
so every scenario a test builds is a complete description of what a digest can know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bridge.core.model import Channel, PracticeState


@dataclass(frozen=True, slots=True)
class PostFact:
    """One visible post of the period. ``author`` is a stable key of the person (``person:ID``, or the
    address of a non-member), never a display name: two Anas are two people."""

    post_id: int
    author: str
    author_name: str
    channel: Channel
    created_at: datetime
    text: str
    reactions: int = 0
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class ThreadFact:
    """A thread with activity in the period: its opening post's facts and the period's posts."""

    thread_id: int
    subject: str
    author: str
    author_name: str
    created_at: datetime
    root_text: str
    posts: tuple[PostFact, ...]
    tags: tuple[str, ...] = ()
    practice: PracticeState | None = None


@dataclass(frozen=True, slots=True)
class PracticeFact:
    """A practice proposed or confirmed during the period."""

    thread_id: int
    title: str
    summary: str
    state: PracticeState
    at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewcomerFact:
    """Someone who joined the community during the period (members who take part, not readers)."""

    author: str
    name: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class MeetingFact:
    """A meeting ahead, from the convener's tools; ``starts_at`` in UTC."""

    title: str
    starts_at: datetime
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CommunityPeriod:
    """Everything one community did between ``start`` and ``end``.

    ``previous_tag_counts`` counts active threads per tag over the period of the same length before
    ``start``, for trending tags. ``tag_labels`` maps tags to the taxonomy's labels.
    """

    slug: str
    name: str
    mission: str
    base_url: str
    start: datetime
    end: datetime
    threads: tuple[ThreadFact, ...] = ()
    practices: tuple[PracticeFact, ...] = ()
    previous_tag_counts: dict[str, int] = field(default_factory=dict)
    tag_labels: dict[str, str] = field(default_factory=dict)
    newcomers: tuple[NewcomerFact, ...] = ()
    meetings: tuple[MeetingFact, ...] = ()


@dataclass(frozen=True, slots=True)
class ReaderView:
    """What makes one reader's digest theirs: who they are (their threads are not news to them) and the
    tags they follow."""

    author: str
    followed_tags: frozenset[str] = frozenset()
