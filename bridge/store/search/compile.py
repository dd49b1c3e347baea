"""From a query tree to SQL: the part both engines share, and what each engine says its own way.

A query splits at its top-level AND into the text an engine's full-text index can answer in one
lookup (``Compiled.text``: an FTS5 MATCH expression or a tsquery) and the rest, compiled into a SQL
condition on the post (``p``): filters (tag, channel, community, dates, practice), and text the index
cannot take in the same expression (a term under an OR with a filter, an exclusion without anything
to exclude from), which becomes a per-term subquery or condition. Only the first part drives the
lookup; everything else narrows it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.core.model import Channel, PracticeState
from bridge.core.query import And, Field, Filter, FilterKind, Node, Not, Or, Term, text_terms


@dataclass
class Params:
    """Query parameters in order, with the placeholder each dialect writes (``?`` or ``$n``)."""

    numbered: bool
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.numbered else "?"

    def many(self, values: list[Any]) -> str:
        return ", ".join(self.add(v) for v in values)


@dataclass(frozen=True, slots=True)
class Compiled:
    """``text``: the engine's full-text expression for the lookup, or None for filters alone.
    ``rest``: the nodes left for ``condition`` (filters, text the lookup cannot take).
    ``terms``: every term of the lookup, excluded ones too (what scoring the lookup reads);
    ``scored``: its positive terms on the subject or the text (what relevance weighs); ``required``:
    those every match holds (a term standing alone in the top-level AND)."""

    text: str | None
    rest: tuple[Node, ...]
    terms: tuple[Term, ...] = ()
    scored: tuple[Term, ...] = ()
    required: frozenset[Term] = frozenset()


def all_terms(nodes: Sequence[Node]) -> tuple[Term, ...]:
    found: list[Term] = []
    for node in nodes:
        if isinstance(node, Term):
            found.append(node)
        elif isinstance(node, Not):
            found.extend(all_terms([node.item]))
        elif isinstance(node, And | Or):
            found.extend(all_terms(node.items))
    return tuple(dict.fromkeys(found))


def is_lookup_text(node: Node) -> bool:
    """Text an FTS5 expression can state: terms combined by AND/OR, an exclusion beside a positive term
    (FTS5's NOT is binary: ``a NOT b``)."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Or):
        return all(is_lookup_text(item) for item in node.items)
    if isinstance(node, And):
        positives = [item for item in node.items if not isinstance(item, Not)]
        negatives = [item.item for item in node.items if isinstance(item, Not)]
        return bool(positives) and all(is_lookup_text(i) for i in positives + negatives)
    return False


class Compiler(ABC):
    """One engine's way of writing text lookups; the filters are the same SQL on both."""

    numbered_params: bool

    def split(self, node: Node) -> Compiled:
        conjuncts = node.items if isinstance(node, And) else (node,)
        positives = [c for c in conjuncts if is_lookup_text(c)]
        negatives = [c.item for c in conjuncts if isinstance(c, Not) and is_lookup_text(c.item)]
        if not positives:
            negatives = []
        rest = tuple(
            c
            for c in conjuncts
            if not is_lookup_text(c) and not (negatives and isinstance(c, Not) and is_lookup_text(c.item))
        )
        if not positives:
            return Compiled(None, rest)
        scored = tuple(
            dict.fromkeys(t for t in text_terms(And(tuple(positives))) if t.field is not Field.AUTHOR)
        )
        required = frozenset(t for t in positives if isinstance(t, Term))
        return Compiled(
            self.expression(positives, negatives), rest, all_terms(positives + negatives), scored, required
        )

    def params(self) -> Params:
        return Params(self.numbered_params)

    @abstractmethod
    def expression(self, positives: Sequence[Node], negatives: Sequence[Node]) -> str:
        """The full-text expression matching all ``positives`` and none of ``negatives``."""

    @abstractmethod
    def term_condition(self, term: Term, params: Params) -> str:
        """A SQL condition on post ``p``: it matches ``term``."""

    @abstractmethod
    def time_value(self, moment: datetime) -> Any:
        """A UTC time as the dialect compares it with stored times."""

    def condition(self, nodes: tuple[Node, ...] | list[Node], params: Params) -> str:
        """SQL on post ``p`` that holds when every node does (``1=1`` for none)."""
        parts = [self._node(n, params) for n in nodes]
        return " AND ".join(parts) if parts else "1=1"

    def _node(self, node: Node, params: Params) -> str:
        if isinstance(node, Term):
            return self.term_condition(node, params)
        if isinstance(node, Filter):
            return self._filter(node, params)
        if isinstance(node, Not):
            return f"NOT ({self._node(node.item, params)})"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(self._node(item, params) for item in node.items) + ")"

    def thread_condition(self, node: Filter, params: Params) -> str:
        """SQL on thread ``t`` for a thread-level filter (``tag:``, ``is:practice``): the thread is filed
        under the tag, or holds a post filed under it; the thread is a confirmed practice."""
        if node.kind is FilterKind.TAG:
            first, second = params.add(node.value), params.add(node.value)
            return (
                '(t."id" IN (SELECT tt."thread_id" FROM "thread_tag" tt JOIN "tag" g '
                f'ON g."id" = tt."tag_id" WHERE g."name" = {first}) '
                'OR t."id" IN (SELECT tp."thread_id" FROM "post_tag" pt JOIN "tag" g ON g."id" = pt."tag_id" '
                f'JOIN "post" tp ON tp."id" = pt."post_id" WHERE g."name" = {second}))'
            )
        return (
            't."id" IN (SELECT "thread_id" FROM "practice" '
            f'WHERE "state" = {params.add(PracticeState.CONFIRMED.value)})'
        )

    def _filter(self, node: Filter, params: Params) -> str:
        kind, value = node.kind, node.value
        if kind is FilterKind.TAG:
            first, second = params.add(value), params.add(value)
            return (
                '(p."thread_id" IN (SELECT tt."thread_id" FROM "thread_tag" tt JOIN "tag" g '
                f'ON g."id" = tt."tag_id" WHERE g."name" = {first}) '
                'OR p."id" IN (SELECT pt."post_id" FROM "post_tag" pt JOIN "tag" g '
                f'ON g."id" = pt."tag_id" WHERE g."name" = {second}))'
            )
        if kind is FilterKind.CHANNEL:
            assert isinstance(value, Channel)
            return f'p."origin_channel" = {params.add(value.value)}'
        if kind is FilterKind.COMMUNITY:
            slug = params.add(value)
            return f'p."community_id" IN (SELECT "id" FROM "community" WHERE lower("slug") = {slug})'
        if kind in (FilterKind.AFTER, FilterKind.BEFORE):
            assert isinstance(value, datetime)
            operator = ">=" if kind is FilterKind.AFTER else "<"
            return f'p."created_at" {operator} {params.add(self.time_value(value))}'
        return (
            'p."thread_id" IN (SELECT "thread_id" FROM "practice" '
            f'WHERE "state" = {params.add(PracticeState.CONFIRMED.value)})'
        )
