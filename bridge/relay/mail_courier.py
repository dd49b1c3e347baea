"""Deliver posts by email to one member: list headers, a signed reply address, threading ids, VERP.

One mail per recipient, because the reply address is signed for that member and thread and the return
path names them (a bounce says who without parsing it). The Message-ID derives from the post id, so
every recipient's copy carries the same id and a retry after a crash is recognised by mail clients.
An edit mails a short correction in the same thread; a burst under the batched policy is one mail.
A file over the community's ``max_attachment_bytes`` is a link line to the daemon's copy, not a part.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TypeVar

from bridge.core import links
from bridge.core.message_ids import post_message_id
from bridge.core.model import Attachment, DeliveryKind, PostState
from bridge.core.tokens import reply_address, sign_link_token, sign_reply_token
from bridge.email.addresses import verp_address
from bridge.email.outbound import (
    BatchEntry,
    ListMail,
    OutgoingBatch,
    OutgoingEdit,
    OutgoingPost,
    as_smtp_bytes,
    compose_batch_mail,
    compose_edit_mail,
)
from bridge.email.shared_mail import SharedPostMail
from bridge.email.smtp import SmtpPermanentError, SmtpSender, SmtpTemporaryError
from bridge.relay.community import CommunityContext
from bridge.relay.conversation import Conversation, conversation_of, email_id
from bridge.relay.fresh_reads import FreshReads
from bridge.relay.worker import PermanentDeliveryError, TemporaryDeliveryError
from bridge.rendering import Renderer
from bridge.store import OutboxEntry, PostRecord, Store
from bridge.web.files import FileLinks

UNSUBSCRIBE_PURPOSE = "unsubscribe"
UNSUBSCRIBE_VALIDITY = timedelta(days=365)


async def send_to_member(
    smtp: SmtpSender, message: EmailMessage | bytes, list_address: str, recipient: str
) -> None:
    """Send one mail of the list to one member (a message, or its wire bytes), its return path naming
    them (VERP); the server's refusal becomes the outbox's permanent or temporary failure."""
    try:
        await smtp.send(
            message if isinstance(message, bytes) else as_smtp_bytes(message),
            envelope_from=verp_address(list_address, recipient),
            recipients=[recipient],
        )
    except SmtpPermanentError as error:
        raise PermanentDeliveryError(str(error)) from error
    except SmtpTemporaryError as error:
        raise TemporaryDeliveryError(str(error)) from error


def unsubscribe_url(base_url: str, key: bytes, membership_id: int, now: datetime) -> str:
    expires = (now + UNSUBSCRIBE_VALIDITY).replace(microsecond=0)
    token = sign_link_token(key, UNSUBSCRIBE_PURPOSE, str(membership_id), expires)
    return f"{base_url}/unsubscribe/{token}"


class MailCourier:
    def __init__(
        self,
        store: Store,
        smtp: SmtpSender,
        communities: Callable[[], Mapping[int, CommunityContext]],
        signing_key: bytes,
        base_url: str,
        *,
        renderer: Renderer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        file_links: FileLinks | None = None,
    ) -> None:
        self.file_links = file_links or FileLinks(base_url, signing_key, clock=clock)
        self.renderer = renderer or Renderer()
        # One post goes to every member: read its conversation and files once per revision.
        self._conversation_cache: OrderedDict[tuple[int, datetime | None], Conversation] = OrderedDict()
        self._attachment_cache: OrderedDict[tuple[int, datetime | None], tuple[Attachment, ...]] = (
            OrderedDict()
        )
        # ... and compose its mail once: each member's copy differs only in a few lines.
        self._mail_cache: OrderedDict[tuple[int, datetime | None], SharedPostMail] = OrderedDict()
        self.store = store
        # Each mail reads its post afresh (a deletion stops the mails not sent yet); the mails in
        # flight share those reads.
        self._posts: FreshReads[PostRecord] = FreshReads(store.posts.get_many)
        self.smtp = smtp
        self.communities = communities
        self.signing_key = signing_key
        self.base_url = base_url
        self.clock = clock

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        found = await self._posts.get_many(entry.post_id for entry in entries)
        live = [
            (entry, post)
            for entry in entries
            if (post := found[entry.post_id]) is not None and post.state is PostState.VISIBLE
        ]
        if not live:
            raise PermanentDeliveryError("the post was deleted before it was mailed")
        entry, first = live[0]
        community = self.communities().get(first.community_id)
        if community is None:
            raise PermanentDeliveryError(f"community {first.community_id} is no longer configured")
        conversation = await self._conversation(first)
        message: EmailMessage | bytes
        if len(live) > 1:
            message, message_id = await self._batch(
                community, entry, [post for _, post in live], conversation
            )
        elif entry.kind is DeliveryKind.EDIT:
            message, message_id = self._edit(community, entry, first, conversation)
        else:
            message, message_id = await self._post(community, entry, first, conversation)
        await send_to_member(self.smtp, message, community.config.list_address, entry.recipient)
        return message_id

    async def _conversation(self, post: PostRecord) -> Conversation:
        key = (post.id, post.edited_at)
        found = self._conversation_cache.get(key)
        if found is None:
            found = await conversation_of(self.store, post)
            _remember(self._conversation_cache, key, found)
        return found

    async def _attachments(self, post: PostRecord) -> tuple[Attachment, ...]:
        key = (post.id, post.edited_at)
        found = self._attachment_cache.get(key)
        if found is None:
            found = tuple(await self.store.posts.attachments(post.id))
            _remember(self._attachment_cache, key, found)
        return found

    def envelope(
        self, community: CommunityContext, entry: OutboxEntry, conversation: Conversation, message_id: str
    ) -> dict[str, object]:
        """The fields every list mail to this member in this thread shares (meeting reminders too)."""
        now = self.clock()
        membership = entry.membership_id or 0
        token = sign_reply_token(self.signing_key, membership, conversation.post.thread_id)
        domain = community.domain
        parent = conversation.parent
        local, _, _ = community.config.list_address.partition("@")
        return {
            "community": community.identity,
            "recipient": entry.recipient,
            "subject": conversation.root.subject or "",
            "is_reply": not conversation.is_root,
            "message_id": message_id,
            "reply_to": reply_address(community.config.list_address, token),
            "unsubscribe_url": unsubscribe_url(self.base_url, self.signing_key, membership, now),
            "unsubscribe_mailto": f"mailto:{local}+unsubscribe@{domain}?subject=unsubscribe",
            "in_reply_to": email_id(parent, domain) if parent else None,
            "references": conversation.references(domain),
            "archive_url": links.community_url(self.base_url, community.slug),
            "archived_at": links.thread_url(self.base_url, community.slug, conversation.post.thread_id),
            "date": now,
        }

    async def _post(
        self, community: CommunityContext, entry: OutboxEntry, post: PostRecord, conversation: Conversation
    ) -> tuple[bytes, str]:
        message_id = email_id(post, community.domain)
        fields = self.envelope(community, entry, conversation, message_id)
        mail = OutgoingPost(
            **fields,  # type: ignore[arg-type]
            author_name=post.author_name,
            author_channel=post.origin_channel,
            text=post.text,
            html=post.html,
            attachments=await self._files(community, post),
        )
        key = (post.id, post.edited_at)
        shared = self._mail_cache.get(key)
        if shared is None or not shared.shares(mail):
            shared = SharedPostMail(mail, renderer=self.renderer)
            _remember(self._mail_cache, key, shared)
        return shared.for_member(mail), message_id

    async def _files(self, community: CommunityContext, post: PostRecord) -> tuple[Attachment, ...]:
        """The post's files; one over the community's limit, or kept only as an ``mxc://`` URI,
        becomes a link to the daemon's copy (the composer writes it as a link line)."""
        limit = community.config.max_attachment_bytes
        return tuple(
            replace(attachment, data=None, url=self.file_links.url(post.id, number))
            if attachment.data is None or attachment.size > limit
            else attachment
            for number, attachment in enumerate(await self._attachments(post))
        )

    def _edit(
        self, community: CommunityContext, entry: OutboxEntry, post: PostRecord, conversation: Conversation
    ) -> tuple[EmailMessage, str]:
        message_id = post_message_id(post.id, community.domain, kind="edit", revision=entry.revision)
        fields = self.envelope(community, entry, conversation, message_id)
        # The correction answers the post it corrects.
        fields["in_reply_to"] = email_id(post, community.domain)
        fields["references"] = (*conversation.references(community.domain), email_id(post, community.domain))
        fields["is_reply"] = True
        mail = OutgoingEdit(
            **fields,  # type: ignore[arg-type]
            author_name=post.author_name,
            author_channel=post.origin_channel,
            text=post.text,
            html=post.html,
        )
        return compose_edit_mail(mail, renderer=self.renderer), message_id

    async def _batch(
        self,
        community: CommunityContext,
        entry: OutboxEntry,
        posts: list[PostRecord],
        conversation: Conversation,
    ) -> tuple[EmailMessage, str]:
        message_id = post_message_id(posts[0].id, community.domain, kind="batch", revision=len(posts))
        fields = self.envelope(community, entry, conversation, message_id)
        entries = []
        for post in posts:
            entries.append(
                BatchEntry(
                    author_name=post.author_name,
                    sent_at=post.created_at,
                    text=post.text,
                    html=post.html,
                    attachments=await self._files(community, post),
                    author_channel=post.origin_channel,
                )
            )
        member = await self.store.communities.membership(entry.membership_id) if entry.membership_id else None
        zone = community.config.time_zone
        if member is not None:
            person = await self.store.communities.person_by_email(entry.recipient)
            zone = (person.time_zone if person else None) or zone
        mail = OutgoingBatch(**fields, entries=tuple(entries), time_zone=zone)  # type: ignore[arg-type]
        return compose_batch_mail(mail, renderer=self.renderer), message_id


__all__ = ["ListMail", "MailCourier", "send_to_member", "unsubscribe_url"]


_CACHED_POSTS = 64


K = TypeVar("K")
V = TypeVar("V")


def _remember(cache: OrderedDict[K, V], key: K, value: V) -> None:
    cache[key] = value
    while len(cache) > _CACHED_POSTS:
        cache.popitem(last=False)
