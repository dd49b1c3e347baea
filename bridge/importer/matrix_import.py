"""``icop import matrix``: a room's history as posts, through the bridge's own account, never sent.

The daemon relays a room from the moment it first synced (``bridge.matrix.sync``: a bridge added to an
old room must not mail its past to the list); this command brings that past into the archive. It
pages ``/messages`` backwards from the newest event (to ``--since`` or the room's creation), then
replays the events oldest first through the live converters (``bridge.matrix.from_matrix``):
messages become posts through the same writer as mail archives (threads from ``m.thread`` and
replies, files as live: downloaded up to the size limit, else the ``mxc://`` URI kept), an edit
becomes a revision with the latest text on the post, a redaction marks the post deleted, a reaction
is counted once. Every step is keyed by event id, so what the relay stored already, or an earlier
import, is recognised, and nothing is queued for the list: history was read where it was written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bridge.config import LoadedConfig
from bridge.config.schema import CommunityConfig
from bridge.config.secrets import SecretUnavailableError
from bridge.core.commands import is_command
from bridge.importer.commands import community_context
from bridge.importer.progress import Progress
from bridge.importer.writer import ArchiveWriter, Pending, report
from bridge.matrix.events import (
    IgnoredBecause,
    MatrixEdit,
    MatrixEvent,
    MatrixIgnored,
    MatrixMessage,
    MatrixReaction,
    MatrixRedaction,
)
from bridge.matrix.from_matrix import MemberNames, convert_event
from bridge.matrix.session import CLIENT_API, MatrixError, MatrixSession
from bridge.matrix.sync import TIMELINE_TYPES
from bridge.relay.community import CommunityContext
from bridge.relay.from_matrix import with_files
from bridge.relay.persistence import StoredMatrixLogin, StoredSince, sync_cursor_key
from bridge.store import Store

log = logging.getLogger(__name__)

PAGE_SIZE = 500
BATCH = 500

_NOT_POSTS = {
    IgnoredBecause.OWN_EVENT,
    IgnoredBecause.OWN_MARKER,
}


async def import_matrix_command(
    store: Store, loaded: LoadedConfig, config: CommunityConfig, since: datetime | None
) -> int:
    community = await community_context(store, config)
    matrix = loaded.config.matrix
    token = loaded.secret(matrix.access_token_env, matrix.access_token_file)
    password = loaded.secret(matrix.password_env, matrix.password_file)
    try:
        session = MatrixSession(
            matrix,
            access_token=token.read() if token is not None else None,
            password=password.read() if password is not None and token is None else None,
        )
    except SecretUnavailableError as error:
        print(f"icop: import matrix: the bridge's Matrix credential: {error}", file=sys.stderr)
        return 2
    try:
        await session.login(StoredMatrixLogin(store.settings))
        room_id = community.room_id or await session.resolve_room(config.room)
        # Start where the daemon's sync stands: what came after is the daemon's to relay (and mail),
        # not history for the import to store silently.
        relayed_up_to = await StoredSince(store.cursors, sync_cursor_key(session.user_id)).load()
        events = await room_history(session, room_id, since, start=relayed_up_to)
        progress = Progress(len(events), unit="events")
        try:
            counts = await RoomHistory(store, community, session, room_id, progress).replay(events)
        finally:
            progress.close()
    except MatrixError as error:
        print(f"icop: import matrix: {error}", file=sys.stderr)
        return 1
    finally:
        await session.close()
    if any(counts.values()):
        print(", ".join(f"{name} {count}" for name, count in counts.items()))
    progress.finish()
    return 0


async def room_history(
    session: MatrixSession, room_id: str, since: datetime | None, *, start: str | None = None
) -> list[Mapping[str, Any]]:
    """The room's events from ``start`` (a sync or pagination token; default: the newest event) back to
    ``since`` (or the room's creation), oldest first."""
    path = f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/messages"
    message_filter = json.dumps({"types": list(TIMELINE_TYPES)}, separators=(",", ":"))
    limit_ms = int(since.timestamp() * 1000) if since is not None else None
    collected: list[Mapping[str, Any]] = []
    while True:
        query = {"dir": "b", "limit": str(PAGE_SIZE), "filter": message_filter}
        if start is not None:
            query["from"] = start
        page = await session.request_json(f"read the history of {room_id}", "GET", path, query=query)
        chunk = [e for e in page.get("chunk") or [] if isinstance(e, Mapping)]
        older = False
        for event in chunk:
            stamp = event.get("origin_server_ts")
            if limit_ms is not None and isinstance(stamp, int) and stamp < limit_ms:
                older = True
                continue
            collected.append(event)
        end = page.get("end")
        if older or not chunk or not isinstance(end, str) or end == start:
            break
        start = end
    collected.reverse()
    return collected


class RoomHistory:
    """Replays one room's events, oldest first, into the store."""

    def __init__(
        self,
        store: Store,
        community: CommunityContext,
        session: MatrixSession,
        room_id: str,
        progress: Progress,
    ) -> None:
        self.store = store
        self.community = community
        self.session = session
        self.room_id = room_id
        self.progress = progress
        self.writer = ArchiveWriter(store, community)
        self.names = MemberNames()
        self.pending: list[Pending] = []
        self.counts = {"edits": 0, "redactions": 0, "reactions": 0}

    async def replay(self, events: list[Mapping[str, Any]]) -> dict[str, int]:
        await self.writer.prepare()
        for done, raw in enumerate(events, 1):
            if raw.get("type") == "m.room.member":
                self.names.observe(self.room_id, raw)
            else:
                await self._event(await self._convert(raw))
            if len(self.pending) >= BATCH:
                await self._flush()
            self.progress.advance_to(done)
        await self._flush()
        return self.counts

    async def _convert(self, event: Mapping[str, Any]) -> MatrixEvent:
        sender = event.get("sender")
        name = None
        if isinstance(sender, str) and sender != self.session.user_id:
            name = self.names.get(self.room_id, sender) or await self.session.display_name(sender)
        return convert_event(
            event,
            room_id=self.room_id,
            bot_user_id=self.session.user_id,
            community_slug=self.community.slug,
            sender_name=name,
        )

    async def _event(self, event: MatrixEvent) -> None:
        tally = self.progress.tally
        if isinstance(event, MatrixMessage):
            if is_command(event.message.text):
                return  # a command to the bridge was never a post
            message = await with_files(
                event.message, self.community.config.max_attachment_bytes, self.session.download
            )
            self.pending.append(Pending(event.event_id, message))
            return
        if isinstance(event, MatrixIgnored):
            if event.reason in _NOT_POSTS:
                return
            if event.reason is IgnoredBecause.MALFORMED:
                tally.failed += 1
                self.progress.not_imported(event.event_id, f"failed: malformed: {event.detail}")
            else:
                tally.skipped += 1
                self.progress.not_imported(
                    event.event_id, f"skipped: {event.reason.value} {event.detail}".strip()
                )
            return
        await self._flush()  # an edit, redaction or reaction may concern a post still pending
        if isinstance(event, MatrixEdit):
            await self._edit(event)
        elif isinstance(event, MatrixRedaction):
            await self._redact(event)
        elif isinstance(event, MatrixReaction):
            added = await self.store.reactions.add(
                self.community.id, event.target_event_id, event.event_id, event.key, event.sender
            )
            self.counts["reactions"] += int(added)

    async def _edit(self, edit: MatrixEdit) -> None:
        """The latest text on the post, every version kept; only the author's edits count (as live)."""
        posts = self.store.posts
        ref = (await posts.by_event_ids(self.community.id, [edit.target_event_id])).get(edit.target_event_id)
        post = await posts.get(ref.post_id) if ref is not None else None
        if post is None or post.author_address != edit.sender:
            return
        revision = await posts.edit(
            post.id, text=edit.text, html=edit.html, origin_key=edit.event_id, now=edit.sent_at
        )
        self.counts["edits"] += int(revision is not None)

    async def _redact(self, redaction: MatrixRedaction) -> None:
        posts = self.store.posts
        found = await posts.by_event_ids(self.community.id, [redaction.redacted_event_id])
        ref = found.get(redaction.redacted_event_id)
        if ref is None:
            await self.store.reactions.remove(redaction.redacted_event_id)
            return
        deleted = await posts.delete(ref.post_id, now=redaction.sent_at)
        self.counts["redactions"] += int(deleted)

    async def _flush(self) -> None:
        if self.pending:
            report(await self.writer.write(self.pending), self.progress)
            self.pending = []
