"""The digest score of a thread: one formula with named weights, in the manner of Discourse.

Discourse ranks a period's top topics by ``log(views) + op_likes * 0.5 + min(likes / posts, 3) +
log(posts)`` and its hot topics decay with age. Mail cannot count page views, so distinct participants
stand in for them: a thread five people answered matters more than one person's monologue of the same
length. To that the community of practice adds what it values: a conversation that crossed from mail
to chat (or back), a thread the core team marked as a practice, and, per reader, the tags they follow.
Activity late in the period counts more than activity early in it (an exponential decay whose half-life
is the period's length), so a weekly digest leans toward what is still alive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from bridge.core.digest.facts import ThreadFact
from bridge.core.model import PracticeState


@dataclass(frozen=True, slots=True)
class DigestWeights:
    """The weights of the score; every term is described where it is used in :func:`base_score`."""

    participants: float = 1.0
    replies: float = 1.0
    root_reactions: float = 0.5
    reactions_per_post_cap: float = 3.0
    both_channels: float = 1.0
    practice: float = 2.0
    new_thread: float = 0.5
    followed_tag: float = 2.0
    half_life_fraction: float = 1.0  # of the period's length


DEFAULT_WEIGHTS = DigestWeights()


def participants(thread: ThreadFact) -> list[str]:
    """Names of the period's distinct participants, in order of their first post."""
    names: dict[str, str] = {}
    for post in sorted(thread.posts, key=lambda p: (p.created_at, p.post_id)):
        names.setdefault(post.author, post.author_name)
    return list(names.values())


def replies(thread: ThreadFact) -> int:
    return sum(1 for post in thread.posts if not post.is_root)


def base_score(
    thread: ThreadFact, start: datetime, end: datetime, weights: DigestWeights = DEFAULT_WEIGHTS
) -> float:
    """The score of a thread's activity between ``start`` and ``end``, the same for every reader."""
    if not thread.posts:
        return 0.0
    people = len({post.author for post in thread.posts})
    answers = replies(thread)
    reactions = sum(post.reactions for post in thread.posts)
    root_reactions = sum(post.reactions for post in thread.posts if post.is_root)
    channels = {post.channel for post in thread.posts}
    activity = (
        weights.participants * math.log1p(people)  # Discourse's log(views): who took part, not who looked
        + weights.replies * math.log1p(answers)  # log(posts)
        + weights.root_reactions * root_reactions  # op_likes * 0.5
        + min(reactions / len(thread.posts), weights.reactions_per_post_cap)  # min(likes / posts, 3)
        + (weights.both_channels if len(channels) > 1 else 0.0)  # the conversation crossed channels
        + _practice_bonus(thread.practice, weights)
        + (weights.new_thread if thread.created_at >= start else 0.0)
    )
    last = max(post.created_at for post in thread.posts)
    length = max((end - start).total_seconds(), 1.0)
    age = max((end - last).total_seconds(), 0.0)
    decay: float = 0.5 ** (age / (length * weights.half_life_fraction))
    return activity * decay


def reader_score(
    thread: ThreadFact, base: float, followed: frozenset[str], weights: DigestWeights = DEFAULT_WEIGHTS
) -> float:
    """The base score plus the reader's own interest: a thread under a tag they follow."""
    if followed and not followed.isdisjoint(thread.tags):
        return base + weights.followed_tag
    return base


def _practice_bonus(state: PracticeState | None, weights: DigestWeights) -> float:
    if state is PracticeState.CONFIRMED:
        return weights.practice
    if state is PracticeState.PROPOSED:
        return weights.practice / 2
    return 0.0
