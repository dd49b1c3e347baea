"""The PostgreSQL engine: a weighted tsvector in ``post.search_document`` with a GIN index (migration 006)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge.core.query import And, Field, Node, Not, Or, Term
from bridge.store.search.compile import Params
from bridge.store.search.engine import SUBJECT_WEIGHT, TEXT_WEIGHT, Engine

_TS_WEIGHTS = {Field.TEXT: "AB", Field.SUBJECT: "A", Field.AUTHOR: "D"}


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
