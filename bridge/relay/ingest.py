"""Turn an inbound message into a stored post with its outbox rows, in one transaction, exactly once.

The order of decisions: which community (the adapter said), who wrote it (a roster member or not), which
thread (``bridge.core.threading`` over what the store knows), who must receive it
(``bridge.core.routing``), then one ``Posts.ingest`` that writes the post and every delivery together,
and in the same transaction the post's tags and practice proposal (``bridge.relay.filing``; held posts
are filed when approved).
A message whose origin key is already stored is a no-op, so replays after a crash double nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bridge.core.commands import CORE_TEAM_ROLES
from bridge.core.message_ids import post_id_from_message_id
from bridge.core.model import Channel, DeliveryKind, DeliverySpec, InboundMessage, PostState, Recipient
from bridge.core.routing import batch_key, plan_deliveries
from bridge.core.subjects import normalize_subject, parse_subject, subject_from_text
from bridge.core.tags.mail_lines import MailCommands
from bridge.core.threading import KnownRefs, SubjectCandidate, ThreadChoice, ids_to_look_up, resolve_thread
from bridge.core.tokens import verify_reply_token
from bridge.metrics import Metrics
from bridge.relay.community import CommunityContext
from bridge.relay.faults import NO_FAULTS, Faults, FaultStage
from bridge.relay.filing import ArchiveFiling, Filed, Writing, take_mail_commands
from bridge.store import NewThread, RawMessage, Store, Transaction, audit
from bridge.store.batches import Batches
from bridge.store.outbox import create_deliveries

log = logging.getLogger(__name__)

SUBJECT_WINDOW = timedelta(days=14)
RATE_WINDOW = timedelta(hours=1)
RATE_LIMIT_NOTICE = 4
"""Notice revision (``bridge.relay.notices``): a member's post was held for the rate limit; the room
and, for a mail, its author are told once an hour."""


@dataclass(frozen=True, slots=True)
class RateHold:
    """A member's post held for the community's ``max_posts_per_hour``; ``first`` of the hour."""

    limit: int
    first: bool

    @property
    def reason(self) -> str:
        return f"over the limit of {self.limit} posts an hour"


class IngestStatus(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    HELD = "held"  # stored, waiting for a convener (not a member)
    IGNORED = "ignored"  # non-member under the "ignore" policy: not stored
    REJECTED = "rejected"  # a banned sender: stored as rejected, never relayed
    COMMAND = "command"  # a core member's reply of Tags:/Practice: lines only: obeyed, nothing relayed


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    status: IngestStatus
    post_id: int | None = None
    thread_id: int | None = None
    deliveries: int = 0
    thread_rule: str | None = None


class HoldGate(Protocol):
    """What ingest asks moderation: is this sender banned, and whom to tell about a held post."""

    async def banned(self, community: CommunityContext, sender: str) -> bool: ...

    async def held_notices(self, community: CommunityContext) -> list[DeliverySpec]: ...


class Ingestor:
    """Stores inbound messages of the communities it serves and queues their deliveries."""

    def __init__(
        self,
        store: Store,
        signing_key: bytes,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_queued: Callable[[], None] = lambda: None,
        gate: HoldGate | None = None,
        filing: ArchiveFiling | None = None,
        metrics: Metrics | None = None,
        faults: Faults = NO_FAULTS,
    ) -> None:
        self.metrics = metrics if metrics is not None else Metrics()
        self.faults = faults  # test-only failures (bridge.relay.faults); none in a deployment
        self.gate = gate  # bans and held-post notices (bridge.relay.moderation)
        self.filing = filing or ArchiveFiling(store)  # tags and practices, in the post's transaction
        self.store = store
        self.batches = Batches(store.db)
        self.signing_key = signing_key
        self.clock = clock
        self.on_queued = on_queued  # wakes the delivery workers

    async def ingest(
        self,
        community: CommunityContext,
        message: InboundMessage,
        *,
        raw: RawMessage | None = None,
        tx: Transaction | None = None,
        hold: str | None = None,
    ) -> IngestOutcome:
        """Store ``message``; ``hold`` (a reason) holds it for a convener even from a member."""
        outcome = await self._ingest(community, message, raw=raw, tx=tx, hold=hold)
        self.metrics.post_ingested(message.channel, outcome.status.value)
        return outcome

    async def _ingest(
        self,
        community: CommunityContext,
        message: InboundMessage,
        *,
        raw: RawMessage | None,
        tx: Transaction | None,
        hold: str | None,
    ) -> IngestOutcome:
        now = self.clock()
        roster = await self.store.communities.recipients(community.id)  # read once per post
        author, display_name = await self._author(message, roster)
        if display_name and display_name != message.sender_name:
            # The roster's name is how the community knows the person, whatever their client says.
            message = replace(message, sender_name=display_name)
        is_member = author is not None and author.role.may_post and author.state.value == "active"
        policy = community.config.non_member_policy
        if not is_member and policy == "ignore":
            log.info(
                "ignored a post from a non-member",
                extra={"community": community.slug, "sender": message.sender_address},
            )
            return IngestOutcome(IngestStatus.IGNORED)
        banned = self.gate is not None and await self.gate.banned(community, message.sender_address)
        rate = None
        if is_member and not banned and hold is None and author is not None:
            rate = await self._over_rate(community, author, now)
            hold = rate.reason if rate is not None else None
        held = not banned and ((not is_member and policy == "hold") or hold is not None)
        commands = MailCommands(text=message.text)
        if not banned and not held:
            message, commands = take_mail_commands(message, author)
        choice = await self._thread(community, message, author, now)
        thread_id = choice.thread_id
        if commands.any and thread_id is not None and not message.text.strip() and not message.attachments:
            async with self.store.db.transaction(tx) as inner:
                filed = await self.filing.obey(
                    community, thread_id, commands, message.sender_address, now=now, tx=inner
                )
            log.info(
                "mail of commands only: obeyed, nothing relayed",
                extra={"community": community.slug, "thread_id": thread_id, "from": message.sender_address},
            )
            return IngestOutcome(IngestStatus.COMMAND, None, thread_id, 0, choice.reason.value)
        timeline_key: str | None = None
        if (
            thread_id is None
            and message.channel is Channel.MATRIX
            and community.policy.batched
            and community.room_id
        ):
            # Under the batched policy, timeline chatter within one burst is one conversation.
            timeline_key = batch_key(community.room_id, None, thread_reply=False)
            thread_id = await self.batches.open_thread(community.id, timeline_key, tx=tx)
        parent_id = await self._parent(community, choice)
        thread_reply = message.channel is Channel.MATRIX and message.refs.matrix_thread_root is not None
        deliveries = (
            []
            if banned
            else await self._held_notices(community, rate)
            if held
            else plan_deliveries(
                message.channel,
                author,
                roster,
                community.room_id,
                community.policy,
                now,
                thread_id=thread_id,
                thread_reply=thread_reply,
            )
        )
        state = PostState.REJECTED if banned else PostState.HELD if held else PostState.VISIBLE
        filed = Filed()
        async with self.store.db.transaction(tx) as inner:
            target = thread_id if thread_id is not None else new_thread(community, message)
            result = await self.store.posts.ingest(
                message,
                community_id=community.id,
                thread=target,
                author_id=author.person_id if author else None,
                deliveries=deliveries,
                parent_id=parent_id,
                state=state,
                raw=raw,
                now=now,
                tx=inner,
            )
            self.faults.check(FaultStage.STORE, f"{message.subject or ''}\n{message.text}")
            keys = {d.batch_key for d in deliveries if d.batch_key}
            if not result.duplicate and state is not PostState.VISIBLE:
                await self._audit_refusal(community, message, result.post_id, state, hold, rate, now, inner)
            if not result.duplicate:
                for key in keys:
                    await self.batches.extend(
                        key, now + community.policy.quiet_period, community.policy.max_batch_delay, tx=inner
                    )
                if state is PostState.VISIBLE:
                    filed = await self.filing.file_new_post(
                        community,
                        post_id=result.post_id,
                        thread_id=result.thread_id,
                        new_thread=isinstance(target, NewThread),
                        writing=Writing.of_message(message, author.person_id if author else None),
                        now=now,
                        tx=inner,
                        commands=commands,
                    )
        if result.duplicate:
            # A replay (the mailbox read again after a crash) or another message reusing a Message-ID:
            # either way nothing new is relayed, and the log says which post it was taken for.
            log.info(
                "post already stored: not relayed again",
                extra={
                    "community": community.slug,
                    "post": result.post_id,
                    "from": message.channel.value,
                    "origin": message.origin_key[:200],
                },
            )
            return IngestOutcome(IngestStatus.DUPLICATE, result.post_id, result.thread_id)
        if deliveries or filed.notices:
            self.on_queued()
        status = IngestStatus.REJECTED if banned else IngestStatus.HELD if held else IngestStatus.STORED
        log.info(
            "post %s",
            status.value,
            extra={
                "community": community.slug,
                "post": result.post_id,
                "thread_id": result.thread_id,
                "from": message.channel.value,
                "rule": choice.reason.value,
                "deliveries": len(deliveries),
                **({"hold_reason": hold} if held and hold else {}),
                **({"tagged": ",".join(filed.tagged)} if filed.tagged else {}),
                **({"practice": "proposed"} if filed.proposed else {}),
                **({"story": True} if filed.story else {}),
            },
        )
        return IngestOutcome(status, result.post_id, result.thread_id, len(deliveries), choice.reason.value)

    async def _held_notices(self, community: CommunityContext, rate: RateHold | None) -> list[DeliverySpec]:
        """Who is told of a held post. Over the rate limit only the first post of the hour tells anyone:
        the conveners by mail here, the room and the member with ``RATE_LIMIT_NOTICE`` rows."""
        if self.gate is None or (rate is not None and not rate.first):
            return []
        notices = await self.gate.held_notices(community)
        return [n for n in notices if n.channel is Channel.EMAIL] if rate is not None else notices

    async def _over_rate(
        self, community: CommunityContext, author: Recipient, now: datetime
    ) -> RateHold | None:
        """The member wrote ``max_posts_per_hour`` posts in the hour before ``now`` (conveners and the
        core team are never limited)."""
        limit = community.config.max_posts_per_hour
        if limit is None or author.role in CORE_TEAM_ROLES:
            return None
        recent = await self.store.posts.recent_by_author(community.id, author.person_id, now - RATE_WINDOW)
        written = recent.get(PostState.VISIBLE, 0) + recent.get(PostState.HELD, 0)
        if written < limit:
            return None
        log.info(
            "post over the rate limit: held",
            extra={"community": community.slug, "member": author.email or author.matrix_id, "limit": limit},
        )
        return RateHold(limit, first=recent.get(PostState.HELD, 0) == 0)

    async def _audit_refusal(
        self,
        community: CommunityContext,
        message: InboundMessage,
        post_id: int,
        state: PostState,
        hold: str | None,
        rate: RateHold | None,
        now: datetime,
        tx: Transaction,
    ) -> None:
        """A held or refused post goes in the audit log; the first over the rate limit tells its
        author and the room (``RATE_LIMIT_NOTICE``)."""
        if state is PostState.REJECTED:
            await audit.record(
                tx, community.id, None, "post.refuse", f"post {post_id}", "banned sender", now=now
            )
            return
        reason = hold or "not a member"
        await audit.record(
            tx, community.id, message.sender_address, "post.hold", f"post {post_id}", reason, now=now
        )
        if rate is None or not rate.first:
            return
        told = (
            [DeliverySpec(Channel.MATRIX, community.room_id, DeliveryKind.NOTICE)]
            if community.room_id
            else []
        )
        if message.channel is Channel.EMAIL:
            told.append(DeliverySpec(Channel.EMAIL, message.sender_address, DeliveryKind.NOTICE))
        await create_deliveries(post_id, told, revision=RATE_LIMIT_NOTICE, now=now, tx=tx)

    async def _author(
        self, message: InboundMessage, roster: list[Recipient]
    ) -> tuple[Recipient | None, str | None]:
        """The sender's membership in the roster and the name the community knows them by."""
        sender = await self.store.communities.sender(message.channel, message.sender_address)
        if sender is None:
            return None, None
        person_id, display_name = sender
        member = next((r for r in roster if r.person_id == person_id), None)
        return member, display_name if member is not None else None

    async def _thread(
        self, community: CommunityContext, message: InboundMessage, author: Recipient | None, now: datetime
    ) -> ThreadChoice:
        wanted = ids_to_look_up(message.refs)
        posts = self.store.posts
        by_message = (
            await posts.by_message_ids(community.id, wanted.message_ids) if wanted.message_ids else {}
        )
        message_threads = {key: ref.thread_id for key, ref in by_message.items()}
        # Replies to our edit/batch/notice mails cite ids the store does not keep; they name the post.
        for cited in wanted.message_ids:
            if cited not in message_threads:
                post_id = post_id_from_message_id(cited, community.domain)
                post = await posts.get(post_id) if post_id is not None else None
                if post is not None and post.community_id == community.id:
                    message_threads[cited] = post.thread_id
        by_event = await posts.by_event_ids(community.id, wanted.event_ids) if wanted.event_ids else {}
        token_thread = None
        if wanted.reply_token:
            claims = verify_reply_token(self.signing_key, wanted.reply_token)
            # The token is bound to a member: it only vouches for that member's own replies.
            if claims is not None and author is not None and claims.membership_id == author.membership_id:
                token_thread = claims.thread_id
        candidates: list[SubjectCandidate] = []
        if message.channel is Channel.EMAIL and message.subject:
            normalised = normalize_subject(message.subject, [community.config.prefix])
            threads = await posts.recent_threads_by_subject(community.id, normalised, now - SUBJECT_WINDOW)
            candidates = [SubjectCandidate(t.id, t.last_activity_at) for t in threads]
        known = KnownRefs(
            message_threads=message_threads,
            event_threads={key: ref.thread_id for key, ref in by_event.items()},
            token_thread_id=token_thread,
            subject_candidates=candidates,
        )
        return resolve_thread(message.refs, message.subject, known, now=now, subject_window=SUBJECT_WINDOW)

    async def _parent(self, community: CommunityContext, choice: ThreadChoice) -> int | None:
        posts = self.store.posts
        if choice.parent_event_id:
            found = await posts.by_event_ids(community.id, [choice.parent_event_id])
            if choice.parent_event_id in found:
                return found[choice.parent_event_id].post_id
        if choice.parent_message_id:
            found_mail = await posts.by_message_ids(community.id, [choice.parent_message_id])
            if choice.parent_message_id in found_mail:
                return found_mail[choice.parent_message_id].post_id
            # One of our own derived ids (an edit or batch mail): it names the post directly.
            post_id = post_id_from_message_id(choice.parent_message_id, community.domain)
            post = await posts.get(post_id) if post_id is not None else None
            if post is not None and post.community_id == community.id:
                return post.id
        return None


def new_thread(community: CommunityContext, message: InboundMessage) -> NewThread:
    """The thread a message starts: its subject without reply markers and the list's tag, else its first
    words (a chat message has no subject)."""
    prefix = [community.config.prefix]
    if message.subject and message.subject.strip():
        subject = parse_subject(message.subject, prefix).base
    else:
        subject = subject_from_text(message.text)
    return NewThread(subject=subject, normalised_subject=normalize_subject(subject, prefix))
