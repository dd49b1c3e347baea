"""The archive's search page, ``/c/SLUG/search?q=QUERY&page=N``, over any engine with this interface.

The query language (DESIGN §6.4) is parsed and run by the search engine, the same one ``icop
search`` uses, so a page and a command line find the same threads. The page only needs what
``SearchEngine.search`` hands back: one hit per thread, best first, with a snippet that is already
safe HTML (everything escaped but ``<mark>``), and a ``QueryError`` naming the 1-based position of
what it could not read. The route exists only when the daemon was given an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from bridge.core.query import QueryError
from bridge.web.pages import ArchivePages, reader_zone
from bridge.web.views import local_time

RESULTS_PER_PAGE = 20
MAX_QUERY = 500
MAX_PAGE = 50


@dataclass(frozen=True, slots=True)
class SearchHit:
    thread_id: int
    subject: str
    snippet: str  # escaped HTML whose only markup is <mark>…</mark>
    score: float
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    url: str


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: Sequence[SearchHit]
    total: int  # threads matched in all, or at least this many when ``more``
    more: bool = False  # more threads match than were counted


class SearchEngine(Protocol):
    async def search(self, community_slug: str, query: str, *, offset: int, limit: int) -> SearchResults:
        """Threads of the community matching ``query``, best first; raises ``QueryError``."""
        ...


class SearchPage:
    def __init__(self, pages: ArchivePages, engine: SearchEngine) -> None:
        self.pages = pages
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/c/{slug}/search", self.search)]

    async def search(self, request: web.Request) -> web.StreamResponse:
        found = await self.pages.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        query = request.query.get("q", "").strip()[:MAX_QUERY]
        page_text = request.query.get("page", "1")
        number = int(page_text) if page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE else 1
        shown = reader_zone(site, reader)
        context = {**self.pages.context(site, reader), "query": query, "zone_note": shown.note}
        if not query:
            return self.pages.page(
                request,
                "search",
                f"Search · {site.name}",
                reader=reader,
                **context,
                hits=[],
                total=0,
                at_least=False,
                error=None,
                previous_url=None,
                next_url=None,
            )
        try:
            results = await self.engine.search(
                site.slug, query, offset=(number - 1) * RESULTS_PER_PAGE, limit=RESULTS_PER_PAGE
            )
        except QueryError as error:
            return self.pages.page(
                request,
                "search",
                f"Search · {site.name}",
                status=400,
                reader=reader,
                **context,
                hits=[],
                total=0,
                at_least=False,
                error=str(error),
                previous_url=None,
                next_url=None,
            )
        hits = [
            {
                "url": hit.url,
                "subject": hit.subject or "(no subject)",
                "snippet": Markup(hit.snippet),  # noqa: S704 - the engine's contract: escaped, <mark> only
                "authors": hit.authors,
                "tags": hit.tags,
                "last": local_time(hit.last_at, shown.where),
            }
            for hit in results.hits
        ]

        def link(n: int) -> str:
            return f"{request.path}?{urlencode({'q': query, 'page': n})}"

        more = (number * RESULTS_PER_PAGE < results.total or results.more) and number < MAX_PAGE
        return self.pages.page(
            request,
            "search",
            f"{query} · Search · {site.name}",
            reader=reader,
            **context,
            hits=hits,
            total=results.total,
            at_least=results.more,
            error=None,
            previous_url=link(number - 1) if number > 1 else None,
            next_url=link(number + 1) if more else None,
        )
