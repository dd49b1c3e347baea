"""Who gets what: the outbox rows a new post creates, decided in one place.

Ingest stores a post and these rows in one transaction (DESIGN §3), so this decision must be complete
and pure: the room once, and each member who takes mail post by post, by email. Each eligibility
condition is a small named rule so a new one (say, a per-thread mute) is one more function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bridge.core.model import (
    Channel,
    DeliveryKind,
    DeliverySpec,
    MembershipState,
    Recipient,
    Role,
)


class RelayMode(StrEnum):
    """How chat reaches the list: each message as its own mail, or bursts folded into one mail."""

    PER_MESSAGE = "per_message"
    BATCHED = "batched"


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    """A community's relay policy (DESIGN §4).

    With ``BATCHED``, a chat message waits ``quiet_period`` for the next one; a burst is mailed when the
    room has been quiet that long, or at the latest ``max_batch_delay`` after its first message, so a
    lively room still reaches email readers.
    """

    mode: RelayMode = RelayMode.PER_MESSAGE
    quiet_period: timedelta = timedelta(minutes=5)
    max_batch_delay: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.quiet_period < timedelta(0):
            raise ValueError("quiet_period cannot be negative")
        if self.max_batch_delay < self.quiet_period:
            raise ValueError("max_batch_delay must be at least the quiet_period")

    @property
    def batched(self) -> bool:
        return self.mode is RelayMode.BATCHED


def batch_key(room_id: str, thread_id: int | None, *, thread_reply: bool) -> str:
    """The batch a chat message joins: its thread's for a reply in a thread, else the room timeline's.

    Replies in one thread belong in one mail of that thread; plain timeline chatter is one burst of the
    room, whatever threads its messages start.
    """
    if thread_reply and thread_id is not None:
        return f"thread:{thread_id}"
    return f"room:{room_id}"


RecipientRule = Callable[[Recipient], bool]


def _is_active(recipient: Recipient) -> bool:
    """Suspended (bouncing) and banned members get nothing."""
    return recipient.state is MembershipState.ACTIVE


def _reads_in_conversation(recipient: Recipient) -> bool:
    """Readers follow through digests, never post by post."""
    return recipient.role is not Role.READER


def _wants_each_post(recipient: Recipient) -> bool:
    """Only members who chose mail for every post (alone or with digests); digest-only and no-mail
    members do not get it post by post."""
    return recipient.delivery.each_post


def _has_email(recipient: Recipient) -> bool:
    """No address, no mail: a Matrix-only member reads in the room."""
    return bool(recipient.email and recipient.email.strip())


EMAIL_RECIPIENT_RULES: tuple[RecipientRule, ...] = (
    _is_active,
    _reads_in_conversation,
    _wants_each_post,
    _has_email,
)


def _is_author(recipient: Recipient, author: Recipient | None) -> bool:
    if author is None:
        return False
    if recipient.membership_id == author.membership_id:
        return True
    return bool(author.email and recipient.email and author.email.casefold() == recipient.email.casefold())


def email_recipients(recipients: Sequence[Recipient], author: Recipient | None) -> list[Recipient]:
    """Members to mail a post to, in the given order, each address once.

    The author is left out unless they asked for their own posts (``receive_own_posts``): most people
    find their own words in the inbox noise, some keep them as a record.
    """
    chosen: list[Recipient] = []
    seen: set[str] = set()
    for recipient in recipients:
        if not all(rule(recipient) for rule in EMAIL_RECIPIENT_RULES):
            continue
        if _is_author(recipient, author) and not recipient.receive_own_posts:
            continue
        address = (recipient.email or "").strip().casefold()
        if address in seen:
            continue
        seen.add(address)
        chosen.append(recipient)
    return chosen


def plan_deliveries(
    message_channel: Channel,
    author: Recipient | None,
    recipients: Sequence[Recipient],
    room_id: str | None,
    policy: RelayPolicy,
    now: datetime,
    *,
    thread_id: int | None = None,
    thread_reply: bool = False,
    kind: DeliveryKind = DeliveryKind.POST,
) -> list[DeliverySpec]:
    """The outbox rows for a new post: every channel but the one it came from.

    From email: the room once (when the community has one), and the list's per-post readers by email.
    From Matrix: by email only, never back to the room. Under a batched policy, Matrix-to-email rows
    wait ``quiet_period`` and carry the batch key of ``thread_id``/``thread_reply``
    (``batch_key``) so the burst is folded into one mail.
    """
    plan: list[DeliverySpec] = []
    if message_channel is Channel.EMAIL and room_id:
        plan.append(DeliverySpec(channel=Channel.MATRIX, recipient=room_id, kind=kind))
    not_before: datetime | None = None
    key: str | None = None
    if message_channel is Channel.MATRIX and policy.batched:
        not_before = now + policy.quiet_period
        key = batch_key(room_id or "", thread_id, thread_reply=thread_reply)
    for recipient in email_recipients(recipients, author):
        plan.append(
            DeliverySpec(
                channel=Channel.EMAIL,
                recipient=(recipient.email or "").strip(),
                kind=kind,
                membership_id=recipient.membership_id,
                not_before=not_before,
                batch_key=key,
            )
        )
    return plan
