"""Full-text search over the stored posts, on SQLite FTS5 or PostgreSQL tsvector, behind one interface.

``Search.search`` takes a parsed query (``bridge.core.query``) and answers one ``SearchHit`` per thread,
best first. The index follows the posts by triggers in the writing transaction (migration 006): a post is
searchable as soon as it is committed, an edit re-indexes it, and a post that is not visible (held,
rejected, deleted or redacted) is not in the index at all.

Ranking only what can reach the page. Scoring every matching post costs time in proportion to the
matches, so a word found in 400,000 posts would take the best part of a second to rank in full. Both
engines therefore walk the index from the most recently stored post backwards and score at most
``CANDIDATE_CAP`` matching posts (a lookup that stops early costs well under a millisecond per thousand
posts), and rank them into threads inside the database by the formula of ``bridge.core.relevance``. A
query matching fewer posts than the cap (most queries: a rare word, a phrase, an author, a tag) is ranked
exactly. A broader one is ranked among its ``CANDIDATE_CAP`` most recently stored matches: an older
thread that would have ranked higher is not shown unless the query is narrowed (another word, a date
range, a tag), the price of answering within tens of milliseconds at a million posts. ``matched`` and the
other figures of the threads shown are always exact. On SQLite, bm25() also reads every posting of every
query term, whatever the cap; ``bridge.store.search.sqlite`` says when it weighs the terms itself instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.core.query import Node, text_terms
from bridge.core.relevance import RankedThread
from bridge.core.snippets import make_snippet
from bridge.store.database import Database, Dialect
from bridge.store.search.compile import Compiled
from bridge.store.search.engine import TAG_SEPARATOR, Engine
from bridge.store.search.postgres import PostgresEngine
from bridge.store.search.sqlite import SqliteEngine

CANDIDATE_CAP = 1000
CANDIDATES_PER_RESULT = 50

# What the search index adds to the schema beyond the ORM models (the schema test sets these aside):
# on SQLite the FTS5 table and its shadow tables, on PostgreSQL a column of "post" and its GIN index.
SQLITE_INDEX_TABLES = (
    "post_search",
    "post_search_data",
    "post_search_idx",
    "post_search_docsize",
    "post_search_config",
)
POSTGRES_INDEX_COLUMN = ("post", "search_document")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One thread found: the figures ``icop search --json`` prints (DESIGN §6.4), minus the URL."""

    community_id: int
    community_slug: str
    thread_id: int
    subject: str
    score: float
    matched: int  # visible posts of the thread that match the query
    posts: int  # visible posts of the thread
    authors: tuple[str, ...]  # display names of distinct authors, in order of first post
    tags: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    best_post_id: int
    snippet: str  # HTML: escaped text, matches in <mark>


def engine_for(dialect: Dialect) -> Engine:
    return SqliteEngine() if dialect is Dialect.SQLITE else PostgresEngine()


class Search:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._engine = engine_for(db.dialect)

    async def search(
        self,
        query: Node,
        *,
        community_ids: Sequence[int] | None = None,
        limit: int = 20,
        now: datetime | None = None,
    ) -> list[SearchHit]:
        """The best ``limit`` threads for ``query``, restricted to ``community_ids`` when given."""
        now = now or datetime.now(UTC)
        engine = self._engine
        compiled = engine.split(query)
        cap = max(CANDIDATE_CAP, limit * CANDIDATES_PER_RESULT)
        ids = list(community_ids) if community_ids is not None else None
        weights = await engine.weights(self._db.fetch, compiled)
        sql, params = engine.best_threads(compiled, ids, cap, limit, now.timestamp(), weights)
        rows = await self._db.fetch(sql, params)
        if not rows:
            return []
        ranked = [
            RankedThread(int(r["thread_id"]), float(r["score"]), int(r["id"]), float(r["posted"]))
            for r in rows
        ]
        thread_ids = [t.thread_id for t in ranked]
        matched = Counter({int(r["thread_id"]): int(r["matched"]) for r in rows})
        figures = await self._figures(thread_ids)
        if int(rows[0]["total"]) >= cap:
            await self._count_the_rest(compiled, figures, int(rows[0]["oldest"]), matched)
        terms = text_terms(query)
        hits = []
        for thread, row in zip(ranked, rows, strict=True):
            shown = figures.get(thread.thread_id)
            if shown is None:  # its posts were all hidden or deleted since the ranking
                continue
            hits.append(
                SearchHit(
                    community_id=int(row["community_id"]),
                    community_slug=str(row["slug"]),
                    thread_id=thread.thread_id,
                    subject=str(row["subject"]),
                    score=thread.score,
                    matched=matched.get(thread.thread_id, 0),
                    posts=shown.posts,
                    authors=tuple(shown.authors),
                    tags=tuple(sorted(str(row["tags"]).split(TAG_SEPARATOR))) if row["tags"] else (),
                    first_at=shown.first_at,
                    last_at=shown.last_at,
                    best_post_id=thread.best_post_id,
                    snippet=make_snippet(str(row["body"]) or str(row["subject"]), terms),
                )
            )
        return hits

    async def _count_the_rest(
        self, compiled: Compiled, figures: dict[int, _Figures], oldest: int, matched: Counter[int]
    ) -> None:
        """Complete ``matched`` after a capped lookup. Every match stored after the oldest candidate is a
        candidate, so only the threads holding older posts are looked at again, for those older posts;
        filters alone were read newest first by date, not by id, so they are counted again in full."""
        if compiled.text is None:
            sql, params = self._engine.matched(compiled, list(figures))
            matched.clear()
        else:
            older = {thread: f.first_id for thread, f in figures.items() if f.first_id < oldest}
            if not older:
                return
            sql, params = self._engine.matched(
                compiled, sorted(older), below=oldest, lowest=min(older.values())
            )
        for row in await self._db.fetch(sql, params):
            matched[int(row["thread_id"])] += int(row["matched"])

    async def _figures(self, thread_ids: list[int]) -> dict[int, _Figures]:
        """What a result tells of its thread's visible posts, counted in the database (a thread may hold
        thousands): how many, the first and last dates, the lowest id, the authors in order of first post
        (a person by id, else by address, named as on their first post)."""
        params = self._engine.params()
        figures = {
            int(row["thread_id"]): _Figures(
                int(row["posts"]), _time(row["first_at"]), _time(row["last_at"]), int(row["first_id"]), []
            )
            for row in await self._db.fetch(
                'SELECT "thread_id", count(*) AS posts, min("created_at") AS first_at, '
                'max("created_at") AS last_at, min("id") AS first_id FROM "post" '
                f'WHERE "thread_id" IN ({params.many(thread_ids)}) AND "state" = \'visible\' '
                'GROUP BY "thread_id"',
                params.values,
            )
        }
        params = self._engine.params()
        author = 'coalesce(\'person \' || CAST("author_id" AS TEXT), "author_address")'
        for row in await self._db.fetch(
            'SELECT "thread_id", "author_name" FROM (SELECT "thread_id", "author_name", "created_at", "id", '
            f'row_number() OVER (PARTITION BY "thread_id", {author} ORDER BY "created_at", "id") AS place '
            f'FROM "post" WHERE "thread_id" IN ({params.many(thread_ids)}) AND "state" = \'visible\') a '
            'WHERE place = 1 ORDER BY "thread_id", "created_at", "id"',
            params.values,
        ):
            if int(row["thread_id"]) in figures:
                figures[int(row["thread_id"])].authors.append(str(row["author_name"]))
        return figures


@dataclass(frozen=True, slots=True)
class _Figures:
    posts: int
    first_at: datetime
    last_at: datetime
    first_id: int
    authors: list[str]


def _time(value: object) -> datetime:
    """A stored time: PostgreSQL hands back datetimes, SQLite the text tortoise wrote."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    moment = datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
