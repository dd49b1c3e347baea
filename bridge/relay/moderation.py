"""Who may post, and what a convener decides about those who may not (DESIGN §5).

- ``Moderation`` is the service over the store: it tells ingest whether a sender is banned and whom to
  notify of a held post, lists held posts, and approves, rejects or bans. An approved post is relayed as
  if it had just arrived: its outbox rows are planned then by ``bridge.core.routing``, in its thread.
  The room commands and the ``icop held`` CLI both call it.
- ``RoomModeration`` reads the room's messages before ingest: ``!icop`` commands are answered and never
  relayed; a non-member who writes in the room is told once how to join.
- ``SenderGate`` holds a member's mail whose From a trusted ``Authentication-Results`` header refutes,
  unless it came through that member's own signed reply address.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from bridge.core.authentication import SenderVerdict, check_sender
from bridge.core.commands import (
    USAGE,
    CommandError,
    CommandName,
    ModerationCommand,
    may_moderate,
    parse_command,
)
from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.model import (
    Channel,
    DeliveryKind,
    DeliverySpec,
    InboundMessage,
    MembershipState,
    PostState,
    Recipient,
    Role,
)
from bridge.core.routing import plan_deliveries
from bridge.core.tokens import verify_reply_token
from bridge.relay.community import CommunityContext
from bridge.relay.notices import REJECTION_NOTICE, sender_label, summary
from bridge.store import PostRecord, Store
from bridge.store.batches import Batches
from bridge.store.moderation import ModerationLog

log = logging.getLogger(__name__)

CLI_ACTOR = "cli"


@dataclass(frozen=True, slots=True)
class HeldPost:
    """One line of the held list (the ``--json`` shape of ``icop held list``)."""

    id: int
    community: str
    channel: str
    sender: str
    sender_name: str
    summary: str
    received_at: str

    def line(self) -> str:
        return (
            f"{self.id}: {self.sender_name or self.sender} <{self.sender}> ({self.channel}): {self.summary}"
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What a moderation request did; ``message`` is the answer for the room or the terminal."""

    done: bool
    message: str
    post_id: int | None = None
    deliveries: int = 0


class Moderation:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.log = ModerationLog(store.db)
        self.batches = Batches(store.db)
        self.clock = clock
        self.on_queued = on_queued

    # -- what ingest asks (bridge.relay.ingest.HoldGate) ---------------------------------------
    async def banned(self, community: CommunityContext, sender: str) -> bool:
        return await self.log.is_banned(community.id, sender)

    async def held_notices(self, community: CommunityContext) -> list[DeliverySpec]:
        """The room once and every active convener by mail."""
        specs = []
        if community.room_id:
            specs.append(DeliverySpec(Channel.MATRIX, community.room_id, DeliveryKind.NOTICE))
        for member in await self.store.communities.recipients(community.id):
            if member.role is Role.CONVENER and member.state is MembershipState.ACTIVE and member.email:
                specs.append(
                    DeliverySpec(
                        Channel.EMAIL, member.email, DeliveryKind.NOTICE, membership_id=member.membership_id
                    )
                )
        return specs

    # -- what a convener asks -----------------------------------------------------------------
    async def held(self, community: CommunityContext | None = None) -> list[HeldPost]:
        ids = await self.log.held_ids(community.id if community else None)
        posts = [await self.store.posts.get(i) for i in ids]
        slugs = {c.id: c.slug for c in await self.store.communities.all()}
        return [
            HeldPost(
                id=p.id,
                community=slugs.get(p.community_id, ""),
                channel=p.origin_channel.value,
                sender=p.author_address,
                sender_name=p.author_name,
                summary=summary(p),
                received_at=p.created_at.isoformat(),
            )
            for p in posts
            if p is not None
        ]

    async def approve(self, community: CommunityContext, post_id: int, by: str) -> Decision:
        post, problem = await self._held_post(community, post_id)
        if post is None:
            return Decision(False, problem, post_id)
        now = self.clock()
        author = await self.store.communities.member(community.id, post.author_id) if post.author_id else None
        deliveries = plan_deliveries(
            post.origin_channel,
            author,
            await self.store.communities.recipients(community.id),
            community.room_id,
            community.policy,
            now,
            thread_id=post.thread_id,
            thread_reply=post.origin_channel is Channel.MATRIX and post.parent_id is not None,
        )
        async with self.store.db.transaction() as tx:
            done = await self.log.decide(
                post_id, PostState.VISIBLE, "approved", decided_by=by, now=now, deliveries=deliveries, tx=tx
            )
            if done:
                for key in {d.batch_key for d in deliveries if d.batch_key}:
                    await self.batches.extend(
                        key, now + community.policy.quiet_period, community.policy.max_batch_delay, tx=tx
                    )
        if not done:
            return Decision(False, await self._not_held(post_id), post_id)
        self.on_queued()
        log.info(
            "held post approved",
            extra={"community": community.slug, "post": post_id, "by": by, "deliveries": len(deliveries)},
        )
        return Decision(
            True, f"Approved post {post_id} from {sender_label(post)}: relayed.", post_id, len(deliveries)
        )

    async def reject(
        self,
        community: CommunityContext,
        post_id: int,
        by: str,
        reason: str | None = None,
        *,
        ban: bool = False,
    ) -> Decision:
        post, problem = await self._held_post(community, post_id)
        if post is None:
            return Decision(False, problem, post_id)
        if ban and post.author_id is not None:
            # A member's post is held when its From was refuted: banning the address would punish the
            # member for a forger. Members leave through the roster, not through a ban.
            return Decision(
                False,
                f"Post {post_id} carries the address of a member ({post.author_address}), perhaps forged: "
                f"`!icop reject {post_id}` it instead; a member is removed through the roster.",
                post_id,
            )
        told = post.origin_channel is Channel.EMAIL
        notices = [DeliverySpec(Channel.EMAIL, post.author_address, DeliveryKind.NOTICE)] if told else []
        done = await self.log.decide(
            post_id,
            PostState.REJECTED,
            "banned" if ban else "rejected",
            decided_by=by,
            now=self.clock(),
            reason=reason,
            deliveries=notices,
            delivery_revision=REJECTION_NOTICE,
            ban=(community.id, post.author_address) if ban else None,
        )
        if not done:
            return Decision(False, await self._not_held(post_id), post_id)
        if notices:
            self.on_queued()
        log.info(
            "held post %s",
            "rejected and sender banned" if ban else "rejected",
            extra={"community": community.slug, "post": post_id, "by": by, "reason": reason or ""},
        )
        verb = "Rejected" if not ban else "Rejected and banned the sender of"
        tail = " The sender is told by mail." if told else ""
        if ban:
            tail += f" Later posts from {post.author_address} will be rejected."
        return Decision(
            True, f"{verb} post {post_id} from {sender_label(post)}.{tail}", post_id, len(notices)
        )

    async def ban(
        self, community: CommunityContext, post_id: int, by: str, reason: str | None = None
    ) -> Decision:
        return await self.reject(community, post_id, by, reason, ban=True)

    async def _held_post(self, community: CommunityContext, post_id: int) -> tuple[PostRecord | None, str]:
        post = await self.store.posts.get(post_id)
        if post is None or post.community_id != community.id:
            return None, f"There is no post {post_id} in {community.slug}. `!icop held` lists the held ones."
        if post.state is not PostState.HELD:
            return None, await self._not_held(post_id)
        return post, ""

    async def _not_held(self, post_id: int) -> str:
        decision = await self.log.decision(post_id)
        if decision is None:
            return f"Post {post_id} is not held."
        return f"Post {post_id} is not held any more: {decision.decision} by {decision.decided_by}."


# -- the room -------------------------------------------------------------------------------------
RoomSend = Callable[[str, Mapping[str, Any], str], Awaitable[str]]
RoomSearch = Callable[[CommunityContext, str], Awaitable[str]]


class RoomModeration:
    """Runs before ingest on every room message; ``intercept`` returns True when it consumed it."""

    def __init__(self, moderation: Moderation, send: RoomSend, search: RoomSearch | None = None) -> None:
        self.moderation = moderation
        self.store = moderation.store
        self.send = send  # MatrixSender.send
        self.search = search  # !icop search, for every member (bridge.archive.search.answer_in_room)

    async def intercept(self, community: CommunityContext, message: InboundMessage) -> bool:
        command = parse_command(message.text)
        member = await self._member(community, message.sender_address)
        if command is not None:
            answer = await self._answer(community, message, command, member)
            await self._reply(community, message, answer, "command")
            return True  # a command is never relayed
        if member is None:
            await self._tell_how_to_join(community, message)
        return False

    async def _member(self, community: CommunityContext, sender: str) -> Recipient | None:
        person = await self.store.communities.person_by_matrix_id(sender)
        return await self.store.communities.member(community.id, person.id) if person else None

    async def _answer(
        self,
        community: CommunityContext,
        message: InboundMessage,
        command: ModerationCommand | CommandError,
        member: Recipient | None,
    ) -> str:
        who = message.sender_address
        if not isinstance(command, CommandError) and command.name is CommandName.SEARCH:
            if member is None or member.state is not MembershipState.ACTIVE or self.search is None:
                return f"Sorry, only members of {community.config.name} can search its archive here."
            return await self.search(community, command.query or "")
        if not may_moderate(member.role if member else None, member.state if member else None):
            log.info("moderation command refused", extra={"community": community.slug, "sender": who})
            return (
                f"Sorry, only the conveners and core members of {community.config.name} can use "
                "`!icop` commands. Your message was not relayed."
            )
        if isinstance(command, CommandError):
            return command.message
        moderation = self.moderation
        if command.name is CommandName.HELP:
            return USAGE
        if command.name is CommandName.HELD:
            held = await moderation.held(community)
            if not held:
                return "No posts are held."
            return "Held posts:\n" + "\n".join(h.line() for h in held)
        assert command.post_id is not None
        if command.name is CommandName.APPROVE:
            decision = await moderation.approve(community, command.post_id, who)
        elif command.name is CommandName.REJECT:
            decision = await moderation.reject(community, command.post_id, who, command.reason)
        else:
            decision = await moderation.ban(community, command.post_id, who, command.reason)
        return decision.message

    async def _tell_how_to_join(self, community: CommunityContext, message: InboundMessage) -> None:
        who = message.sender_address
        if not await self.moderation.log.remember_told(community.id, who, self.moderation.clock()):
            return
        policy = community.config.non_member_policy
        fate = {
            "hold": "Your messages wait for a convener before they reach the list",
            "relay": "Your messages are relayed to the list anyway",
            "ignore": "Your messages are not relayed to the list",
        }[policy]
        conveners = [m for m in community.config.member if m.role == "convener"]
        ask = ", ".join(f"{m.name} ({m.matrix or m.email})" for m in conveners) or "a convener"
        text = (
            f"Hello {message.sender_name}, this room is bridged with the mailing list "
            f"{community.config.list_address}, and only members take part in it. {fate}. "
            f"To join, ask {ask}."
        )
        try:
            await self._reply(community, message, text, "join-hint", must=True)
        except Exception:
            await self.moderation.log.forget_told(community.id, who)
            raise

    async def _reply(
        self,
        community: CommunityContext,
        message: InboundMessage,
        text: str,
        what: str,
        *,
        must: bool = False,
    ) -> None:
        assert community.room_id is not None
        content: dict[str, Any] = {
            "msgtype": "m.notice",
            "body": text,
            ORIGIN_MARKER_KEY: {"notice": what},
        }
        if message.matrix_event_id:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": message.matrix_event_id}}
        txn = f"icop.{what}.{message.matrix_event_id or message.origin_key}"
        try:
            await self.send(community.room_id, content, txn)
        except Exception as error:
            log.warning("could not answer in the room: %s", error, extra={"community": community.slug})
            if must:
                raise


# -- forged senders -------------------------------------------------------------------------------
class SenderGate:
    """Hold a member's mail whose From a trusted server refutes, unless their reply token vouches."""

    def __init__(self, store: Store, signing_key: bytes, trusted_authserv_ids: Collection[str]) -> None:
        self.store = store
        self.signing_key = signing_key
        self.trusted = tuple(trusted_authserv_ids)

    async def hold_reason(
        self, community: CommunityContext, message: InboundMessage, reply_token: str | None, raw: bytes
    ) -> str | None:
        if not self.trusted:
            return None
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
        values = [str(v) for v in headers.get_all("Authentication-Results") or []]
        domain = message.sender_address.rpartition("@")[2]
        check = check_sender(values, domain, self.trusted)
        if check.verdict is not SenderVerdict.FAIL:
            return None
        person = await self.store.communities.person_by_email(message.sender_address)
        member = await self.store.communities.member(community.id, person.id) if person else None
        if member is None:
            return None  # a non-member is held or not by the community's non_member_policy
        claims = verify_reply_token(self.signing_key, reply_token) if reply_token else None
        if claims is not None and claims.membership_id == member.membership_id:
            log.info(
                "From refuted (%s) but the member's reply address vouches for it",
                check.reason,
                extra={"community": community.slug, "sender": message.sender_address},
            )
            return None
        log.warning(
            "mail held: its From is refuted (%s)",
            check.reason,
            extra={"community": community.slug, "sender": message.sender_address},
        )
        return f"From not authenticated: {check.reason}"
