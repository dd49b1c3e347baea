"""The two full-text engines: SQLite FTS5 and PostgreSQL tsvector, each a ``Compiler`` plus its SQL.

Each engine answers three questions the same way (``bridge.store.search.Search`` asks them):
- ``candidates``: the matching visible posts that may reach the page, with a relevance each, newest
  stored first and at most ``cap`` of them (see the module ``bridge.store.search`` for why);
- ``matched``: for the threads on the page, how many of their visible posts match;
- the relevance: FTS5's BM25 and PostgreSQL's ts_rank (length-normalised), the thread's subject
  weighted 4 × the post's text, the author's name and address not at all (``from:`` only filters).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from bridge.core.query import And, Field, Filter, FilterKind, Node, Not, Or, Term
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

_FTS_COLUMNS = {Field.TEXT: "{subject body}", Field.SUBJECT: "subject", Field.AUTHOR: "author"}
_TS_WEIGHTS = {Field.TEXT: "AB", Field.SUBJECT: "A", Field.AUTHOR: "D"}


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
        self, compiled: Compiled, thread_ids: list[int], *, below: int | None = None
    ) -> tuple[str, list[Any]]:
        """SQL and parameters: rows ``thread_id, matched`` for these threads, counting only posts whose
        id is below ``below`` when given (the candidates already counted the others)."""
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


BM25_POSTINGS = 10_000
PROBE = 1000


def _idf(frequency: float, total: int) -> float:
    """BM25's inverse document frequency (the always-positive form Lucene uses)."""
    return math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))


class SqliteEngine(Engine):
    numbered_params = False
    greatest = "max"
    names = 'group_concat(g."name", char(31))'
    posted = '(julianday(p."created_at") - 2440587.5) * 86400.0'

    def expression(self, positives: Sequence[Node], negatives: Sequence[Node]) -> str:
        result = " AND ".join(f"({self._fts(n)})" for n in positives)
        for negative in negatives:
            result = f"({result}) NOT ({self._fts(negative)})"
        return result

    def _fts(self, node: Node) -> str:
        if isinstance(node, Term):
            return f"{_FTS_COLUMNS[node.field]} : {self._phrase(node)}"
        if isinstance(node, Or):
            return " OR ".join(f"({self._fts(item)})" for item in node.items)
        if isinstance(node, And):
            positives = [i for i in node.items if not isinstance(i, Not)]
            negatives = [i.item for i in node.items if isinstance(i, Not)]
            return self.expression(positives, negatives)
        raise ValueError(f"not a lookup expression: {node!r}")  # split() keeps these out

    def term_condition(self, term: Term, params: Params) -> str:
        return (
            'p."id" IN (SELECT "rowid" FROM "post_search" WHERE "post_search" MATCH '
            f"{params.add(self._fts(term))})"
        )

    def time_value(self, moment: datetime) -> Any:
        return str(moment)  # as tortoise stores times on SQLite: "2024-01-31 00:00:00+00:00"

    def text_match(self, text: str, params: Params) -> str:
        return f'"post_search" MATCH {params.add(text)}'

    def text_candidates(self, match: str, where: str, cap: int, params: Params) -> str:
        return self._newest(
            match, where, cap, params, f'-bm25("post_search", {SUBJECT_WEIGHT}, {TEXT_WEIGHT}, 0.0)'
        )

    def _newest(self, match: str, where: str, cap: int, params: Params, relevance: str) -> str:
        # Walking the index newest rowid first stops after ``cap`` rows.
        return (
            f'SELECT "post_search"."rowid" AS id, p."thread_id" AS thread_id, {self.posted} AS posted, '
            f"{relevance} AS relevance "
            'FROM "post_search" JOIN "post" p ON p."id" = "post_search"."rowid" '
            f"WHERE {match} AND {where} "
            f'ORDER BY "post_search"."rowid" DESC LIMIT {params.add(cap)}'
        )

    async def weights(self, fetch: Fetch, compiled: Compiled) -> Weights | None:
        """BM25 reads every posting of every term in the query to count the posts holding it (its IDF),
        whatever LIMIT says: about 2 µs a posting, near a second for a word in 400,000 posts. Below
        ``BM25_POSTINGS`` postings that is affordable and bm25() ranks. Above it, each positive term is
        weighed by its IDF, estimated from how densely it occurs among the most recent posts (exact when
        it occurs fewer than ``PROBE`` times), and a candidate scores the sum of the weights of the terms
        it holds, ×4 in the thread's subject: BM25 with term frequency counted once and no length
        normalisation, computed by set lookups that stay within the candidates."""
        if compiled.text is None or not compiled.terms:
            return None
        # A prefix is not probed: reading its postings means merging those of every word it starts, the
        # very cost to avoid; it weighs as a word found PROBE times, and bm25() does not rank it.
        probed = [term for term in compiled.terms if not term.prefix]
        probes = "".join(
            f' UNION ALL SELECT {n} AS term, count(*) AS found, min("rowid") AS last FROM (SELECT "rowid" '
            'FROM "post_search" WHERE "post_search" MATCH ? ORDER BY "rowid" DESC LIMIT ?)'
            for n in range(len(probed))
        )
        bounds = 'SELECT -1 AS term, (SELECT max("id") FROM "post") AS found, (SELECT min("id") FROM "post") '
        rows = await fetch(
            f"{bounds}AS last{probes}", [value for term in probed for value in (self._fts(term), PROBE)]
        )
        by_term = {int(r["term"]): r for r in rows}
        if by_term[-1]["found"] is None:
            return None
        hi, lo = int(by_term[-1]["found"]), int(by_term[-1]["last"])
        total = hi - lo + 1
        frequencies: dict[Term, float] = {term: float(PROBE) for term in compiled.terms}
        for n, term in enumerate(probed):
            found, last = int(by_term[n]["found"]), by_term[n]["last"]
            frequencies[term] = found if found < PROBE else found * total / max(1, hi - int(last) + 1)
        if len(probed) == len(compiled.terms) and sum(frequencies.values()) <= BM25_POSTINGS:
            return None
        return [
            Weight(term, _idf(frequencies[term], total), term in compiled.required)
            for term in compiled.scored
        ]

    def weighted_candidates(
        self, text: str, match: str, where: str, cap: int, params: Params, weights: Weights
    ) -> str:
        # A term every match holds needs no lookup to know it is there, only whether it is in the subject
        # (rare, so that lookup is quick); a term under an OR needs both.
        newest = self._newest(match, where, cap, params, "0.0")
        constant = 0.0
        parts = []
        for term, weight, required in weights:
            bonus = SUBJECT_WEIGHT if term.field is Field.SUBJECT else SUBJECT_WEIGHT - TEXT_WEIGHT
            if required:
                constant += weight * (SUBJECT_WEIGHT if term.field is Field.SUBJECT else TEXT_WEIGHT)
                if term.field is Field.TEXT and not term.prefix:  # each lookup of a prefix merges again
                    parts.append(self._holds(text, "subject", term, weight * bonus, params))
                continue
            if term.field is Field.TEXT:
                parts.append(self._holds(text, "{subject body}", term, weight * TEXT_WEIGHT, params))
            parts.append(self._holds(text, "subject", term, weight * bonus, params))
        relevance = " + ".join([repr(constant), *parts])
        return (
            f"WITH n AS MATERIALIZED ({newest}) SELECT id, thread_id, posted, {relevance} AS relevance FROM n"
        )

    def _holds(self, text: str, columns: str, term: Term, weight: float, params: Params) -> str:
        """``weight`` when the candidate holds ``term`` in ``columns``: a lookup bounded by the candidates
        (the query's own expression AND the term, from the oldest candidate on)."""
        holds = params.add(f"({text}) AND ({columns} : {self._phrase(term)})")
        return (
            f'{weight!r} * (id IN (SELECT "rowid" FROM "post_search" WHERE "post_search" '
            f'MATCH {holds} AND "rowid" >= (SELECT min(id) FROM n)))'
        )

    @staticmethod
    def _phrase(term: Term) -> str:
        return '"' + " ".join(term.words).replace('"', '""') + '"' + (" *" if term.prefix else "")

    def matched(
        self, compiled: Compiled, thread_ids: list[int], *, below: int | None = None
    ) -> tuple[str, list[Any]]:
        if compiled.text is None or below is None or not any(t.prefix for t in compiled.terms):
            return super().matched(compiled, thread_ids, below=below)
        # One lookup over the ids these threads span, not one per post: FTS5 expands a prefix into the
        # postings of every word it starts on each lookup.
        params = self.params()
        match = params.add(compiled.text)
        older = params.add(below)
        first = params.many(thread_ids)
        threads = params.many(thread_ids)
        where = self._where(compiled, None, params)
        sql = (
            'SELECT p."thread_id" AS thread_id, count(*) AS matched FROM (SELECT "rowid" AS id '
            f'FROM "post_search" WHERE "post_search" MATCH {match} AND "rowid" < {older} AND "rowid" >= '
            f'(SELECT min("id") FROM "post" WHERE "thread_id" IN ({first}))) m '
            'JOIN "post" p ON p."id" = m.id '
            f'WHERE p."thread_id" IN ({threads}) AND {where} GROUP BY p."thread_id"'
        )
        return sql, params.values

    def matched_sql(self, match: str | None, where: str, threads: str) -> str:
        if match is None:
            return (
                f'SELECT p."thread_id" AS thread_id, count(*) AS matched FROM "post" p '
                f'WHERE p."thread_id" IN ({threads}) AND {where} GROUP BY p."thread_id"'
            )
        # The post drives the loop (CROSS JOIN keeps that order): each page post is one FTS5 seek.
        return (
            'SELECT p."thread_id" AS thread_id, count(*) AS matched '
            'FROM "post" p CROSS JOIN "post_search" '
            f'WHERE "post_search"."rowid" = p."id" AND {match} '
            f'AND p."thread_id" IN ({threads}) AND {where} GROUP BY p."thread_id"'
        )


class PostgresEngine(Engine):
    numbered_params = True
    greatest = "GREATEST"
    names = 'string_agg(g."name", chr(31))'
    posted = 'extract(epoch FROM p."created_at")::float8'

    def expression(self, positives: Sequence[Node], negatives: Sequence[Node]) -> str:
        parts = [f"({self._tsquery(n)})" for n in positives]
        parts += [f"!({self._tsquery(n)})" for n in negatives]
        return " & ".join(parts)

    def _tsquery(self, node: Node) -> str:
        if isinstance(node, Term):
            weights = _TS_WEIGHTS[node.field]
            last = len(node.words) - 1
            lexemes = [
                "'"
                + word.replace("\\", "\\\\").replace("'", "''")
                + "':"
                + ("*" if node.prefix and i == last else "")
                + weights
                for i, word in enumerate(node.words)
            ]
            return " <-> ".join(lexemes)
        if isinstance(node, Not):
            return f"!({self._tsquery(node.item)})"
        if not isinstance(node, And | Or):
            raise ValueError(f"not a lookup expression: {node!r}")  # split() keeps filters out
        joiner = " & " if isinstance(node, And) else " | "
        return joiner.join(f"({self._tsquery(item)})" for item in node.items)

    def term_condition(self, term: Term, params: Params) -> str:
        return f"p.\"search_document\" @@ to_tsquery('icop_search', {params.add(self._tsquery(term))})"

    def time_value(self, moment: datetime) -> Any:
        return moment

    def text_match(self, text: str, params: Params) -> str:
        return f"p.\"search_document\" @@ to_tsquery('icop_search', {params.add(text)})"

    def text_candidates(self, match: str, where: str, cap: int, params: Params) -> str:
        query = match.partition(" @@ ")[2]  # the same parameter, referenced again by number
        weights = f"'{{0, 0, {TEXT_WEIGHT / SUBJECT_WEIGHT}, 1}}'"
        return (
            f'SELECT p."id" AS id, p."thread_id" AS thread_id, {self.posted} AS posted, '
            f'ts_rank({weights}, p."search_document", {query}, 1) AS relevance '
            f'FROM "post" p WHERE {match} AND {where} '
            f'ORDER BY p."id" DESC LIMIT {params.add(cap)}'
        )

    def matched_sql(self, match: str | None, where: str, threads: str) -> str:
        text = f"{match} AND " if match is not None else ""
        return (
            f'SELECT p."thread_id" AS thread_id, count(*) AS matched FROM "post" p '
            f'WHERE {text}p."thread_id" IN ({threads}) AND {where} GROUP BY p."thread_id"'
        )
