"""The daemon's small HTTP server: health, metrics, the stylesheet, and the routes features plug in.

Routes are added by features (``add_routes``) before ``start``; the server binds to ``web.bind``.
Every response carries the security headers of ``bridge.web.security``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bridge.web import security
from bridge.web.assets import Assets

log = logging.getLogger(__name__)


class WebServer:
    """An aiohttp application bound to ``host:port``, started and stopped by the daemon."""

    def __init__(self, bind: str, *, https: bool = False) -> None:
        host, _, port = bind.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.app = web.Application()
        self.assets = Assets()
        security.install(self.app, https=https)
        self.app.add_routes(self.assets.routes())
        self._runner: web.AppRunner | None = None

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        self.app.add_routes(routes)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        log.info("web server listening on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
