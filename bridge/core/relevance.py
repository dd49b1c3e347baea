"""How search results are ordered: one per thread, by the best post's relevance and a mild recency boost.

Each engine scores a post's text its own way (FTS5's BM25, PostgreSQL's ts_rank, both weighting the
subject above the text) and hands over the candidates; the order itself is decided here, once, so both
engines rank alike. A post's score is its relevance times a recency factor between 1 and
``1 + RECENCY_BOOST`` that halves its extra every ``RECENCY_HALF_LIFE_DAYS``: at equal relevance the newer
post wins, while a post twice as relevant wins whatever its age. A thread scores as its best post (the one
whose snippet is shown). A query of filters alone has no relevance: every post counts as equally
relevant, so the newest come first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

RECENCY_BOOST = 0.2
RECENCY_HALF_LIFE_DAYS = 365.0
# Posts matched only through an author or a filter have no text relevance; they still rank by date.
_FLOOR = 1e-6


_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A post that matches, as an engine found it: ``posted`` in Unix seconds (engines hand over a
    number, cheaper than a time for thousands of rows), ``relevance`` ≥ 0, larger is better."""

    post_id: int
    thread_id: int
    posted: float
    relevance: float


@dataclass(frozen=True, slots=True)
class RankedThread:
    thread_id: int
    score: float
    best_post_id: int
    best_post_posted: float


def post_score(relevance: float, posted: float, now: datetime) -> float:
    age_days = max(0.0, (now.timestamp() - posted) / _DAY)
    recency = 1.0 + RECENCY_BOOST * float(0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS))
    return float(max(relevance, _FLOOR) * recency)


def rank_threads(candidates: Iterable[Candidate], now: datetime, limit: int) -> list[RankedThread]:
    """The ``limit`` best threads, best first; ties go to the newer best post, then the higher id."""
    now_seconds = now.timestamp()
    half_life = RECENCY_HALF_LIFE_DAYS * _DAY
    best: dict[int, tuple[float, float, int]] = {}
    for c in candidates:  # post_score, inlined: this loop runs for every candidate
        recency = 1.0 + RECENCY_BOOST * 0.5 ** (max(0.0, now_seconds - c.posted) / half_life)
        key = (max(c.relevance, _FLOOR) * recency, c.posted, c.post_id)
        current = best.get(c.thread_id)
        if current is None or key > current:
            best[c.thread_id] = key
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[1][1], item[0]), reverse=True)
    return [RankedThread(thread, score, post, posted) for thread, (score, posted, post) in ordered[:limit]]
