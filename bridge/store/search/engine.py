"""What an engine of the search index is: the SQL ``bridge.store.search.Search`` runs, shared by both.

Each engine answers the same questions (``Search`` asks them):
- ``best_threads``: the matching visible posts that may reach the page (at most ``cap``, most recently
  stored first; see ``bridge.store.search`` for why), ranked into the page's threads inside the database;
- ``matched``: for the threads on the page, how many of their visible posts match;
- the relevance of a post: FTS5's BM25 (``bridge.store.search.sqlite``) and PostgreSQL's ts_rank
  (``bridge.store.search.postgres``), the thread's subject weighted 4 × the post's text, the author's name
  and address not at all (``from:`` only filters).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from bridge.core.query import Filter, FilterKind, Term
from bridge.core.relevance import score_sql
from bridge.store.search.compile import Compiled, Compiler, Params

TAG_SEPARATOR = "\x1f"
SUBJECT_WEIGHT = 4.0
RECENT_THREADS_DIVISOR = 10  # filters alone naming threads: the cap's tenth of the most recently active
TEXT_WEIGHT = 1.0

Fetch = Callable[[str, Sequence[Any]], Awaitable[list[dict[str, Any]]]]


class Weight(NamedTuple):
    """A term's weight in the relevance an engine computes itself; ``required``: every match holds it."""

    term: Term
    weight: float
    required: bool


Weights = Sequence[Weight]


class Engine(Compiler):
    """What ``Search`` needs of an engine."""

    posted: str  # SQL: post ``p``'s time in Unix seconds, as a float

    greatest: str  # the dialect's two-argument maximum
    names: str  # the dialect's aggregate joining g."name" with TAG_SEPARATOR

    async def weights(self, fetch: Fetch, compiled: Compiled) -> Weights | None:
        """How to weigh the lookup's terms when the engine's own relevance would cost too much, as
        (term, weight) pairs; None to use the engine's own."""
        return None

    def candidates(
        self, compiled: Compiled, community_ids: list[int] | None, cap: int, weights: Weights | None = None
    ) -> tuple[str, list[Any]]:
        """SQL and parameters: the matching posts that may reach the page, rows ``id, thread_id, posted,
        relevance``, at most ``cap`` of them, most recently stored first (newest first for filters alone)."""
        params = self.params()
        return self._candidates(compiled, community_ids, cap, params, weights), params.values

    def best_threads(
        self,
        compiled: Compiled,
        community_ids: list[int] | None,
        cap: int,
        limit: int,
        now: float,
        weights: Weights | None = None,
    ) -> tuple[str, list[Any]]:
        """SQL and parameters: the ``limit`` best threads among the candidates, ranked in the database by
        ``bridge.core.relevance``, best first; rows ``id`` (the best post), ``thread_id``, ``posted``,
        ``score``, ``matched`` (candidates in the thread), ``total`` (candidates in all), ``oldest`` (lowest
        candidate id), and what a result shows: ``subject``, ``community_id``, ``slug``, ``body`` (the
        best post's text), ``tags`` (names joined by ``TAG_SEPARATOR``)."""
        params = self.params()
        candidates = self._candidates(compiled, community_ids, cap, params, weights)
        score = score_sql("relevance", "posted", params.add(now), self.greatest)
        order = "score DESC, posted DESC, thread_id DESC"
        tags = (
            f'(SELECT {self.names} FROM "thread_tag" tt JOIN "tag" g ON g."id" = tt."tag_id" '
            'WHERE tt."thread_id" = r.thread_id)'
        )
        sql = (
            f"WITH c AS MATERIALIZED ({candidates}), "
            f"scored AS (SELECT id, thread_id, posted, {score} AS score FROM c), "
            "ranked AS (SELECT id, thread_id, posted, score, "
            "row_number() OVER (PARTITION BY thread_id ORDER BY score DESC, posted DESC, id DESC) AS place, "
            "count(*) OVER (PARTITION BY thread_id) AS matched FROM scored), "
            f"page AS (SELECT * FROM ranked WHERE place = 1 ORDER BY {order} LIMIT {params.add(limit)}) "
            "SELECT r.id, r.thread_id, r.posted, r.score, r.matched, "
            "(SELECT count(*) FROM c) AS total, (SELECT min(id) FROM c) AS oldest, "
            't."subject" AS subject, t."community_id" AS community_id, m."slug" AS slug, '
            f'b."body_text" AS body, {tags} AS tags FROM page r JOIN "thread" t ON t."id" = r.thread_id '
            'JOIN "community" m ON m."id" = t."community_id" '
            'JOIN "post" b ON b."id" = r.id ORDER BY r.score DESC, r.posted DESC, r.thread_id DESC'
        )
        return sql, params.values

    def _candidates(
        self,
        compiled: Compiled,
        community_ids: list[int] | None,
        cap: int,
        params: Params,
        weights: Weights | None,
    ) -> str:
        if compiled.text is None:
            where = self._recent_threads(compiled, community_ids, cap, params)
            where += self._where(compiled, community_ids, params)
            return (
                f'SELECT p."id" AS id, p."thread_id" AS thread_id, {self.posted} AS posted, '
                f'0.0 AS relevance FROM "post" p WHERE {where} '
                f'ORDER BY p."created_at" DESC, p."id" DESC LIMIT {params.add(cap)}'
            )
        match = self.text_match(compiled.text, params)  # placeholders in the order the SQL reads them
        where = self._where(compiled, community_ids, params)
        if weights is not None:
            return self.weighted_candidates(compiled.text, match, where, cap, params, weights)
        return self.text_candidates(match, where, cap, params)

    def weighted_candidates(
        self, text: str, match: str, where: str, cap: int, params: Params, weights: Weights
    ) -> str:
        raise NotImplementedError(f"{type(self).__name__} ranks with its own relevance")

    def matched(
        self,
        compiled: Compiled,
        thread_ids: list[int],
        *,
        below: int | None = None,
        lowest: int | None = None,
    ) -> tuple[str, list[Any]]:
        """SQL and parameters: rows ``thread_id, matched`` for these threads, counting only posts whose
        id is below ``below`` when given (the candidates already counted the others), and, as a hint,
        not below ``lowest``."""
        params = self.params()
        text = self.text_match(compiled.text, params) if compiled.text is not None else None
        threads = params.many(thread_ids)
        where = self._where(compiled, None, params)
        if below is not None:
            where += f' AND p."id" < {params.add(below)}'
        return self.matched_sql(text, where, threads), params.values

    def _recent_threads(
        self, compiled: Compiled, community_ids: list[int] | None, cap: int, params: Params
    ) -> str:
        """For filters alone that name threads (``tag:``, ``is:practice``): only the posts of the most
        recently active such threads, so a tag on 3,000 threads does not fetch and sort all their posts
        to show the newest; empty for other queries."""
        kinds = (FilterKind.TAG, FilterKind.PRACTICE)
        narrowing = [c for c in compiled.rest if isinstance(c, Filter) and c.kind in kinds]
        if not narrowing:
            return ""
        conditions = [self.thread_condition(f, params) for f in narrowing]
        if community_ids is not None:
            conditions.append(f't."community_id" IN ({params.many(community_ids) or "NULL"})')
        threads = params.add(max(1, cap // RECENT_THREADS_DIVISOR))
        return (
            f'p."thread_id" IN (SELECT t."id" FROM "thread" t WHERE {" AND ".join(conditions)} '
            f'ORDER BY t."last_activity_at" DESC LIMIT {threads}) AND '
        )

    def _where(self, compiled: Compiled, community_ids: list[int] | None, params: Params) -> str:
        parts = ["p.\"state\" = 'visible'"]
        if community_ids is not None:
            parts.append(f'p."community_id" IN ({params.many(community_ids) or "NULL"})')
        if compiled.rest:
            parts.append(self.condition(compiled.rest, params))
        return " AND ".join(parts)

    @abstractmethod
    def text_match(self, text: str, params: Params) -> str:
        """A SQL condition on post ``p`` for the lookup expression ``text``."""

    @abstractmethod
    def text_candidates(self, match: str, where: str, cap: int, params: Params) -> str:
        """The candidates query for a lookup (``match`` from ``text_match``)."""

    @abstractmethod
    def matched_sql(self, match: str | None, where: str, threads: str) -> str:
        """Matching posts counted per thread among ``threads`` (placeholders)."""
