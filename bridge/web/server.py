"""The daemon's small HTTP server: health, the stylesheet, and the routes features plug in.

Routes are added by features (``add_routes``) before ``start``; the server binds to ``web.bind``.
Every response carries the security headers of ``bridge.web.security``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bridge.web import security
from bridge.web.assets import Assets

log = logging.getLogger(__name__)

HealthProbe = Callable[[], Awaitable[dict[str, object]]]


class WebServer:
    """An aiohttp application bound to ``host:port``, started and stopped by the daemon."""

    def __init__(self, bind: str, health: HealthProbe, *, https: bool = False) -> None:
        host, _, port = bind.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self._health = health
        self.app = web.Application()
        self.assets = Assets()
        security.install(self.app, https=https)
        self.app.router.add_get("/healthz", self._healthz)
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

    async def _healthz(self, request: web.Request) -> web.Response:
        status = await self._health()
        return web.json_response(status, status=200 if status.get("ok") else 503)
