"""What the relay does with each mail fetched from the list mailbox.

Mail for none of our lists, our own mail coming back, automatic replies and bounces are never relayed;
each is logged with the reason. A bounce goes to bounce handling (``relay/bounces.py``), which scores it
against the member its VERP return path names. A mail
to ``list+unsubscribe@`` from a member stops their list mail. Everything else is ingested, with the raw
message kept beside the post for the archive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from bridge.core.loop_guard import MailClass
from bridge.core.model import DeliveryMode
from bridge.email.inbound import parse_list_mail
from bridge.email.inbox import FetchedMail
from bridge.relay.bounces import BounceHandler, BouncePolicy
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor
from bridge.relay.moderation import SenderGate
from bridge.store import RawMessage, Store

log = logging.getLogger(__name__)

UNSUBSCRIBE_DETAIL = "unsubscribe"


class MailInbound:
    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        communities: Callable[[], Mapping[str, CommunityContext]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sender_gate: SenderGate | None = None,
        bounces: BounceHandler | None = None,
    ) -> None:
        self.bounces = bounces or BounceHandler(store, BouncePolicy(), clock=clock)
        self.sender_gate = sender_gate  # holds a member's mail whose From a trusted server refutes
        self.store = store
        self.ingestor = ingestor
        self.communities = communities  # slug → community
        self.clock = clock

    async def handle(self, fetched: FetchedMail) -> None:
        communities = self.communities()
        parsed = parse_list_mail(fetched.raw, [c.identity for c in communities.values()], now=self.clock())
        message = parsed.message
        context = {"uid": fetched.uid, "message_id": message.email_message_id or message.origin_key}
        if parsed.defects:
            log.debug("mail has defects: %s", ", ".join(parsed.defects), extra=context)
        community = communities.get(parsed.community_slug or "")
        if community is None:
            log.info("mail not for any list: %s", parsed.reason, extra=context)
            return
        verdict = parsed.verdict
        if verdict.verdict is MailClass.BOUNCE:
            await self.bounces.handle(community, fetched.raw, parsed.verp_recipient)
            return
        if not verdict.relay:
            log.info("mail not relayed (%s): %s", verdict.verdict.value, verdict.reason, extra=context)
            return
        if parsed.reply_token and parsed.reply_token.lower() == UNSUBSCRIBE_DETAIL:
            await self._unsubscribe(community, message.sender_address)
            return
        raw = RawMessage(content_type="message/rfc822", data=fetched.raw)
        hold = (
            await self.sender_gate.hold_reason(community, message, parsed.reply_token, fetched.raw)
            if self.sender_gate is not None
            else None
        )
        await self.ingestor.ingest(community, message, raw=raw, hold=hold)

    async def _unsubscribe(self, community: CommunityContext, sender: str) -> None:
        person = await self.store.communities.person_by_email(sender)
        member = await self.store.communities.member(community.id, person.id) if person else None
        if member is None:
            log.info("unsubscribe request from a non-member", extra={"community": community.slug})
            return
        await self.store.communities.set_delivery(member.membership_id, DeliveryMode.NONE, by=sender)
        log.info("member unsubscribed by mail", extra={"community": community.slug, "member": sender})
