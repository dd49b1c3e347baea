"""The SQLite engine: an FTS5 index (``post_search``, contentless, kept by triggers: migration 006)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge.core.query import And, Field, Node, Not, Or, Term
from bridge.store.search.compile import Compiled, Params
from bridge.store.search.engine import SUBJECT_WEIGHT, TEXT_WEIGHT, Engine, Fetch, Weight, Weights

_FTS_COLUMNS = {Field.TEXT: "{subject body}", Field.SUBJECT: "subject", Field.AUTHOR: "author"}

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
        self,
        compiled: Compiled,
        thread_ids: list[int],
        *,
        below: int | None = None,
        lowest: int | None = None,
    ) -> tuple[str, list[Any]]:
        if (
            compiled.text is None
            or below is None
            or lowest is None
            or not any(t.prefix for t in compiled.terms)
        ):
            return super().matched(compiled, thread_ids, below=below)
        # One lookup over the ids between, not one per post: FTS5 merges the postings of every word a
        # prefix starts on each lookup.
        params = self.params()
        match = params.add(compiled.text)
        upper, lower = params.add(below), params.add(lowest)
        threads = params.many(thread_ids)
        where = self._where(compiled, None, params)
        sql = (
            'SELECT p."thread_id" AS thread_id, count(*) AS matched FROM (SELECT "rowid" AS id '
            f'FROM "post_search" WHERE "post_search" MATCH {match} '
            f'AND "rowid" < {upper} AND "rowid" >= {lower}) m '
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
