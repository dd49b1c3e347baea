"""The archive's one stylesheet, served by the daemon itself (no external assets).

Its URL carries a hash of its content, so browsers may keep it for a year and still get a new one the
moment it changes. The CSP allows styles from our own origin only, which is why the pages never
carry inline ``style`` attributes or ``<style>`` blocks.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from aiohttp import web

STYLESHEET = "archive.css"


class Assets:
    def __init__(self) -> None:
        self.css = resources.files("bridge.web").joinpath("static", STYLESHEET).read_bytes()
        self.version = hashlib.sha256(self.css).hexdigest()[:12]

    @property
    def stylesheet_path(self) -> str:
        return f"/assets/{STYLESHEET}?v={self.version}"

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/assets/{STYLESHEET}", self.stylesheet)]

    async def stylesheet(self, request: web.Request) -> web.Response:
        etag = f'"{self.version}"'
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.css, content_type="text/css", charset="utf-8", headers=headers)
