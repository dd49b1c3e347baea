"""Mail to the list's request addresses, handed over by the relay's mail handler: parsed in the core
(``bridge.core.digest.requests``) and obeyed by the subscription desk, which answers by mail."""

from __future__ import annotations

import logging

from bridge.core.digest.requests import parse_mail_requests
from bridge.core.model import InboundMessage
from bridge.digest.desk import SubscriptionDesk
from bridge.relay.community import CommunityContext

log = logging.getLogger(__name__)


class MailRequests:
    def __init__(self, desk: SubscriptionDesk) -> None:
        self.desk = desk

    async def handle(self, community: CommunityContext, message: InboundMessage, detail: str) -> None:
        requests = parse_mail_requests(detail, message.subject, message.text)
        log.info(
            "mail request",
            extra={
                "community": community.slug,
                "from": message.sender_address,
                "commands": ", ".join(getattr(r, "verb", "error") for r in requests),
            },
        )
        await self.desk.by_mail(community.config, message.sender_address, message.sender_name, requests)
