"""One-click unsubscribe (RFC 8058) and its confirmation page, for list mail and for digests.

Every list mail carries ``List-Unsubscribe: <BASE/unsubscribe/TOKEN>`` with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, and so does every digest: mail clients POST to
the URL and the change is made at once, without a page. From list mail it stops list mail (a member who
also takes digests keeps them); from a digest it stops that reader's digests (a member who also takes
every post keeps those). Either is confirmed by mail when a desk is given. A person who follows the
link in a browser gets a GET, which never changes anything (link scanners follow links too), and
confirms with the page's button, which POSTs the same URL. The token is signed and expiring, names the
membership, and its purpose says which mail it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bridge.core.model import DeliveryMode
from bridge.core.tokens import verify_link_token
from bridge.rendering import Renderer
from bridge.store import Store

if TYPE_CHECKING:
    from bridge.digest.desk import SubscriptionDesk

log = logging.getLogger(__name__)

PURPOSE = "unsubscribe"
DIGEST_PURPOSE = "digest-unsubscribe"


class UnsubscribePages:
    def __init__(
        self,
        store: Store,
        signing_key: bytes,
        renderer: Renderer,
        *,
        desk: SubscriptionDesk | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.signing_key = signing_key
        self.renderer = renderer
        self.desk = desk
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
        _, address, community, digests = found
        return self._page("confirm", address=address, community=community, digests=digests)

    async def unsubscribe(self, request: web.Request) -> web.Response:
        found = await self._membership(request.match_info["token"])
        if found is None:
            return self._page("invalid", status=400)
        membership_id, address, community, digests = found
        reader = await self.store.subscriptions.reader(membership_id) if self.desk is not None else None
        if self.desk is not None and reader is not None:
            await self.desk.unsubscribe(reader, digests_only=digests)
        else:
            await self.store.communities.set_delivery(membership_id, DeliveryMode.NONE, by=address)
            log.info(
                "member unsubscribed by link", extra={"membership": membership_id, "community": community}
            )
        return self._page("done", address=address, community=community, digests=digests)

    async def _membership(self, token: str) -> tuple[int, str, str, bool] | None:
        now = self.clock()
        subject = verify_link_token(self.signing_key, PURPOSE, token, now)
        digests = subject is None
        if digests:
            subject = verify_link_token(self.signing_key, DIGEST_PURPOSE, token, now)
        if subject is None or not subject.isdigit():
            return None
        member = await self.store.communities.membership(int(subject))
        if member is None or member.email is None:
            return None
        community = await self.store.communities.community_of(int(subject))
        return int(subject), member.email, community.name if community else "the list", digests

    def _page(
        self,
        state: str,
        *,
        status: int = 200,
        address: str = "",
        community: str = "",
        digests: bool = False,
    ) -> web.Response:
        html = self.renderer.render(
            "web/unsubscribe.html.j2",
            {
                "state": state,
                "address": address,
                "community": community,
                "what": "digests" if digests else "list mail",
                "title": "Unsubscribe",
            },
        )
        return web.Response(text=html, content_type="text/html", status=status)
