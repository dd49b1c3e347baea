"""The archive's pages: the communities, a community's recent threads, a thread, a tag, the catalogue.

Paths are DESIGN §6.5's, built by ``bridge.core.links``. Every community page first asks whether the
visitor may read that community (``CommunitySite.readable_by``); the refusal is the same for a
members-only community and for one that does not exist, and names neither. Times are shown in the
reader's zone: a signed-in member's own, else the community's, and the page says which.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web
from markupsafe import Markup

from bridge.core import links
from bridge.core.model import Channel
from bridge.core.tags.names import fold_tag
from bridge.core.zones import zone
from bridge.rendering import Renderer
from bridge.store import Store
from bridge.store.archive import Cursor, Reader
from bridge.web.access import CommunitySite, Sessions, see_other
from bridge.web.views import FileUrl, local_time, post_views, tag_links, thread_rows

THREADS_PER_PAGE = 30
TEMPLATE = "web/archive/{}.html.j2"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Zone:
    """The zone times are shown in, and the sentence that says so."""

    where: tzinfo
    note: str


def reader_zone(site: CommunitySite | None, reader: Reader | None) -> Zone:
    own = reader.zone_in(site.record.id) if reader and site and reader.member_of(site.record.id) else None
    own = own or (reader.time_zone if reader else None)
    if own:
        return Zone(zone(own), f"Times are shown in {own}, your time zone.")
    if site is None:
        return Zone(UTC, "Times are shown in UTC.")
    name = site.record.time_zone
    hint = "" if reader else " Sign in to see them in yours."
    return Zone(zone(name), f"Times are shown in {name}, the community's time zone.{hint}")


def encode_cursor(cursor: Cursor) -> str:
    moment, thread_id = cursor
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{thread_id}"


def decode_cursor(value: str | None) -> Cursor | None:
    """The cursor in ``?before=``; raises ValueError for anything but ``MICROS-ID``."""
    if value is None:
        return None
    micros, dash, thread_id = value.partition("-")
    if not dash or not micros.isdigit() or not thread_id.isdigit() or len(value) > 40:
        raise ValueError(f"not a thread-list cursor: {value!r}")
    return _EPOCH + timedelta(microseconds=int(micros)), int(thread_id)


class PageRenderer:
    """Renders one archive template with what every page shows (who is signed in, where to go)."""

    def __init__(self, renderer: Renderer, base_url: str, stylesheet_url: str) -> None:
        self.renderer = renderer
        self.base_url = base_url
        self.stylesheet_url = stylesheet_url

    def __call__(
        self,
        request: web.Request,
        template: str,
        title: str,
        *,
        status: int = 200,
        reader: Reader | None = None,
        site: CommunitySite | None = None,
        **context: Any,
    ) -> web.Response:
        here = request.path_qs if request.method == "GET" and not request.path.startswith("/login") else "/"
        values = {
            "title": title,
            "stylesheet_url": self.stylesheet_url,
            "home_url": f"{self.base_url.rstrip('/')}/",
            "login_url": f"{links.login_url(self.base_url)}?{urlencode({'next': here})}",
            "logout_url": f"{self.base_url.rstrip('/')}/logout",
            "reader_name": reader.name if reader else None,
            "site": site,
            "site_url": links.community_url(self.base_url, site.slug) if site else None,
            "practices_url": links.practices_url(self.base_url, site.slug) if site else None,
            "about_url": links.about_url(self.base_url, site.slug) if site else None,
            "team_report_url": links.report_url(self.base_url, site.slug)
            if site and site.led_by(reader)
            else None,
            "search_url": None,
            "zone_note": None,
            **context,
        }
        html = self.renderer.render(TEMPLATE.format(template), values)
        headers = {"Cache-Control": "private, no-cache"} if reader or (site and not site.public) else {}
        return web.Response(text=html, content_type="text/html", status=status, headers=headers)


@dataclass(frozen=True, slots=True)
class RenderedPosts:
    html: Markup
    count: int
    by_email: int
    by_chat: int


class RenderedThreads:
    """The last rendered post lists, keyed by (thread, version, zone), for ``ttl`` at most.

    A thread is read far more often than it changes; its version (``Archive.thread_version``) changes
    with every post, edit, deletion or reaction, so a stale page is never served. The time limit
    keeps the signed file links in a cached page far from their expiry."""

    def __init__(self, size: int, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, RenderedPosts]] = OrderedDict()

    def get(self, key: Hashable) -> RenderedPosts | None:
        found = self._entries.get(key)
        if found is None or self.clock() - found[0] > self.ttl:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def clear(self) -> None:
        self._entries.clear()

    def put(self, key: Hashable, value: RenderedPosts) -> None:
        if self.size <= 0:
            return
        self._entries[key] = (self.clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class ArchivePages:
    def __init__(
        self,
        store: Store,
        sessions: Sessions,
        sites: Callable[[], Mapping[str, CommunitySite]],
        page: PageRenderer,
        file_url: FileUrl,
        *,
        feed_url: Callable[[CommunitySite, Reader | None, str | None], str | None],
        searchable: bool = False,
        cached_threads: int = 64,
    ) -> None:
        self.rendered = RenderedThreads(cached_threads)
        self.store = store
        self.sessions = sessions
        self.sites = sites
        self.page = page
        self.base_url = page.base_url
        self.file_url = file_url
        self.feed_url = feed_url
        self.searchable = searchable

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.communities),
            web.get("/c/{slug}", self.community_slash),
            web.get("/c/{slug}/", self.community),
            web.get("/c/{slug}/t/{thread:[0-9]{1,18}}", self.thread),
            web.get("/c/{slug}/tag/{tag}", self.tag),
            web.get("/c/{slug}/practices", self.practices),
        ]

    async def site_for(
        self, request: web.Request
    ) -> tuple[CommunitySite, Reader | None] | web.StreamResponse:
        """The community of the path when the visitor may read it, else the refusal to send."""
        reader = await self.sessions.reader(request)
        site = self.sites().get(request.match_info["slug"])
        if site is not None and site.readable_by(reader):
            return site, reader
        if reader is None:
            return self.sign_in_first(request)
        return self.page(request, "refused", "Not a member", status=403, reader=reader, reason="member")

    def sign_in_first(self, request: web.Request) -> web.Response:
        """The answer to a visitor who must sign in: the sign-in page, coming back here afterwards."""
        return see_other(f"{links.login_url(self.base_url)}?{urlencode({'next': request.path_qs})}")

    def context(self, site: CommunitySite, reader: Reader | None) -> dict[str, Any]:
        """What every community page shows around its content."""
        return {
            "site": site,
            "search_url": links.community_url(self.base_url, site.slug) + "search"
            if self.searchable
            else None,
        }

    # -- pages -----------------------------------------------------------------------------------
    async def communities(self, request: web.Request) -> web.Response:
        reader = await self.sessions.reader(request)
        visible = [s for s in self.sites().values() if s.readable_by(reader)]
        entries = [
            {
                "name": s.name,
                "description": s.description,
                "url": links.community_url(self.base_url, s.slug),
                "public": s.public,
            }
            for s in visible
        ]
        return self.page(request, "communities", "Community archives", reader=reader, communities=entries)

    async def community_slash(self, request: web.Request) -> web.StreamResponse:
        return see_other(f"/c/{quote(request.match_info['slug'], safe='')}/", status=308)

    async def community(self, request: web.Request) -> web.StreamResponse:
        found = await self.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        return await self._thread_list(request, site, reader, tag=None)

    async def tag(self, request: web.Request) -> web.StreamResponse:
        found = await self.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        written = request.match_info["tag"]
        name = fold_tag(written)
        if name and name != written:  # /tag/Estimação is /tag/estimacao: one spelling per tag
            query = f"?{request.query_string}" if request.query_string else ""
            return see_other(f"/c/{quote(site.slug, safe='')}/tag/{quote(name, safe='')}{query}", status=308)
        return await self._thread_list(request, site, reader, tag=written)

    async def _thread_list(
        self, request: web.Request, site: CommunitySite, reader: Reader | None, *, tag: str | None
    ) -> web.StreamResponse:
        try:
            before = decode_cursor(request.query.get("before"))
        except ValueError:
            return self.page(request, "error", "Bad request", status=400, reader=reader, site=site)
        summary = None
        if tag is not None:
            summary = await self.store.archive.tag(site.record.id, tag)
            if summary is None:
                return self.page(request, "error", "No such tag", status=404, reader=reader, site=site)
        threads = await self.store.archive.recent_threads(
            site.record.id, limit=THREADS_PER_PAGE + 1, before=before, tag=tag
        )
        more = len(threads) > THREADS_PER_PAGE
        threads = threads[:THREADS_PER_PAGE]
        shown = reader_zone(site, reader)
        here = urlsplit(request.path).path
        older = (
            f"{here}?{urlencode({'before': encode_cursor((threads[-1].last_activity_at, threads[-1].id))})}"
            if more
            else None
        )
        tags = await self.store.archive.tags(site.record.id) if tag is None and before is None else []
        title = f"{summary.label} · {site.name}" if summary else site.name
        return self.page(
            request,
            "tag" if summary else "community",
            title,
            reader=reader,
            **self.context(site, reader),
            tag=summary,
            threads=thread_rows(self.base_url, site.slug, threads, shown.where),
            tags=[(t, links.tag_url(self.base_url, site.slug, t.name)) for t in tags],
            older_url=older,
            newest_url=here if before is not None else None,
            zone_note=shown.note,
            feed_url=self.feed_url(site, reader, tag),
        )

    async def thread(self, request: web.Request) -> web.StreamResponse:
        found = await self.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        head = await self.store.archive.thread(site.record.id, int(request.match_info["thread"]))
        if head is None:
            return self.page(request, "error", "No such thread", status=404, reader=reader, site=site)
        shown = reader_zone(site, reader)
        posts = await self._posts(head.id, shown.where)
        return self.page(
            request,
            "thread",
            f"{head.subject or '(no subject)'} · {site.name}",
            reader=reader,
            **self.context(site, reader),
            subject=head.subject or "(no subject)",
            tags=tag_links(self.base_url, site.slug, head.tags),
            posts_html=posts.html,
            count=posts.count,
            by_email=posts.by_email,
            by_chat=posts.by_chat,
            started=local_time(head.created_at, shown.where),
            zone_note=shown.note,
        )

    async def _posts(self, thread_id: int, where: tzinfo) -> RenderedPosts:
        """The thread's posts as HTML, rendered once per version of the thread and time zone."""
        key = (thread_id, await self.store.archive.thread_version(thread_id), str(where))
        cached = self.rendered.get(key)
        if cached is not None:
            return cached
        posts = await self.store.archive.thread_posts(thread_id)
        views = post_views(posts, where, self.file_url)
        html = self.page.renderer.render(TEMPLATE.format("_posts"), {"posts": views})
        rendered = RenderedPosts(
            html=Markup(html),  # noqa: S704 - rendered by the autoescaping template just above
            count=len(posts),
            by_email=sum(p.channel is Channel.EMAIL for p in posts),
            by_chat=sum(p.channel is Channel.MATRIX for p in posts),
        )
        self.rendered.put(key, rendered)
        return rendered

    async def practices(self, request: web.Request) -> web.StreamResponse:
        found = await self.site_for(request)
        if isinstance(found, web.StreamResponse):
            return found
        site, reader = found
        shown = reader_zone(site, reader)
        entries = await self.store.archive.practices(site.record.id)
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            view = {
                "title": entry.title,
                "summary": entry.summary,
                "confirmed": entry.state.value == "confirmed",
                "url": links.thread_url(self.base_url, site.slug, entry.thread_id),
                "since": local_time(entry.confirmed_at or entry.created_at, shown.where),
                "tags": tag_links(self.base_url, site.slug, entry.tags),
            }
            for label in [t.label or t.name for t in entry.tags] or ["Not filed under a tag"]:
                groups.setdefault(label, []).append(view)
        ordered = sorted(
            groups.items(), key=lambda item: (item[0] == "Not filed under a tag", item[0].casefold())
        )
        return self.page(
            request,
            "practices",
            f"Practices · {site.name}",
            reader=reader,
            **self.context(site, reader),
            groups=ordered,
            count=len(entries),
            zone_note=shown.note,
            feed_url=self.feed_url(site, reader, None),
        )
