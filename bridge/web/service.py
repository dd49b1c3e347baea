"""The web archive as a daemon component: its pages, feeds, sign-in, and the loops behind them.

Beside the pages every reader sees, a community's about page (``bridge.web.about``) and its report for
the conveners and core team (``bridge.web.report``). It reads the relay's store and signing key, mails
sign-in links through the relay's SMTP sender and sends Matrix ones through its session, so the daemon
keeps one connection of each kind. Two loops:
the sign-in courier (sends queued links) and an hourly purge of expired sessions and old links.
The search page is registered only when a search engine is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiohttp import web

from bridge.config import LoadedConfig
from bridge.email.smtp import SmtpSender
from bridge.matrix.direct import DirectMessages
from bridge.matrix.session import MatrixSession
from bridge.rendering import Renderer
from bridge.store import Store
from bridge.web.about import AboutPage
from bridge.web.access import CommunitySite, Sessions
from bridge.web.feeds import Feeds
from bridge.web.files import FileLinks
from bridge.web.pages import ArchivePages, PageRenderer
from bridge.web.report import ReportPages
from bridge.web.search import SearchEngine, SearchPage
from bridge.web.sign_in import SignInCourier, SignInPages

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0


class Messaging(Protocol):
    """What the archive borrows from the relay once it has started."""

    store: Store
    signing_key: bytes | None
    smtp: SmtpSender | None
    session: MatrixSession | None


class ArchiveService:
    name = "archive"

    def __init__(
        self,
        loaded: LoadedConfig,
        relay: Messaging,
        *,
        stylesheet_url: str,
        search: SearchEngine | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.loaded = loaded
        self.relay = relay
        self.stylesheet_url = stylesheet_url
        self.search = search
        self.clock = clock
        self.renderer = Renderer()
        self.sites: dict[str, CommunitySite] = {}
        self.courier: SignInCourier | None = None
        self.pages: ArchivePages | None = None
        self._routes: list[web.RouteDef] = []

    async def start(self) -> None:
        config = self.loaded.config
        store, key = self.relay.store, self.relay.signing_key
        assert key is not None, "the relay starts first and reads the signing key"
        by_slug = {c.slug: c for c in config.community}
        self.sites = {
            r.slug: CommunitySite(
                r, by_slug[r.slug].name, by_slug[r.slug].description, by_slug[r.slug].archive
            )
            for r in await store.communities.all()
            if r.slug in by_slug
        }
        base_url = str(config.base_url)
        sessions = Sessions(
            store, base_url, lifetime=timedelta(days=config.web.session_days), clock=self.clock
        )
        session = self.relay.session
        self.courier = SignInCourier(
            store,
            key,
            base_url,
            self._sites,
            mail=self.relay.smtp,
            direct=DirectMessages(session, store.settings) if session is not None else None,
            per_hour=config.web.sign_in_requests_per_hour,
            renderer=self.renderer,
            clock=self.clock,
        )
        page = PageRenderer(self.renderer, base_url, self.stylesheet_url)
        feeds = Feeds(store, sessions, self._sites, self.renderer, key, base_url, clock=self.clock)
        files = FileLinks(base_url, key, clock=self.clock)
        self.pages = pages = ArchivePages(
            store,
            sessions,
            self._sites,
            page,
            files.url,
            feed_url=feeds.url,
            searchable=self.search is not None,
        )
        sign_in = SignInPages(
            sessions,
            self.courier,
            page,
            base_url,
            per_hour=config.web.sign_in_requests_per_hour,
            clock=self.clock,
        )
        about = AboutPage(pages, lambda: by_slug, clock=self.clock)
        report = ReportPages(pages, clock=self.clock)
        self._routes = [
            *pages.routes(),
            *about.routes(),
            *report.routes(),
            *feeds.routes(),
            *sign_in.routes(),
        ]
        if self.search is not None:
            self._routes += SearchPage(pages, self.search).routes()

    async def stop(self) -> None:
        return None

    def web_routes(self) -> list[web.RouteDef]:
        return self._routes

    def loops(self) -> Mapping[str, Callable[[], Awaitable[None]]]:
        assert self.courier is not None
        return {"sign_in": self.courier.run, "sessions.purge": self._purge_loop}

    def _sites(self) -> Mapping[str, CommunitySite]:
        return self.sites

    async def _purge_loop(self) -> None:
        while True:
            now = self.clock()
            purged = await self.relay.store.web_sessions.purge(now, keep_links_since=now - timedelta(days=1))
            if purged:
                log.info("purged %d expired sessions and sign-in links", purged)
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)
