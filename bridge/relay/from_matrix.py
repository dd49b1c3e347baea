"""What the relay does with each Matrix event: store messages, follow edits and redactions.

An edit of a post already mailed queues a short correction mail to the same people in the same thread;
an edit of a post still waiting in the outbox needs nothing, because the courier reads the post when it
sends. A redaction marks the post deleted and withdraws what was not sent yet (mail already delivered
cannot be recalled; the archive shows the post as deleted). Every version is kept as a revision. Both
re-read the post's tags in the same transaction (``bridge.relay.filing``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from bridge.core.commands import parse_command
from bridge.core.commands.stories import StoryCommand
from bridge.core.model import Channel, DeliveryKind, DeliverySpec, DeliveryState, InboundMessage, PostState
from bridge.core.stories import story_post_text
from bridge.matrix.events import (
    IgnoredBecause,
    MatrixEdit,
    MatrixEvent,
    MatrixIgnored,
    MatrixJoin,
    MatrixMessage,
    MatrixReaction,
    MatrixRedaction,
    MatrixUnreadable,
    SyncBatch,
)
from bridge.relay.community import CommunityContext
from bridge.relay.failures import MessageFailure
from bridge.relay.faults import NO_FAULTS, Faults, FaultStage
from bridge.relay.filing import ArchiveFiling, Filed
from bridge.relay.ingest import Ingestor
from bridge.relay.shunt import Shunt
from bridge.store import NewParked, RawMessage, Store

log = logging.getLogger(__name__)


class MatrixInbound:
    """Handles one sync batch; the sync loop saves its cursor only after ``handle`` returned."""

    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        rooms: Callable[[], Mapping[str, CommunityContext]],
        *,
        download: Callable[[str], Awaitable[tuple[bytes, str]]] | None = None,
        on_queued: Callable[[], None] = lambda: None,
        intercept: Callable[[CommunityContext, InboundMessage], Awaitable[bool]] | None = None,
        filing: ArchiveFiling | None = None,
        shunt: Shunt | None = None,
        faults: Faults = NO_FAULTS,
        moderators: Callable[[], Mapping[str, CommunityContext]] = dict,
        in_moderators_room: Callable[[CommunityContext, InboundMessage], Awaitable[None]] | None = None,
        on_join: Callable[[CommunityContext, MatrixJoin], Awaitable[None]] | None = None,
    ) -> None:
        self.on_join = on_join  # newcomers in the room are welcomed (bridge.relay.welcomes)
        self.moderators = moderators  # moderators' room id → its community, read at each batch
        self.in_moderators_room = in_moderators_room  # answers commands there (bridge.relay.moderation)
        self.shunt = shunt  # parks an event that cannot be handled (bridge.relay.shunt)
        self.faults = faults  # test-only failures (bridge.relay.faults); none in a deployment
        self.filing = filing or ArchiveFiling(store)  # edits and deletions re-read the archive's tags
        self.intercept = intercept  # room commands and join hints (bridge.relay.moderation), before ingest
        self.download = download  # mxc:// → bytes, so email readers get the file itself
        self.store = store
        self.ingestor = ingestor
        self.rooms = rooms  # room id → community, read at each batch (rooms resolve at start)
        self.on_queued = on_queued

    async def handle(self, batch: SyncBatch) -> None:
        rooms, moderators = self.rooms(), self.moderators()
        for event in batch.events:
            community = rooms.get(event.room_id)
            private = community is None
            community = community or moderators.get(event.room_id)
            if community is None:
                continue
            await self._shunted(community, event, batch.sources.get(event_id_of(event), {}), private=private)

    async def _shunted(
        self, community: CommunityContext, event: MatrixEvent, source: Mapping[str, Any], *, private: bool
    ) -> None:
        """One event behind the shunt: one that cannot be handled is parked and the batch goes on."""
        work = self._moderators_event if private else self.handle_event
        if self.shunt is None:
            await work(community, event)
            return
        await self.shunt.handle(
            Channel.MATRIX,
            event_id_of(event),
            lambda: work(community, event),
            lambda: _to_park(community, event, source),
        )

    async def _moderators_event(self, community: CommunityContext, event: MatrixEvent) -> None:
        """Only commands are read in the moderators' room; nothing said there is relayed."""
        if isinstance(event, MatrixMessage) and self.in_moderators_room is not None:
            await self.in_moderators_room(community, event.message)

    async def handle_event(self, community: CommunityContext, event: MatrixEvent) -> None:
        if isinstance(event, MatrixUnreadable):
            raise MessageFailure(f"unreadable event: {event.reason}")
        if isinstance(event, MatrixMessage):
            self.faults.check(FaultStage.HANDLER, event.message.text)
            if self.intercept is not None and await self.intercept(community, event.message):
                return  # a command to the bridge: answered, never relayed
            message = await self._with_files(community, event.message)
            await self.ingestor.ingest(community, message, raw=None)
        elif isinstance(event, MatrixEdit):
            await self._edit(community, event)
        elif isinstance(event, MatrixRedaction):
            await self._redact(community, event)
        elif isinstance(event, MatrixReaction):
            await self._react(community, event)
        elif isinstance(event, MatrixJoin):
            if self.on_join is not None:
                await self.on_join(community, event)
        elif isinstance(event, MatrixIgnored):
            # Our own events are routine; anything else not relayed is worth a line at the default level.
            own = event.reason in (IgnoredBecause.OWN_EVENT, IgnoredBecause.OWN_MARKER)
            log.log(
                logging.DEBUG if own else logging.INFO,
                "matrix event not relayed: %s",
                event.reason.value,
                extra={"event": event.event_id, "community": community.slug, "detail": event.detail},
            )

    async def _with_files(self, community: CommunityContext, message: InboundMessage) -> InboundMessage:
        if self.download is None:
            return message
        return await with_files(message, community.config.max_attachment_bytes, self.download)

    async def _edit(self, community: CommunityContext, edit: MatrixEdit) -> None:
        told = parse_command(edit.text)
        if isinstance(told, StoryCommand):
            # A story told with ``!icop story`` is edited as the post it became: its words and marker.
            edit = replace(edit, text=story_post_text(told.text), html=None)
        posts = self.store.posts
        found = await posts.by_event_ids(community.id, [edit.target_event_id])
        ref = found.get(edit.target_event_id)
        if ref is None:
            log.info("edit of an unknown event ignored", extra={"event": edit.target_event_id})
            return
        post = await posts.get(ref.post_id)
        if post is None or post.author_address != edit.sender:
            log.warning(
                "edit by someone other than the author ignored",
                extra={"event": edit.event_id, "sender": edit.sender},
            )
            return
        mailed = [
            entry
            for entry in await self.store.outbox.for_post(ref.post_id)
            if entry.channel is Channel.EMAIL
            and entry.kind is DeliveryKind.POST
            and entry.state is DeliveryState.SENT
        ]
        corrections = [
            DeliverySpec(
                channel=Channel.EMAIL,
                recipient=entry.recipient,
                kind=DeliveryKind.EDIT,
                membership_id=entry.membership_id,
            )
            for entry in mailed
        ]
        now = self.ingestor.clock()
        async with self.store.db.transaction() as tx:
            revision = await posts.edit(
                ref.post_id,
                text=edit.text,
                html=edit.html,
                origin_key=edit.event_id,
                deliveries=corrections,
                now=now,
                tx=tx,
            )
            filed = Filed()
            if revision is not None and post.state is PostState.VISIBLE:
                filed = await self.filing.refile_edit(
                    community, post, text=edit.text, html=edit.html, now=now, tx=tx
                )
        if filed.tagged or filed.untagged or filed.proposed:
            log.info(
                "edit re-filed the post",
                extra={
                    "post": ref.post_id,
                    "tagged": ",".join(filed.tagged),
                    "untagged": ",".join(filed.untagged),
                },
            )
        if revision is not None:
            log.info(
                "post edited",
                extra={"post": ref.post_id, "revision": revision, "corrections": len(corrections)},
            )
            if corrections or filed.notices:
                self.on_queued()

    async def _redact(self, community: CommunityContext, redaction: MatrixRedaction) -> None:
        found = await self.store.posts.by_event_ids(community.id, [redaction.redacted_event_id])
        ref = found.get(redaction.redacted_event_id)
        if ref is None:
            await self.store.reactions.remove(redaction.redacted_event_id)  # a withdrawn reaction
            return
        post = await self.store.posts.get(ref.post_id)
        async with self.store.db.transaction() as tx:
            deleted = await self.store.posts.delete(ref.post_id, now=self.ingestor.clock(), tx=tx)
            if deleted and post is not None:
                await self.filing.unfile_deleted(post, tx=tx)
        if deleted:
            log.info(
                "post deleted by redaction", extra={"post": ref.post_id, "reason": redaction.reason or ""}
            )

    async def _react(self, community: CommunityContext, reaction: MatrixReaction) -> None:
        await self.store.reactions.add(
            community.id, reaction.target_event_id, reaction.event_id, reaction.key, reaction.sender
        )


def event_id_of(event: MatrixEvent) -> str:
    return event.message.origin_key if isinstance(event, MatrixMessage) else event.event_id


def _to_park(community: CommunityContext, event: MatrixEvent, source: Mapping[str, Any]) -> NewParked:
    if isinstance(event, MatrixMessage):
        sender = event.message.sender_address
    elif isinstance(event, MatrixJoin):
        sender = event.user_id
    else:
        sender = event.sender
    text = event.message.text if isinstance(event, MatrixMessage) else None
    return NewParked(
        channel=Channel.MATRIX,
        source=event.room_id,
        origin=event_id_of(event),
        data=json.dumps(source, ensure_ascii=False).encode("utf-8", "replace"),
        reason="",
        failure="",
        community_id=community.id,
        sender=sender,
        subject=" ".join(text.split())[:200] if text else None,
    )


async def with_files(
    message: InboundMessage, limit: int, download: Callable[[str], Awaitable[tuple[bytes, str]]]
) -> InboundMessage:
    """Fetch the media of a file message up to the community's size limit; larger files keep only their
    ``mxc://`` URI, which mail links through the daemon's ``/files/`` route (bridge.web.files).

    A download that fails raises, so the sync batch is handled again later instead of losing the file.
    """
    if not message.attachments:
        return message
    files = []
    for attachment in message.attachments:
        if attachment.data is None and attachment.url and attachment.size <= limit:
            data, content_type = await download(attachment.url)
            attachment = replace(
                attachment,
                data=data if len(data) <= limit else None,  # a declared size can lie
                size=len(data),
                content_type=attachment.content_type or content_type,
            )
        files.append(attachment)
    return replace(message, attachments=tuple(files))


def raw_event(event_json: bytes) -> RawMessage:
    return RawMessage(content_type="application/json", data=event_json)
