"""Deliver the bridge's own notices about a post through the outbox, so none is lost to an outage.

A held post queues ``DeliveryKind.NOTICE`` rows: one for the room (an ``m.notice`` from the bot, marked
with ``ORIGIN_MARKER_KEY`` so it is never relayed) and one mail per convener. Rejecting a post that came
by mail queues one more mail, to its sender, with the reason. The row's ``revision`` says which notice
it is (``HELD_NOTICE`` or ``REJECTION_NOTICE``); its Message-ID comes from ``post_message_id(...,
kind="notice")`` so the loop guard knows a reply or bounce of it. The archive's notices
(``PRACTICE_NOTICE``, ``SUGGESTION_NOTICE``, queued by ``bridge.relay.filing``) are posted in the
post's thread in the room; a practice proposal is also mailed to core members who do not chat. A
member's post held for the rate limit (``RATE_LIMIT_NOTICE``, ``bridge.relay.ingest``) is told once an
hour in the room and, when it came by mail, to its author.
``NoticeCourier`` wraps a channel's courier: notice rows are written here, every other row goes on to
the wrapped courier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.message_ids import matrix_txn_id, post_message_id
from bridge.core.model import Channel, DeliveryKind
from bridge.core.tags.taxonomy import Suggestion
from bridge.email.outbound import OutgoingNotice, compose_notice_mail
from bridge.email.smtp import SmtpSender
from bridge.matrix.sender import MatrixSender
from bridge.matrix.session import MatrixPermanentError, MatrixTemporaryError
from bridge.relay.community import CommunityContext
from bridge.relay.conversation import conversation_of
from bridge.relay.filing import PRACTICE_NOTICE, SUGGESTION_NOTICE, Writing, suggestions
from bridge.relay.ingest import RATE_LIMIT_NOTICE
from bridge.relay.mail_courier import send_to_member
from bridge.relay.worker import Courier, PermanentDeliveryError, TemporaryDeliveryError
from bridge.rendering import Renderer
from bridge.store import OutboxEntry, PostRecord, Store
from bridge.store.moderation import ModerationLog

HELD_NOTICE = 0
REJECTION_NOTICE = 1

SUMMARY_CHARS = 80


def summary(post: PostRecord) -> str:
    """The subject of a held post, else its first line, shortened for a one-line listing."""
    text = (post.subject or "").strip() or next(
        (line.strip() for line in post.text.splitlines() if line.strip()), ""
    )
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def sender_label(post: PostRecord) -> str:
    how = channel_label(post)
    name = post.author_name.strip()
    who = f"{name} <{post.author_address}>" if name and name != post.author_address else post.author_address
    return f"{who} ({how})"


def practice_notice_text(post: PostRecord) -> str:
    return (
        f"{post.author_name or post.author_address} proposed this thread as a practice. "
        "Core team: `!icop practice TITLE` here confirms it for the catalogue, "
        "and `!icop summary TEXT` writes its summary."
    )


def suggestion_notice_text(suggested: Sequence[Suggestion]) -> str:
    tags = ", ".join(f"#{s.tag} (“{s.keyword}”)" for s in suggested)
    return (
        f"Suggested tags for this thread, from its words: {tags}. "
        "Core team: `!icop tag` here files them (or `!icop tag TAG…` the ones you choose)."
    )


def channel_label(post: PostRecord) -> str:
    return "by email" if post.origin_channel is Channel.EMAIL else "in the room"


def rate_notice_text(post: PostRecord, limit: int | None) -> str:
    return (
        f"Held for a convener: {post.author_name or post.author_address} wrote {limit} posts in the last "
        f"hour, the most relayed without a look; post {post.id} ({channel_label(post)}) and their next "
        f"ones this hour wait. Nothing is lost: `!icop approve {post.id}` relays it, `!icop held` lists "
        "them."
    )


def held_notice_text(post: PostRecord) -> str:
    """What the community's room learns of a held post: that it is held, its number and channel, never
    who sent it or what it says (held mail is often a stranger's, and sometimes spam)."""
    return (
        f"Held for a convener: post {post.id} ({channel_label(post)}). The conveners and core team have "
        f"the details; they answer `!icop approve {post.id}`, `!icop reject {post.id} [reason]` or "
        f"`!icop ban {post.id}`."
    )


def held_details_text(post: PostRecord) -> str:
    """The held post in full, for the moderators' room only."""
    excerpt = "\n".join(f"> {line}" for line in _excerpt(post))
    return (
        f"Held for a convener: post {post.id} from {sender_label(post)}: “{summary(post)}”.\n"
        f"{excerpt}\n"
        f"Answer `!icop approve {post.id}`, `!icop reject {post.id} [reason]` or `!icop ban {post.id}` "
        f"(or `icop held approve {post.id}` on the server)."
    )


class NoticeCourier:
    """Writes notice rows of one channel itself and hands every other row to ``inner``."""

    def __init__(
        self,
        store: Store,
        inner: Courier,
        communities: Callable[[], Mapping[int, CommunityContext]],
        *,
        matrix: MatrixSender | None = None,
        smtp: SmtpSender | None = None,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.inner = inner
        self.communities = communities
        self.matrix = matrix
        self.smtp = smtp
        self.renderer = renderer or Renderer()
        self.clock = clock
        self.log = ModerationLog(store.db)

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        entry = entries[0]
        if entry.kind is not DeliveryKind.NOTICE:
            return await self.inner.deliver(entries)
        post = await self.store.posts.get(entry.post_id)
        if post is None:
            raise PermanentDeliveryError("the post of this notice no longer exists")
        community = self.communities().get(post.community_id)
        if community is None:
            raise PermanentDeliveryError(f"community {post.community_id} is no longer configured")
        if entry.channel is Channel.MATRIX:
            return await self._room_notice(community, entry, post)
        if entry.revision == PRACTICE_NOTICE:
            return await self._send_mail(community, entry, await self._practice_mail(community, entry, post))
        if entry.revision == RATE_LIMIT_NOTICE:
            return await self._send_mail(community, entry, self._rate_mail(community, entry, post))
        return await self._mail_notice(community, entry, post)

    def _rate_mail(self, community: CommunityContext, entry: OutboxEntry, post: PostRecord) -> OutgoingNotice:
        limit = community.config.max_posts_per_hour
        return OutgoingNotice(
            community=community.identity,
            recipient=entry.recipient,
            subject=f"Your message waits for a convener: {summary(post)}",
            title="Your message waits for a convener",
            message_id=post_message_id(post.id, community.domain, kind="notice", revision=entry.revision),
            paragraphs=(
                f"You have written {limit} messages to {community.config.list_address} in the last hour, "
                "the most the list relays without a convener's look. Nothing is lost: your message "
                f"(“{summary(post)}”) is held, and a convener will relay it.",
                "Messages you send in the next hour wait the same way; after that they go out at once "
                "again. This is the only notice you get this hour.",
            ),
            in_reply_to=post.email_message_id,
            references=(post.email_message_id,) if post.email_message_id else (),
            date=self.clock(),
        )

    async def _room_notice(self, community: CommunityContext, entry: OutboxEntry, post: PostRecord) -> str:
        if self.matrix is None:
            raise PermanentDeliveryError("no Matrix sender for notices")
        if entry.revision in (PRACTICE_NOTICE, SUGGESTION_NOTICE):
            content = await self._thread_notice(community, entry, post)
        elif entry.revision == RATE_LIMIT_NOTICE:
            content = {
                "msgtype": "m.notice",
                "body": rate_notice_text(post, community.config.max_posts_per_hour),
                ORIGIN_MARKER_KEY: {"notice": "rate-limit", "post": post.id},
            }
            if post.matrix_event_id:
                content["m.relates_to"] = {"m.in_reply_to": {"event_id": post.matrix_event_id}}
        else:
            # Only the community's own room gets the short form; any other notice room is the moderators'.
            public = entry.recipient == community.room_id
            content = {
                "msgtype": "m.notice",
                "body": held_notice_text(post) if public else held_details_text(post),
                ORIGIN_MARKER_KEY: {"notice": "held", "post": post.id},
            }
        try:
            return await self.matrix.send(entry.recipient, content, matrix_txn_id(entry.id))
        except MatrixPermanentError as error:
            raise PermanentDeliveryError(str(error)) from error
        except MatrixTemporaryError as error:
            raise TemporaryDeliveryError(str(error)) from error

    async def _mail_notice(self, community: CommunityContext, entry: OutboxEntry, post: PostRecord) -> str:
        if self.smtp is None:
            raise PermanentDeliveryError("no SMTP sender for notices")
        message_id = post_message_id(post.id, community.domain, kind="notice", revision=entry.revision)
        if entry.revision == REJECTION_NOTICE:
            decision = await self.log.decision(post.id)
            reason = decision.reason if decision is not None else None
            notice = OutgoingNotice(
                community=community.identity,
                recipient=entry.recipient,
                subject=f"Your message was not posted: {summary(post)}",
                title="Your message was not posted",
                message_id=message_id,
                paragraphs=(
                    f"Your message to {community.config.list_address} (“{summary(post)}”) was "
                    "reviewed by the list's convener and not posted.",
                    f"Reason: {reason}" if reason else "No reason was given.",
                ),
                in_reply_to=post.email_message_id,
                references=(post.email_message_id,) if post.email_message_id else (),
                date=self.clock(),
            )
        else:
            notice = OutgoingNotice(
                community=community.identity,
                recipient=entry.recipient,
                subject=f"Held for you: {summary(post)}",
                title="A message is waiting for your decision",
                message_id=message_id,
                paragraphs=(
                    f"A message to {community.config.list_address} from {sender_label(post)} was held "
                    "because its sender is not a member (or its From could not be trusted).",
                    f"In the room: !icop approve {post.id}, !icop reject {post.id} [reason] or "
                    f"!icop ban {post.id}. On the server: icop held approve {post.id}.",
                ),
                items=(f"Post {post.id}: {summary(post)}", *_excerpt(post)),
                date=self.clock(),
            )
        return await self._send_mail(community, entry, notice)

    async def _send_mail(
        self, community: CommunityContext, entry: OutboxEntry, notice: OutgoingNotice
    ) -> str:
        if self.smtp is None:
            raise PermanentDeliveryError("no SMTP sender for notices")
        mail = compose_notice_mail(notice, renderer=self.renderer)
        await send_to_member(self.smtp, mail, community.config.list_address, entry.recipient)
        return notice.message_id

    async def _thread_notice(
        self, community: CommunityContext, entry: OutboxEntry, post: PostRecord
    ) -> dict[str, object]:
        """An archive notice, in the post's thread (it waits until the thread has reached the room)."""
        conversation = await conversation_of(self.store, post)
        root = conversation.root.matrix_event_id
        if root is None:
            raise TemporaryDeliveryError("the thread has not reached the room yet")
        if entry.revision == PRACTICE_NOTICE:
            body, what = practice_notice_text(post), "practice-proposed"
        else:
            suggested = suggestions(community, Writing.of_post(post))
            if not suggested:
                raise PermanentDeliveryError("the taxonomy no longer suggests any tag for this post")
            body, what = suggestion_notice_text(suggested), "tags-suggested"
        return {
            "msgtype": "m.notice",
            "body": body,
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": post.matrix_event_id or root},
            },
            ORIGIN_MARKER_KEY: {"notice": what, "post": post.id},
        }

    async def _practice_mail(
        self, community: CommunityContext, entry: OutboxEntry, post: PostRecord
    ) -> OutgoingNotice:
        thread = await self.store.posts.thread(post.thread_id)
        subject = thread.subject if thread is not None else summary(post)
        return OutgoingNotice(
            community=community.identity,
            recipient=entry.recipient,
            subject=f"Proposed as a practice: {subject}",
            title="A thread was proposed as a practice",
            message_id=post_message_id(post.id, community.domain, kind="notice", revision=entry.revision),
            paragraphs=(
                f"{sender_label(post)} proposed the thread “{subject}” of {community.config.list_address} "
                "as a practice of the community.",
                "To confirm it, answer in the thread with a first line `Practice: TITLE` (a title for the "
                f"catalogue), or in the room `!icop practice TITLE`, or on the server "
                f"`icop practices confirm {post.thread_id} --title TITLE`.",
            ),
            items=(f"Thread {post.thread_id}: {subject}", *_excerpt(post)),
            in_reply_to=post.email_message_id,
            references=(post.email_message_id,) if post.email_message_id else (),
            date=self.clock(),
        )


def _excerpt(post: PostRecord, lines: int = 8) -> tuple[str, ...]:
    kept = [line for line in post.text.splitlines() if line.strip()][:lines]
    return tuple(kept)
