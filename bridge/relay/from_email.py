"""What the relay does with each mail fetched from the list mailbox.

Mail for none of our lists, our own mail coming back, automatic replies and bounces are never relayed;
each is logged with the reason. A bounce goes to bounce handling (``relay/bounces.py``), which scores it
against the member its VERP return path names. A mail
to ``list+unsubscribe@`` from a member stops their list mail. A mail with no subject, no text and no file
is logged and dropped: the room would get a bare name. Everything else is ingested, with the raw message
kept beside the post for the archive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from bridge.core.loop_guard import MailClass
from bridge.core.model import Channel, DeliveryMode, InboundMessage
from bridge.email.inbound import ParsedMail, parse_list_mail, summarise_mail
from bridge.email.inbox import FetchedMail
from bridge.relay.bounces import BounceHandler, BouncePolicy
from bridge.relay.community import CommunityContext
from bridge.relay.faults import NO_FAULTS, Faults, FaultStage
from bridge.relay.ingest import Ingestor
from bridge.relay.moderation import SenderGate
from bridge.relay.shunt import Shunt, mail_origin
from bridge.store import NewParked, RawMessage, Store

log = logging.getLogger(__name__)

UNSUBSCRIBE_DETAIL = "unsubscribe"
REQUEST_DETAILS = frozenset({"request", "subscribe", "unsubscribe"})
CONFIRM_DETAIL = "confirm-"

RequestHandler = Callable[[CommunityContext, InboundMessage, str], Awaitable[None]]
"""Answers mail to ``LIST+request@``, ``+subscribe@``, ``+unsubscribe@``, ``+confirm-CODE@``
(``bridge.digest.mail``); given the community, the message and the address's detail."""


def _empty(message: InboundMessage) -> bool:
    """Nothing to show anyone: the room would get a bare name (a blank mail, or headers alone)."""
    written = (message.full_text or message.text or message.html or "").strip()
    return not written and not (message.subject or "").strip() and not message.attachments


def is_request(detail: str | None) -> bool:
    """Whether a subaddress is one of the list's request addresses rather than a reply token."""
    return bool(detail) and (detail in REQUEST_DETAILS or str(detail).startswith(CONFIRM_DETAIL))


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
        requests: RequestHandler | None = None,
        faults: Faults = NO_FAULTS,
    ) -> None:
        self.requests = requests  # subscription commands (bridge.digest.mail), when digests are on
        self.faults = faults  # test-only failures (bridge.relay.faults); none in a deployment
        self.bounces = bounces or BounceHandler(store, BouncePolicy(), clock=clock)
        self.sender_gate = sender_gate  # holds a member's mail whose From a trusted server refutes
        self.store = store
        self.ingestor = ingestor
        self.communities = communities  # slug → community
        self.clock = clock

    def shunted(self, shunt: Shunt, source: str) -> Callable[[FetchedMail], Awaitable[None]]:
        """``handle`` behind the shunt: a mail that cannot be handled is parked and the mailbox moves on."""

        async def handle(fetched: FetchedMail) -> None:
            origin = mail_origin(fetched.raw)
            await shunt.handle(
                Channel.EMAIL,
                origin,
                lambda: self.handle(fetched),
                lambda: self._to_park(fetched, source, origin),
            )

        return handle

    def _to_park(self, fetched: FetchedMail, source: str, origin: str) -> NewParked:
        communities = self.communities()
        summary = summarise_mail(fetched.raw, [c.identity for c in communities.values()])
        community = communities.get(summary.community_slug or "")
        return NewParked(
            channel=Channel.EMAIL,
            source=source,
            origin=origin,
            data=fetched.raw,
            reason="",
            failure="",
            position=f"{fetched.uidvalidity}:{fetched.uid}" if fetched.uid else None,
            community_id=community.id if community else None,
            sender=summary.sender,
            subject=summary.subject,
        )

    async def handle(self, fetched: FetchedMail) -> None:
        communities = self.communities()
        self.faults.check(FaultStage.HANDLER, fetched.raw)
        parsed = self._parse(fetched.raw, communities)
        message = parsed.message
        context = {"uid": fetched.uid, "message_id": (message.email_message_id or message.origin_key)[:200]}
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
        detail = parsed.reply_token.lower() if parsed.reply_token else None
        if self.requests is not None and detail is not None and is_request(detail):
            await self.requests(community, message, detail)
            return
        if detail == UNSUBSCRIBE_DETAIL:
            await self._unsubscribe(community, message.sender_address)
            return
        if _empty(message):
            log.info("empty mail not relayed: no subject, text or file", extra=context)
            return
        raw = RawMessage(content_type="message/rfc822", data=fetched.raw)
        hold = (
            await self.sender_gate.hold_reason(community, message, parsed.reply_token, fetched.raw)
            if self.sender_gate is not None
            else None
        )
        await self.ingestor.ingest(community, message, raw=raw, hold=hold)

    def _parse(self, raw: bytes, communities: Mapping[str, CommunityContext]) -> ParsedMail:
        self.faults.check(FaultStage.PARSE, raw)
        return parse_list_mail(raw, [c.identity for c in communities.values()], now=self.clock())

    async def _unsubscribe(self, community: CommunityContext, sender: str) -> None:
        person = await self.store.communities.person_by_email(sender)
        member = await self.store.communities.member(community.id, person.id) if person else None
        if member is None:
            log.info("unsubscribe request from a non-member", extra={"community": community.slug})
            return
        await self.store.communities.set_delivery(member.membership_id, DeliveryMode.NONE, by=sender)
        log.info("member unsubscribed by mail", extra={"community": community.slug, "member": sender})
