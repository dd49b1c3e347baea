"""What the Matrix adapter hands to the relay: room events in neutral form, one small type per kind.

The relay decides what to store and send; it should never read a raw event dict or a nio object. Each
event the sync loop sees in a configured room becomes exactly one of these, including the ones not to
relay (``MatrixIgnored`` with a reason), so a convener reading the log can tell why a message did not
reach the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bridge.core.model import InboundMessage


class IgnoredBecause(StrEnum):
    """Why an event in a configured room is not relayed."""

    OWN_EVENT = "own_event"  # sent by the bridge's own account
    OWN_MARKER = "own_marker"  # carries our origin marker (another device or process of ours)
    UNKNOWN_MSGTYPE = "unknown_msgtype"
    MALFORMED = "malformed"  # content missing or of the wrong shape
    REDACTED = "redacted"  # already redacted when we saw it: nothing left to relay
    ENCRYPTED = "encrypted"  # the bridge does not hold room keys
    UNSUPPORTED = "unsupported"  # an event type the bridge does not carry (stickers, polls, ...)


@dataclass(frozen=True, slots=True)
class MatrixMessage:
    """A new message: the neutral ``InboundMessage`` (origin key = event id) plus Matrix-only detail.

    ``reply_is_fallback`` is true when ``message.refs.matrix_in_reply_to`` is only the thread's
    fallback for clients without threads (``is_falling_back``), not a reply the author chose.
    """

    room_id: str
    message: InboundMessage
    msgtype: str
    reply_is_fallback: bool = False

    @property
    def event_id(self) -> str:
        return self.message.origin_key

    @property
    def sender(self) -> str:
        return self.message.sender_address


@dataclass(frozen=True, slots=True)
class MatrixEdit:
    """An ``m.replace`` of ``target_event_id``: the whole new text, not a diff."""

    room_id: str
    event_id: str
    target_event_id: str
    sender: str
    sender_name: str
    text: str
    html: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class MatrixRedaction:
    """``redacted_event_id`` was removed from the room, by its author or a moderator."""

    room_id: str
    event_id: str
    redacted_event_id: str
    sender: str
    reason: str | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class MatrixReaction:
    """An ``m.annotation`` (an emoji, usually) on ``target_event_id``."""

    room_id: str
    event_id: str
    target_event_id: str
    key: str
    sender: str
    sender_name: str
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class MatrixJoin:
    """``user_id`` joined the room (not a profile change of someone already in it): a newcomer to greet."""

    room_id: str
    event_id: str
    user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class MatrixIgnored:
    """An event that is not relayed, and why (``detail`` is one line for the log)."""

    room_id: str
    event_id: str
    sender: str
    reason: IgnoredBecause
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MatrixUnreadable:
    """An event the adapter could not convert (a converter bug met an event no test foresaw): the relay
    parks it with ``reason`` instead of stalling the sync on it."""

    room_id: str
    event_id: str
    sender: str
    reason: str


MatrixEvent = (
    MatrixMessage
    | MatrixEdit
    | MatrixRedaction
    | MatrixReaction
    | MatrixJoin
    | MatrixIgnored
    | MatrixUnreadable
)


@dataclass(frozen=True, slots=True)
class SyncBatch:
    """The events of one ``/sync`` response in the configured rooms, each room in timeline order.

    ``next_batch`` is saved only after the handler returns, so a crash replays the batch.
    """

    next_batch: str
    events: tuple[MatrixEvent, ...] = ()
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each event as the homeserver sent it, by event id: what is kept when one cannot be handled."""
