"""What the repositories hand back: small frozen records, so no caller holds a live ORM object.

Where the core already has a word for a thing (``Recipient``, ``Attachment``) the repositories return
that; these records cover what only the store knows about (ids, timestamps, delivery bookkeeping).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.core.model import (
    Channel,
    DeliveryKind,
    DeliveryMode,
    DeliveryState,
    MembershipState,
    PostState,
    Role,
)


def as_utc(moment: datetime) -> datetime:
    """The store keeps every time in UTC; a naive time is a caller's bug, not an implied zone."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs time-zone-aware times")
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CommunityRecord:
    id: int
    slug: str
    name: str
    list_address: str
    room: str  # as configured: an alias or a room id
    room_id: str | None  # resolved, once known
    time_zone: str


@dataclass(frozen=True, slots=True)
class RosterSync:
    """What ``sync_community`` changed; all zeros on a repeated sync."""

    community_id: int
    added: int
    updated: int
    removed: int


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One membership as a convener sees it: who, how they get mail, and how their address fares.

    ``state_reason`` says why a membership is not active (``"bounces"`` for a suspension the bounce
    handling made); ``bounce_score`` is the stored score, before any decay since ``last_bounce_at``.
    """

    membership_id: int
    person_id: int
    name: str
    email: str | None
    matrix_id: str | None
    role: Role
    state: MembershipState
    state_reason: str | None
    delivery: DeliveryMode
    digest_frequency: str
    source: str
    bounce_score: float
    last_bounce_at: datetime | None


@dataclass(frozen=True, slots=True)
class PersonRecord:
    id: int
    display_name: str
    time_zone: str | None
    emails: tuple[str, ...]
    matrix_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewThread:
    """Ingest into a new thread with this subject (``normalised_subject`` as the core computed it)."""

    subject: str
    normalised_subject: str


@dataclass(frozen=True, slots=True)
class RawMessage:
    """The item as received, kept beside the post: ``message/rfc822`` bytes or Matrix event JSON."""

    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class IngestResult:
    post_id: int
    thread_id: int
    duplicate: bool  # the origin key was already stored; nothing was written


@dataclass(frozen=True, slots=True)
class PostRef:
    """Where a known remote id (Message-ID, event id) lives: for threading a reply to it."""

    post_id: int
    thread_id: int


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    id: int
    community_id: int
    subject: str
    normalised_subject: str
    token: str
    created_at: datetime
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class PostRecord:
    id: int
    community_id: int
    thread_id: int
    parent_id: int | None
    author_id: int | None
    author_name: str
    author_address: str
    origin_channel: Channel
    origin_key: str
    matrix_event_id: str | None
    email_message_id: str | None
    subject: str | None
    text: str
    html: str | None
    full_text: str | None
    state: PostState
    created_at: datetime
    edited_at: datetime | None
    reaction_count: int


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox row as a delivery worker or the convener's CLI sees it."""

    id: int
    post_id: int
    channel: Channel
    kind: DeliveryKind
    revision: int  # which edit an EDIT delivery carries; 0 otherwise
    recipient: str
    membership_id: int | None
    state: DeliveryState
    attempts: int  # claims so far, this one included
    next_attempt_at: datetime
    not_before: datetime | None
    batch_key: str | None
    last_error: str | None
    remote_id: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    created_at: datetime
