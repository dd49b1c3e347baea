"""The shared vocabulary of the bridge: channels, roles and the neutral form of a message.

Every adapter converts what it receives into an ``InboundMessage`` and every layer above speaks only in
these terms, so the relay rules and the store never see a nio event or an ``email.message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

BRIDGE_ORIGIN_PREFIX = "icop:"
"""Origin keys of the posts the bridge writes itself (meeting reminders): no person wrote them, so the
value indicators leave them out. Event ids start with ``$`` and Message-IDs never with this."""


class Channel(StrEnum):
    """Where a post came from or goes to."""

    MATRIX = "matrix"
    EMAIL = "email"


class Role(StrEnum):
    """A person's role in one community (DESIGN §6: convener | core | member | reader)."""

    CONVENER = "convener"
    CORE = "core"
    MEMBER = "member"
    READER = "reader"

    @property
    def may_post(self) -> bool:
        """Readers only read (digests); everyone else takes part in the conversation."""
        return self is not Role.READER


class MembershipState(StrEnum):
    PENDING = "pending"  # a self-subscription waiting for its confirmation (double opt-in)
    ACTIVE = "active"
    SUSPENDED = "suspended"  # delivery stopped, e.g. past the bounce threshold
    BANNED = "banned"


class DeliveryMode(StrEnum):
    """How a member wants the list's mail: every post, digests, both, or nothing by mail."""

    EACH = "each"
    DIGEST = "digest"
    BOTH = "both"
    NONE = "none"

    @property
    def each_post(self) -> bool:
        return self in (DeliveryMode.EACH, DeliveryMode.BOTH)

    @property
    def digests(self) -> bool:
        return self in (DeliveryMode.DIGEST, DeliveryMode.BOTH)


def takes_digests(
    role: Role, state: MembershipState, delivery: DeliveryMode, frequency: str, *, has_address: bool
) -> bool:
    """Whether a membership gets digests: active (a pending subscription does not), with an address,
    a frequency, and digests chosen (a reader's ``each`` means digests: readers never get posts one by
    one). The digest sender and the ``readers`` indicator both ask this, so they always agree."""
    if state is not MembershipState.ACTIVE or not has_address or frequency == "never":
        return False
    if role is Role.READER:
        return delivery is not DeliveryMode.NONE
    return delivery.digests


class PostState(StrEnum):
    VISIBLE = "visible"
    HELD = "held"  # waiting for a convener's decision
    REJECTED = "rejected"
    DELETED = "deleted"  # redacted on Matrix or withdrawn


class TagSource(StrEnum):
    """What applied a tag to a thread or post: the archive keeps who or what filed it, and when."""

    HASHTAG = "hashtag"  # a #tag in a post's body
    SUBJECT = "subject"  # a [tag] in a mail's subject
    COMMAND = "command"  # !icop tag in the room
    MAIL_COMMAND = "mail-command"  # a Tags: line at the top of a reply
    KEYWORD = "keyword"  # suggested by the taxonomy's keywords and applied by the community's choice
    CONVENER = "convener"  # set by a convener on the command line or the web
    MEETING = "meeting"  # a meeting's notes thread, opened by the bridge with the meeting's first reminder


class PracticeState(StrEnum):
    """A thread proposed as a practice (#practice by anyone) or confirmed by the core team."""

    PROPOSED = "proposed"
    CONFIRMED = "confirmed"


class DeliveryState(StrEnum):
    """An outbox row's life: pending → sending → sent, or → dead after the retry limit."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


class DeliveryKind(StrEnum):
    POST = "post"
    EDIT = "edit"
    REDACTION = "redaction"
    NOTICE = "notice"
    REMINDER = "reminder"  # a meeting reminder mailed to one member, in their time zone, with an invitation


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried by a post; ``data`` is None when only a link (``url``) is kept, e.g. too large."""

    filename: str
    content_type: str
    size: int
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadRefs:
    """Everything a message says about what it answers, on either channel (DESIGN §4)."""

    in_reply_to: str | None = None  # email Message-ID, without angle brackets
    references: tuple[str, ...] = ()  # email References, oldest first, without angle brackets
    reply_token: str | None = None  # from list+TOKEN@domain
    matrix_thread_root: str | None = None  # m.relates_to rel_type m.thread
    matrix_in_reply_to: str | None = None  # m.in_reply_to event id


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message that arrived on one channel, in neutral form, before it becomes a stored post.

    ``origin_key`` is stable across re-deliveries (event id, Message-ID, or a hash of the raw mail) and is
    what makes ingest idempotent.
    """

    channel: Channel
    origin_key: str
    community_slug: str
    sender_address: str  # lowercased email address or Matrix user id
    sender_name: str
    text: str  # plain text / Markdown, quoted history and signature stripped
    html: str | None = None  # sanitised HTML of the same content
    full_text: str | None = None  # the original text, quotes included, for the archive
    subject: str | None = None
    refs: ThreadRefs = field(default_factory=ThreadRefs)
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime | None = None
    email_message_id: str | None = None
    matrix_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class RosterMember:
    """A member as the convener lists them in config; the store makes it person, identities, membership."""

    name: str
    email: str
    role: Role = Role.MEMBER
    matrix: str | None = None
    time_zone: str | None = None
    delivery: DeliveryMode = DeliveryMode.EACH
    digest_frequency: str = "weekly"  # daily | weekly | monthly | never, when the membership is made


@dataclass(frozen=True, slots=True)
class Recipient:
    """A membership as the relay rules see it when deciding who gets a post."""

    membership_id: int
    person_id: int
    email: str | None
    matrix_id: str | None
    role: Role
    state: MembershipState
    delivery: DeliveryMode
    receive_own_posts: bool = False


@dataclass(frozen=True, slots=True)
class DeliverySpec:
    """One outbox row to create with a post: deliver ``kind`` of the post on ``channel`` to ``recipient``.

    ``recipient`` is an email address for email and a room id for Matrix. ``not_before`` delays a delivery
    (the batched relay policy waits for a quiet period); ``batch_key`` groups rows folded into one email.
    """

    channel: Channel
    recipient: str
    kind: DeliveryKind = DeliveryKind.POST
    membership_id: int | None = None
    not_before: datetime | None = None
    batch_key: str | None = None
