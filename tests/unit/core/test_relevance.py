"""Result order: one result per thread, its best post's relevance with a mild boost for recency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.core.relevance import RECENCY_BOOST, Candidate, post_score, rank_threads

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def at(days_ago: float) -> float:
    return (NOW - timedelta(days=days_ago)).timestamp()


def test_recency_is_a_mild_boost() -> None:
    assert post_score(2.0, at(0), NOW) == 2.0 * (1 + RECENCY_BOOST)
    assert post_score(2.0, at(365), NOW) == 2.0 * (1 + RECENCY_BOOST / 2)
    assert post_score(2.0, at(0), NOW) > post_score(2.0, at(30), NOW)  # newer wins at equal relevance
    assert post_score(2.0, at(3650), NOW) > post_score(1.0, at(0), NOW)  # twice as relevant wins at any age
    assert post_score(0.0, at(1), NOW) > post_score(0.0, at(2), NOW) > 0  # filters alone: newest first


def test_one_result_per_thread_scored_by_its_best_post() -> None:
    candidates = [
        Candidate(1, 10, at(100), 1.0),
        Candidate(2, 10, at(1), 3.0),
        Candidate(3, 20, at(1), 2.0),
        Candidate(4, 30, at(1), 2.0),
        Candidate(5, 30, at(0), 0.5),
    ]
    ranked = rank_threads(candidates, NOW, limit=10)
    assert [(t.thread_id, t.best_post_id) for t in ranked] == [(10, 2), (30, 4), (20, 3)]
    assert ranked[0].score == post_score(3.0, at(1), NOW)
    assert [t.thread_id for t in rank_threads(candidates, NOW, limit=2)] == [10, 30]
    assert rank_threads([], NOW, limit=5) == []
