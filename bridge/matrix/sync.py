"""The Matrix ingest loop: ``/sync`` forever, each response handed over before its token is saved.

Delivery guarantee (DESIGN §3): the ``next_batch`` token moves only after the handler has stored what
the response covers, so a crash at any instant replays a batch and never skips one; the handler is
idempotent by event id. A ``limited`` timeline (more events arrived than one response holds) is filled
from ``/messages`` back to the previous token, so a long outage does not lose messages either, up to a
bound that is logged when hit. The very first start takes the current position without history: a
bridge added to an old room must not mail its whole past to the list. The same holds for a room the
bot joins later: events before its own join are not relayed.

Raw JSON is read rather than nio's parsed responses: nio validates a whole response against a schema,
and one odd event from any client in any room would then fail every sync and stall the bridge.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any
from urllib.parse import quote

from bridge.health import LoopStatus
from bridge.matrix.events import MatrixEvent, MatrixUnreadable, SyncBatch
from bridge.matrix.from_matrix import MemberNames, convert_event, convert_join
from bridge.matrix.session import (
    CLIENT_API,
    MatrixAuthError,
    MatrixPermanentError,
    MatrixSession,
    MatrixTemporaryError,
)

log = logging.getLogger(__name__)

RELAYED_TYPES = ("m.room.message", "m.reaction", "m.room.redaction", "m.room.encrypted")
TIMELINE_TYPES = (*RELAYED_TYPES, "m.room.member")  # members: names, and our own join
TIMELINE_LIMIT = 100
GAP_PAGE_SIZE = 100
MAX_GAP_PAGES = 20
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 15.0  # a homeserver back from an outage is noticed within 15 s

BatchHandler = Callable[[SyncBatch], Awaitable[None]]


def sync_filter(timeline_limit: int = TIMELINE_LIMIT) -> dict[str, Any]:
    """Only what the bridge uses: the relayed event types and the members who sent them.

    Members are lazy-loaded with redundant ones included, so every response names its senders even
    after a restart has emptied our memory of who is who.
    """
    nothing: dict[str, Any] = {"types": []}
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "timeline": {"types": list(TIMELINE_TYPES), "limit": timeline_limit},
            "state": {
                "types": ["m.room.member"],
                "lazy_load_members": True,
                "include_redundant_members": True,
            },
            "ephemeral": nothing,
            "account_data": nothing,
            "include_leave": False,
        },
    }


FIRST_SYNC_FILTER = {**sync_filter(0), "room": {**sync_filter(0)["room"], "state": {"types": []}}}
"""The first start only wants a position (and pending invites), no history and no state."""


class SyncLoop:
    """Long-polls ``/sync`` for the configured rooms and hands each response to ``handle``.

    ``rooms`` are room ids; ``community_slugs`` maps them to the community each message belongs to
    (the room id stands in when absent). ``load_since`` / ``save_since`` keep the position.
    """

    def __init__(
        self,
        session: MatrixSession,
        *,
        load_since: Callable[[], Awaitable[str | None]],
        save_since: Callable[[str], Awaitable[None]],
        handle: BatchHandler,
        rooms: Collection[str],
        timeout_ms: int = 30_000,
        community_slugs: Mapping[str, str] | None = None,
        timeline_limit: int = TIMELINE_LIMIT,
        max_gap_pages: int = MAX_GAP_PAGES,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        status: LoopStatus | None = None,
        converter: Callable[..., MatrixEvent] = convert_event,
    ) -> None:
        self.status = status if status is not None else LoopStatus()  # for /healthz and /metrics
        self._converter = converter  # bridge.matrix.from_matrix.convert_event; tests give a failing one
        self.session = session
        self.rooms = frozenset(rooms)
        self._load_since = load_since
        self._save_since = save_since
        self._handle = handle
        self.timeout_ms = timeout_ms
        self._slugs = dict(community_slugs or {})
        self._max_gap_pages = max_gap_pages
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._names = MemberNames()
        self._filter = json.dumps(sync_filter(timeline_limit), separators=(",", ":"))

    async def run(self) -> None:
        """Sync forever. Errors back off (1 s doubling to 60 s) with one log line per outage; only a
        refused credential ends the loop (``MatrixAuthError``), for the supervisor to report."""
        self.status.starting()
        since = await self._load_since()
        delay = self._backoff_base
        outage_began: float | None = None
        failures = 0
        while True:
            try:
                since = await self.sync_once(since)
            except MatrixAuthError as error:
                self.status.disconnected(f"matrix credential refused: {error}")
                raise
            except Exception as error:
                failures += 1
                if isinstance(error, MatrixTemporaryError | MatrixPermanentError):
                    self.status.disconnected(f"matrix sync failing: {_describe(error)}")
                else:  # the homeserver answered; handling what it sent failed
                    self.status.behind(f"matrix sync failing: {_describe(error)}")
                if outage_began is None:
                    outage_began = time.monotonic()
                    log.warning(
                        "matrix sync failing: %s; retrying with backoff until it works",
                        _describe(error),
                        exc_info=not isinstance(error, MatrixTemporaryError | MatrixPermanentError),
                    )
                else:
                    log.debug("matrix sync still failing: %s", _describe(error))
                retry_after = error.retry_after if isinstance(error, MatrixTemporaryError) else None
                await asyncio.sleep(max(delay, retry_after or 0.0))
                delay = min(delay * 2, self._backoff_max)
                continue
            self.status.succeeded()
            if outage_began is not None:
                log.info(
                    "matrix sync working again after %.0f s (%d failed attempts)",
                    time.monotonic() - outage_began,
                    failures,
                )
                outage_began, failures = None, 0
            delay = self._backoff_base

    async def sync_once(self, since: str | None) -> str:
        """One round: sync, answer invites, hand the batch over, then save and return the new token.
        Without ``since`` (first start) only the current position is taken and saved."""
        if since is None:
            return await self._take_position()
        answer = await self._sync(since, self._filter, self.timeout_ms)
        next_batch = _next_batch(answer)
        rooms = _mapping(answer.get("rooms"))
        await self._answer_invites(rooms)
        self._notice_departures(rooms)
        events: list[MatrixEvent] = []
        sources: dict[str, Mapping[str, Any]] = {}
        for room_id, room in _mapping(rooms.get("join")).items():
            if room_id in self.rooms and isinstance(room, Mapping):
                events.extend(await self._room_events(room_id, room, since, sources))
        await self._handle(SyncBatch(next_batch, tuple(events), sources))
        await self._save_since(next_batch)
        return next_batch

    async def _take_position(self) -> str:
        answer = await self._sync(None, json.dumps(FIRST_SYNC_FILTER, separators=(",", ":")), 0)
        next_batch = _next_batch(answer)
        await self._answer_invites(_mapping(answer.get("rooms")))
        await self._save_since(next_batch)
        log.info("matrix: first start; relaying from now on, earlier room history is not relayed")
        return next_batch

    async def _sync(self, since: str | None, sync_filter: str, timeout_ms: int) -> dict[str, Any]:
        query = {"filter": sync_filter, "timeout": str(timeout_ms)}
        if since is not None:
            query["since"] = since
        return await self.session.request_json(
            "sync", "GET", f"{CLIENT_API}/sync", query=query, timeout=timeout_ms / 1000 + 15
        )

    async def _answer_invites(self, rooms: Mapping[str, Any]) -> None:
        for room_id in _mapping(rooms.get("invite")):
            try:
                await self.session.answer_invite(room_id, accept=room_id in self.rooms)
            except MatrixPermanentError as error:
                log.warning("matrix: %s", error)

    def _notice_departures(self, rooms: Mapping[str, Any]) -> None:
        for room_id in _mapping(rooms.get("leave")):
            if room_id in self.rooms:
                log.warning("matrix: the bridge is no longer in %s (kicked, banned or left)", room_id)

    async def _room_events(
        self, room_id: str, room: Mapping[str, Any], since: str, sources: dict[str, Mapping[str, Any]]
    ) -> list[MatrixEvent]:
        for state_event in _events(_mapping(room.get("state"))):
            self._names.observe(room_id, state_event)
        timeline = _mapping(room.get("timeline"))
        raw = _events(timeline)
        joined_at = _own_join_index(raw, self.session.user_id)
        if joined_at is not None:
            raw = raw[joined_at + 1 :]  # before our join is the room's past, not news
        elif timeline.get("limited") is True and isinstance(timeline.get("prev_batch"), str):
            raw = _deduplicated([*await self._gap(room_id, timeline["prev_batch"], since), *raw])
        converted: list[MatrixEvent] = []
        for event in raw:
            if event.get("type") == "m.room.member":
                self._names.observe(room_id, event)
                joined = convert_join(event, room_id=room_id, bot_user_id=self.session.user_id)
                if joined is not None:
                    converted.append(joined)  # a newcomer, to welcome
                continue
            event_id = event.get("event_id")
            if isinstance(event_id, str):
                sources[event_id] = event
            converted.append(await self.convert(room_id, event))
        return converted

    async def convert(self, room_id: str, event: Mapping[str, Any]) -> MatrixEvent:
        """One event of ``room_id`` in the adapter's terms; an event the converter chokes on becomes
        ``MatrixUnreadable`` (for the relay to park), never an exception that would stall the sync."""
        sender = event.get("sender")
        name = None
        if isinstance(sender, str) and sender != self.session.user_id:
            name = self._names.get(room_id, sender) or await self.session.display_name(sender)
        try:
            return self._converter(
                event,
                room_id=room_id,
                bot_user_id=self.session.user_id,
                community_slug=self._slugs.get(room_id, room_id),
                sender_name=name,
            )
        except Exception as error:
            event_id, sender_id = event.get("event_id"), event.get("sender")
            return MatrixUnreadable(
                room_id,
                event_id if isinstance(event_id, str) else "",
                sender_id if isinstance(sender_id, str) else "",
                f"{type(error).__name__}: {error}",
            )

    async def _gap(self, room_id: str, prev_batch: str, since: str) -> list[Mapping[str, Any]]:
        """The events between ``since`` and the start of a limited timeline, oldest first."""
        path = f"{CLIENT_API}/rooms/{quote(room_id, safe='')}/messages"
        message_filter = json.dumps({"types": list(TIMELINE_TYPES), "lazy_load_members": True})
        collected: list[Mapping[str, Any]] = []
        start = prev_batch
        for _ in range(self._max_gap_pages):
            query = {
                "from": start,
                "to": since,
                "dir": "b",
                "limit": str(GAP_PAGE_SIZE),
                "filter": message_filter,
            }
            page = await self.session.request_json(f"fill the gap in {room_id}", "GET", path, query=query)
            for state_event in _events({"events": page.get("state")}):
                self._names.observe(room_id, state_event)
            chunk = _events({"events": page.get("chunk")})
            collected.extend(chunk)
            end = page.get("end")
            if not chunk or not isinstance(end, str) or end == start:
                break
            start = end
        else:
            log.warning(
                "matrix: more than %d events arrived in %s while the bridge was away; older ones were "
                "not relayed",
                len(collected),
                room_id,
            )
        collected.reverse()
        return collected


def _own_join_index(events: list[Mapping[str, Any]], user_id: str) -> int | None:
    """Where in a timeline the bot joined the room (not a mere profile change), if it did."""
    found = None
    for index, event in enumerate(events):
        if event.get("type") != "m.room.member" or event.get("state_key") != user_id:
            continue
        content = _mapping(event.get("content"))
        previous = _mapping(_mapping(event.get("unsigned")).get("prev_content"))
        if content.get("membership") == "join" and previous.get("membership") != "join":
            found = index
    return found


def _deduplicated(events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    seen: set[object] = set()
    kept = []
    for event in events:
        event_id = event.get("event_id")
        if event_id not in seen:
            seen.add(event_id)
            kept.append(event)
    return kept


def _next_batch(answer: Mapping[str, Any]) -> str:
    next_batch = answer.get("next_batch")
    if not isinstance(next_batch, str) or not next_batch:
        raise MatrixTemporaryError("sync: the homeserver answered without next_batch")
    return next_batch


def _events(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    events = section.get("events")
    return [event for event in events if isinstance(event, Mapping)] if isinstance(events, list) else []


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _describe(error: BaseException) -> str:
    return str(error) if isinstance(error, MatrixTemporaryError | MatrixPermanentError) else repr(error)
