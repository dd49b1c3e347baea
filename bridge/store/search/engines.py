"""The two full-text engines: SQLite FTS5 and PostgreSQL tsvector, each a ``Compiler`` plus its SQL.

Each engine answers three questions the same way (``bridge.store.search.Search`` asks them):
- ``candidates``: the matching visible posts that may reach the page, with a relevance each, newest
  stored first and at most ``cap`` of them (see the module ``bridge.store.search`` for why);
- ``matched``: for the threads on the page, how many of their visible posts match;
- the relevance: FTS5's BM25 and PostgreSQL's ts_rank (length-normalised), the thread's subject
  weighted 4 × the post's text, the author's name and address not at all (``from:`` only filters).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge.core.query import And, Field, Node, Not, Or, Term
from bridge.store.search.compile import Compiled, Compiler, Params

SUBJECT_WEIGHT = 4.0
TEXT_WEIGHT = 1.0

_FTS_COLUMNS = {Field.TEXT: "{subject body}", Field.SUBJECT: "subject", Field.AUTHOR: "author"}
_TS_WEIGHTS = {Field.TEXT: "AB", Field.SUBJECT: "A", Field.AUTHOR: "D"}


class Engine(Compiler):
    """What ``Search`` needs of an engine."""

    posted: str  # SQL: post ``p``'s time in Unix seconds, as a float

    def candidates(
        self, compiled: Compiled, community_ids: list[int] | None, cap: int
    ) -> tuple[str, list[Any]]:
        """SQL and parameters: rows ``id, thread_id, posted, relevance``."""
        params = self.params()
        if compiled.text is None:
            where = self._where(compiled, community_ids, params)
            sql = (
                f'SELECT p."id" AS id, p."thread_id" AS thread_id, {self.posted} AS posted, '
                f'0.0 AS relevance FROM "post" p WHERE {where} '
                f'ORDER BY p."created_at" DESC, p."id" DESC LIMIT {params.add(cap)}'
            )
            return sql, params.values
        match = self.text_match(compiled.text, params)  # placeholders in the order the SQL reads them
        where = self._where(compiled, community_ids, params)
        return self.text_candidates(match, where, cap, params), params.values

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


class SqliteEngine(Engine):
    numbered_params = False
    posted = '(julianday(p."created_at") - 2440587.5) * 86400.0'

    def expression(self, positives: Sequence[Node], negatives: Sequence[Node]) -> str:
        result = " AND ".join(f"({self._fts(n)})" for n in positives)
        for negative in negatives:
            result = f"({result}) NOT ({self._fts(negative)})"
        return result

    def _fts(self, node: Node) -> str:
        if isinstance(node, Term):
            phrase = '"' + " ".join(node.words).replace('"', '""') + '"'
            return f"{_FTS_COLUMNS[node.field]} : {phrase}{' *' if node.prefix else ''}"
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
        # Walking the index newest rowid first stops after ``cap`` rows: BM25 is computed for those only.
        return (
            f'SELECT "post_search"."rowid" AS id, p."thread_id" AS thread_id, {self.posted} AS posted, '
            f'-bm25("post_search", {SUBJECT_WEIGHT}, {TEXT_WEIGHT}, 0.0) AS relevance '
            'FROM "post_search" JOIN "post" p ON p."id" = "post_search"."rowid" '
            f"WHERE {match} AND {where} "
            f'ORDER BY "post_search"."rowid" DESC LIMIT {params.add(cap)}'
        )

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
