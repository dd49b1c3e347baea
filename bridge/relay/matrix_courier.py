"""Deliver posts that came by email into their community's room, in the right Matrix thread.

The first post of a thread is a plain room message (its subject shown in bold); every later one is a
threaded reply to the root event, with a reply fallback to the event it answers. A reply whose thread
root has not reached the room yet waits (a temporary failure), so threads never fork. The transaction id
comes from the delivery id: a retry after a crash is deduplicated by the homeserver. A file over the
community's ``max_attachment_bytes`` is not uploaded: a message in the thread links to the daemon's copy.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

from bridge.core.message_ids import matrix_txn_id
from bridge.core.model import Attachment, PostState
from bridge.formatting.pills import names_to_pills
from bridge.matrix.sender import MatrixSender
from bridge.matrix.session import MatrixPermanentError, MatrixTemporaryError
from bridge.matrix.to_matrix import attachment_content, post_content
from bridge.relay.community import CommunityContext
from bridge.relay.conversation import conversation_of
from bridge.relay.worker import PermanentDeliveryError, TemporaryDeliveryError
from bridge.rendering import format_size
from bridge.store import OutboxEntry, PostRecord, Store
from bridge.web.files import FileLinks

_MSGTYPES = {"image": "m.image", "audio": "m.audio", "video": "m.video"}


class MatrixCourier:
    def __init__(
        self,
        store: Store,
        sender: MatrixSender,
        communities: Callable[[], Mapping[int, CommunityContext]],
        *,
        file_links: FileLinks | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.communities = communities
        self.file_links = file_links  # files over the community's limit become links to the daemon

    async def deliver(self, entries: Sequence[OutboxEntry]) -> str | None:
        entry = entries[0]
        post = await self.store.posts.get(entry.post_id)
        if post is None or post.state is PostState.DELETED:
            raise PermanentDeliveryError("the post was deleted before it reached the room")
        if post.matrix_event_id:  # already in the room (sent before a crash lost the outcome)
            return post.matrix_event_id
        conversation = await conversation_of(self.store, post)
        thread_root: str | None = None
        reply_to: str | None = None
        if not conversation.is_root:
            thread_root = conversation.root.matrix_event_id
            if thread_root is None:
                raise TemporaryDeliveryError("the thread's first post has not reached the room yet")
            parent = conversation.parent
            reply_to = parent.matrix_event_id if parent and parent.matrix_event_id else thread_root
        html = await self._with_pills(post.community_id, post.html, post.text)
        marker = {"post": post.id, "community": post.community_id}
        profile = f"icop-{post.author_id}" if post.author_id else None
        content = post_content(
            post.author_name,
            post.text,
            html,
            thread_root=thread_root,
            reply_to=reply_to,
            subject=post.subject if conversation.is_root else None,
            origin_marker=marker,
            profile_id=profile,
        )
        txn = matrix_txn_id(entry.id)
        try:
            event_id = await self.sender.send(entry.recipient, content, txn)
            root_for_files = thread_root or event_id
            context = self.communities().get(post.community_id)
            limit = context.config.max_attachment_bytes if context else None
            for number, attachment in enumerate(await self.store.posts.attachments(post.id)):
                file_txn = f"{txn}.f{number}"
                if attachment.data is None or (limit is not None and attachment.size > limit):
                    await self._send_link(
                        entry.recipient, post, number, attachment, file_txn, root_for_files, event_id, marker
                    )
                else:
                    await self._send_file(
                        entry.recipient, attachment, file_txn, root_for_files, event_id, marker
                    )
        except MatrixPermanentError as error:
            raise PermanentDeliveryError(str(error)) from error
        except MatrixTemporaryError as error:
            raise TemporaryDeliveryError(str(error)) from error
        return event_id

    async def _with_pills(self, community_id: int, html: str | None, text: str) -> str | None:
        """``@Full Name`` of a member who chats becomes a mention pill (only names no two members share)."""
        if "@" not in (html or text):
            return html
        names = {
            member.name: member.matrix_id
            for member in await self.store.communities.members(community_id)
            if member.matrix_id
        }
        pilled = names_to_pills(html or text, names) if names else None
        return pilled if pilled and "matrix.to" in pilled else html

    async def _send_link(
        self,
        room_id: str,
        post: PostRecord,
        number: int,
        attachment: Attachment,
        txn: str,
        thread_root: str,
        reply_to: str,
        marker: Mapping[str, object],
    ) -> None:
        """A file over the limit: a message in the thread linking to the daemon's copy, not an upload."""
        if self.file_links is None:
            raise PermanentDeliveryError(
                f"{attachment.filename} is over the size limit and no link can be made"
            )
        url = self.file_links.url(post.id, number)
        name = attachment.filename or "attachment"
        size = format_size(attachment.size)
        content = post_content(
            post.author_name,
            f"📎 {name} ({size}, too large to attach): {url}",
            f'📎 <a href="{html.escape(url)}">{html.escape(name)}</a> ({size}, too large to attach)',
            thread_root=thread_root,
            reply_to=reply_to,
            subject=None,
            origin_marker={**marker, "file": txn},
            profile_id=f"icop-{post.author_id}" if post.author_id else None,
        )
        await self.sender.send(room_id, content, txn)

    async def _send_file(
        self,
        room_id: str,
        attachment: Attachment,
        txn: str,
        thread_root: str,
        reply_to: str,
        marker: Mapping[str, object],
    ) -> None:
        assert attachment.data is not None
        mxc = await self.sender.upload(attachment.data, attachment.content_type, attachment.filename)
        kind = attachment.content_type.split("/", 1)[0]
        content = attachment_content(
            _MSGTYPES.get(kind, "m.file"),
            mxc,
            attachment.filename,
            attachment.content_type,
            attachment.size,
            thread_root=thread_root,
            reply_to=reply_to,
            origin_marker={**marker, "file": txn},
        )
        await self.sender.send(room_id, content, txn)
