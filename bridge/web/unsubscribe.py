"""One-click unsubscribe (RFC 8058) and its confirmation page.

Every list mail carries ``List-Unsubscribe: <BASE/unsubscribe/TOKEN>`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``: mail clients POST to the URL and the member is
unsubscribed at once, without a page. A person who follows the link in a browser gets a GET, which
never changes anything (link scanners follow links too), and confirms with the page's button, which
POSTs the same URL. The token is signed and expiring, and names the membership.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from bridge.core.model import DeliveryMode
from bridge.core.tokens import verify_link_token
from bridge.rendering import Renderer
from bridge.store import Store

log = logging.getLogger(__name__)

PURPOSE = "unsubscribe"


class UnsubscribePages:
    def __init__(
        self,
        store: Store,
        signing_key: bytes,
        renderer: Renderer,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.signing_key = signing_key
        self.renderer = renderer
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/unsubscribe/{token}", self.confirm),
            web.post("/unsubscribe/{token}", self.unsubscribe),
        ]

    async def confirm(self, request: web.Request) -> web.Response:
        found = await self._membership(request.match_info["token"])
        if found is None:
            return self._page("invalid", status=400)
        address, community = found[1], found[2]
        return self._page("confirm", address=address, community=community)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        found = await self._membership(request.match_info["token"])
        if found is None:
            return self._page("invalid", status=400)
        membership_id, address, community = found
        await self.store.communities.set_delivery(membership_id, DeliveryMode.NONE, by=address)
        log.info("member unsubscribed by link", extra={"membership": membership_id, "community": community})
        return self._page("done", address=address, community=community)

    async def _membership(self, token: str) -> tuple[int, str, str] | None:
        subject = verify_link_token(self.signing_key, PURPOSE, token, self.clock())
        if subject is None or not subject.isdigit():
            return None
        member = await self.store.communities.membership(int(subject))
        if member is None or member.email is None:
            return None
        community = await self.store.communities.community_of(int(subject))
        return int(subject), member.email, community.name if community else "the list"

    def _page(self, state: str, *, status: int = 200, address: str = "", community: str = "") -> web.Response:
        html = self.renderer.render(
            "web/unsubscribe.html.j2",
            {"state": state, "address": address, "community": community, "title": "Unsubscribe"},
        )
        return web.Response(text=html, content_type="text/html", status=status)
