"""Searching the archive for people: the command line, the room and the web page all ask this service.

It parses the query (a malformed one raises ``QueryError`` with its position), maps the taxonomy's tag
aliases onto their tags, limits the search to the communities asked for, and gives each result its
archive address (``bridge.core.links``). ``result_json`` is the ``icop search --json`` shape (DESIGN §6.4);
``room_answer`` the bot's answer to ``!icop search`` in a room.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bridge.config.schema import CommunityConfig
from bridge.core.folding import fold_tag
from bridge.core.links import search_url, thread_url
from bridge.core.query import QueryError, parse_query, with_tag_aliases
from bridge.store import SearchHit, Store

if TYPE_CHECKING:
    from bridge.web.search import SearchResults

DEFAULT_LIMIT = 20
ROOM_RESULTS = 5


class UnknownCommunityError(LookupError):
    """``--community`` names a community that is not in the config and the store."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    hit: SearchHit
    url: str


class ArchiveSearch:
    def __init__(self, store: Store, base_url: str, communities: Sequence[CommunityConfig]) -> None:
        self.store = store
        self.base_url = str(base_url)
        self.communities = {c.slug: c for c in communities}

    async def search(
        self,
        text: str,
        *,
        community: str | None = None,
        limit: int = DEFAULT_LIMIT,
        now: datetime | None = None,
    ) -> list[SearchResult]:
        """The best threads for the query ``text`` in ``community`` (every configured one by default)."""
        query = parse_query(text)
        scope = [self.communities[community]] if community in self.communities else []
        if community is not None and not scope:
            raise UnknownCommunityError(community)
        query = with_tag_aliases(query, _aliases(scope or list(self.communities.values())))
        ids = []
        for config in scope or self.communities.values():
            record = await self.store.communities.by_slug(config.slug)
            if record is not None:
                ids.append(record.id)
        hits = await self.store.search.search(query, community_ids=ids, limit=limit, now=now)
        return [SearchResult(h, thread_url(self.base_url, h.community_slug, h.thread_id)) for h in hits]


def _aliases(communities: Sequence[CommunityConfig]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for community in communities:
        for entry in community.taxonomy:
            for alias in entry.aliases:
                aliases.setdefault(fold_tag(alias), entry.tag)
    return aliases


def result_json(result: SearchResult) -> dict[str, object]:
    """The stable ``--json`` shape of one result (DESIGN §6.4, documented in the README)."""
    hit = result.hit
    return {
        "community": hit.community_slug,
        "thread": hit.thread_id,
        "subject": hit.subject,
        "url": result.url,
        "score": round(hit.score, 6),
        "matched": hit.matched,
        "posts": hit.posts,
        "authors": list(hit.authors),
        "tags": list(hit.tags),
        "first_at": hit.first_at.isoformat(),
        "last_at": hit.last_at.isoformat(),
        "snippet": hit.snippet,
    }


_MARK = re.compile(r"</?mark>")


def snippet_text(snippet: str) -> str:
    """The snippet as plain text (marks dropped, entities decoded), for terminals and plain bodies."""
    return html.unescape(_MARK.sub("", snippet))


@dataclass(frozen=True, slots=True)
class RoomAnswer:
    text: str  # the plain body
    html: str  # the formatted body (Matrix HTML: <strong> where the snippet had <mark>)


def room_answer(query: str, results: Sequence[SearchResult], base_url: str, slug: str) -> RoomAnswer:
    """The bot's answer to ``!icop search QUERY``: the first results with their archive links, and a link
    to the whole search."""
    more = search_url(base_url, slug, query)
    if not results:
        text = f"Nothing found for {query}. Search the archive: {more}"
        return RoomAnswer(text, html.escape(text))
    shown = results[:ROOM_RESULTS]
    lines = [f"Found in the archive for {query}:"]
    items = []
    for n, result in enumerate(shown, start=1):
        hit = result.hit
        figures = f"{hit.matched} of {hit.posts} posts, last {hit.last_at:%Y-%m-%d}"
        lines.append(f"{n}. {hit.subject} ({figures}) {result.url}\n   {snippet_text(hit.snippet)}")
        snippet = hit.snippet.replace("<mark>", "<strong>").replace("</mark>", "</strong>")
        items.append(
            f'<li><a href="{html.escape(result.url)}">{html.escape(hit.subject)}</a> '
            f"({html.escape(figures)})<br>{snippet}</li>"
        )
    tail = f"All results: {more}"
    lines.append(tail)
    formatted = (
        f"<p>Found in the archive for <code>{html.escape(query)}</code>:</p><ol>{''.join(items)}</ol>"
        f'<p><a href="{html.escape(more)}">All results</a></p>'
    )
    return RoomAnswer("\n".join(lines), formatted)


async def answer_in_room(archive: ArchiveSearch, slug: str, query: str) -> str:
    """The text the bot answers ``!icop search QUERY`` with in the room of community ``slug``."""
    try:
        results = await archive.search(query, community=slug, limit=ROOM_RESULTS)
    except QueryError as error:
        return f"I could not read that query: {error}. {QUERY_HELP}"
    return room_answer(query, results, archive.base_url, slug).text


QUERY_HELP = (
    'Words are ANDed; "a phrase", -word, a OR b, ( … ), word*, from:NAME, subject:WORD, tag:TAG, '
    "channel:email|matrix, after:YYYY-MM-DD, before:YYYY-MM-DD, is:practice."
)


class ArchiveSearchPages:
    """The search engine of the web archive's search page (``bridge.web.search.SearchEngine``): the
    same service as ``icop search`` and ``!icop search``, a page at a time."""

    def __init__(self, archive: ArchiveSearch) -> None:
        self.archive = archive

    async def search(self, community_slug: str, query: str, *, offset: int, limit: int) -> SearchResults:
        from bridge.web.search import SearchHit as PageHit
        from bridge.web.search import SearchResults

        found = await self.archive.search(query, community=community_slug, limit=offset + limit + 1)
        page = found[offset : offset + limit]
        hits = [
            PageHit(
                thread_id=r.hit.thread_id,
                subject=r.hit.subject,
                snippet=r.hit.snippet,
                score=r.hit.score,
                authors=r.hit.authors,
                tags=r.hit.tags,
                first_at=r.hit.first_at,
                last_at=r.hit.last_at,
                url=r.url,
            )
            for r in page
        ]
        more = len(found) > offset + limit
        return SearchResults(hits, total=offset + len(page), more=more)
