"""How search results are ordered: one per thread, by the best post's relevance and a mild recency boost.

Each engine scores a post's text its own way (FTS5's BM25, PostgreSQL's ts_rank, both weighting the
subject above the text). The order is decided by one formula, stated here: a post's score is its
relevance times a recency factor ``1 + RECENCY_BOOST / (1 + age / RECENCY_HALF_LIFE_DAYS)``, which is
1.2 for a post written now, 1.1 at one year, 1.05 at three: at equal relevance the newer post wins, while a
post a quarter more relevant wins whatever its age. A thread scores as its best post (the one whose
snippet is shown). A query of filters alone has no relevance: every post counts as equally relevant, so
the newest come first. Ties go to the newer best post, then to the higher thread id.

The engines rank inside the database (``score_sql`` renders the same formula in SQL, so thousands of
candidates never cross into Python); ``rank_threads`` is the same ranking over candidates in memory, the
reference the engines are tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

RECENCY_BOOST = 0.2
RECENCY_HALF_LIFE_DAYS = 365.0
# Posts matched only through an author or a filter have no text relevance; they still rank by date.
RELEVANCE_FLOOR = 1e-6
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A post that matches, as an engine found it: ``posted`` in Unix seconds, ``relevance`` ≥ 0."""

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
    age_days = max(0.0, now.timestamp() - posted) / _DAY
    return max(relevance, RELEVANCE_FLOOR) * (1.0 + RECENCY_BOOST / (1.0 + age_days / RECENCY_HALF_LIFE_DAYS))


def score_sql(relevance: str, posted: str, now: str, greatest: str) -> str:
    """``post_score`` as a SQL expression over SQL ``relevance`` and ``posted`` (Unix seconds) and a
    parameter ``now`` (Unix seconds); ``greatest`` is the dialect's two-argument maximum."""
    age_days = f"({greatest}({now} - {posted}, 0.0) / {_DAY})"
    return (
        f"({greatest}({relevance}, {RELEVANCE_FLOOR}) * "
        f"(1.0 + {RECENCY_BOOST} / (1.0 + {age_days} / {RECENCY_HALF_LIFE_DAYS})))"
    )


def rank_threads(candidates: Iterable[Candidate], now: datetime, limit: int) -> list[RankedThread]:
    """The ``limit`` best threads, best first."""
    best: dict[int, tuple[float, float, int]] = {}
    for c in candidates:
        key = (post_score(c.relevance, c.posted, now), c.posted, c.post_id)
        current = best.get(c.thread_id)
        if current is None or key > current:
            best[c.thread_id] = key
    ordered = sorted(best.items(), key=lambda item: (item[1][0], item[1][1], item[0]), reverse=True)
    return [RankedThread(thread, score, post, posted) for thread, (score, posted, post) in ordered[:limit]]
