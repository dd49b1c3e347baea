"""The tables of the store, as tortoise models.

These classes are private to ``bridge.store``: repositories turn rows into core types or small frozen
dataclasses, so nothing above the store holds a live ORM object. The schema itself is owned by the
committed SQL migrations; these models must describe exactly what the migrations create, and a test
compares the two on both dialects.

Foreign keys use ``related_name=False``: reverse accessors invite lazy loading from outside the store.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from bridge.core.model import (
    Channel,
    DeliveryKind,
    DeliveryMode,
    DeliveryState,
    MembershipState,
    PostState,
    PracticeState,
    Role,
    TagSource,
)

APP_LABEL = "store"

# Column sizes. Values from outside are fitted to them by bridge.store.fit before they are written.
HEADER_VALUE_LENGTH = 998  # the longest line RFC 5322 allows: Message-IDs, origin keys, subjects
ADDRESS_LENGTH = 320  # local part 64 + @ + domain 255
NAME_LENGTH = 200  # display names
EVENT_ID_LENGTH = 255  # Matrix event ids (the spec's limit)
FILENAME_LENGTH = 255  # attachment file names and content types
URL_LENGTH = 2048


class ParkedState(StrEnum):
    """A parked message's life: waiting for a convener, queued for the daemon to re-process, being
    re-processed, handled after all, or discarded by a convener."""

    PARKED = "parked"
    QUEUED = "queued"
    RETRYING = "retrying"
    DONE = "done"
    DISCARDED = "discarded"


class IdentityKind(StrEnum):
    EMAIL = "email"
    MATRIX = "matrix"


class MembershipSource(StrEnum):
    """Why a person is a member: listed in config, subscribed themselves, or let in by a convener."""

    ROSTER = "roster"
    SELF = "self"
    HELD_APPROVED = "held-approved"


class Community(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=100, unique=True)
    name = fields.CharField(max_length=200)
    list_address = fields.CharField(max_length=ADDRESS_LENGTH, unique=True)
    room = fields.CharField(max_length=255)  # as configured: an alias or a room id
    room_id = fields.CharField(max_length=255, null=True, unique=True)  # resolved !room_id
    time_zone = fields.CharField(max_length=64, default="UTC")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = APP_LABEL
        table = "community"


class Person(Model):
    id = fields.IntField(primary_key=True)
    display_name = fields.CharField(max_length=200)
    time_zone = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = APP_LABEL
        table = "person"


class Identity(Model):
    """An address a person is known by; ``address`` is normalised (lowercased email, trimmed mxid)."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "store.Person", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    person_id: int
    kind = fields.CharEnumField(IdentityKind, max_length=16)
    address = fields.CharField(max_length=ADDRESS_LENGTH, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = APP_LABEL
        table = "identity"
        unique_together = (("kind", "address"),)


class Membership(Model):
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "store.Person", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    person_id: int
    role = fields.CharEnumField(Role, max_length=16, default=Role.MEMBER)
    state = fields.CharEnumField(MembershipState, max_length=16, default=MembershipState.ACTIVE)
    state_reason = fields.CharField(max_length=32, null=True)  # why suspended, e.g. "bounces"
    delivery = fields.CharEnumField(DeliveryMode, max_length=16, default=DeliveryMode.EACH)
    digest_frequency = fields.CharField(max_length=16, default="weekly")  # daily | weekly | monthly | never
    time_zone = fields.CharField(max_length=64, null=True)  # overrides the person's
    receive_own_posts = fields.BooleanField(default=False)
    subscribed_at = fields.DatetimeField(null=True)  # when a self-subscription was confirmed
    source = fields.CharEnumField(MembershipSource, max_length=16, default=MembershipSource.ROSTER)
    bounce_score = fields.FloatField(default=0.0)
    last_bounce_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = APP_LABEL
        table = "membership"
        unique_together = (("community", "person"),)


class Thread(Model):
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    subject = fields.CharField(max_length=HEADER_VALUE_LENGTH)
    normalised_subject = fields.CharField(max_length=HEADER_VALUE_LENGTH)
    token = fields.CharField(max_length=32, unique=True)  # public: archive URLs, reply addresses
    created_at = fields.DatetimeField()
    last_activity_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "thread"
        indexes = (
            ("community", "normalised_subject", "last_activity_at"),
            ("community", "last_activity_at"),  # the archive's recent threads, newest first
        )


class Post(Model):
    """A stored post. The search index is not a field: migration 006 keeps it beside the table (an FTS5
    table on SQLite, the ``search_document`` column on PostgreSQL) by triggers; see bridge.store.search."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "store.Thread", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    thread_id: int
    parent: fields.ForeignKeyNullableRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    parent_id: int | None
    author: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "store.Person", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    author_id: int | None
    author_name = fields.CharField(max_length=NAME_LENGTH)
    author_address = fields.CharField(max_length=ADDRESS_LENGTH)
    origin_channel = fields.CharEnumField(Channel, max_length=16)
    origin_key = fields.CharField(max_length=HEADER_VALUE_LENGTH)
    matrix_event_id = fields.CharField(max_length=EVENT_ID_LENGTH, null=True)
    email_message_id = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    subject = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    body_text = fields.TextField()
    body_html = fields.TextField(null=True)
    full_text = fields.TextField(null=True)
    state = fields.CharEnumField(PostState, max_length=16, default=PostState.VISIBLE)
    created_at = fields.DatetimeField()  # when it was written (sent_at), else when it arrived
    received_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    reaction_count = fields.IntField(default=0)

    class Meta:
        app = APP_LABEL
        table = "post"
        # A Message-ID is unique per community only: one mail sent to two lists is two posts.
        unique_together = (
            ("community", "origin_key"),
            ("community", "matrix_event_id"),
            ("community", "email_message_id"),
        )
        indexes = (("created_at",),)  # newest first, for searches by filters alone


class PostRevision(Model):
    """One version of an edited post; revision 1 is the original, copied on the first edit."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    revision = fields.IntField()
    origin_key = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)  # the edit event
    subject = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    body_text = fields.TextField()
    body_html = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "post_revision"
        unique_together = (("post", "revision"), ("post", "origin_key"))


class Reaction(Model):
    """A Matrix reaction to a post, kept so a replayed or redacted reaction counts exactly once."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    event_id = fields.CharField(max_length=EVENT_ID_LENGTH, unique=True)
    key = fields.CharField(max_length=EVENT_ID_LENGTH)
    sender = fields.CharField(max_length=ADDRESS_LENGTH)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = APP_LABEL
        table = "reaction"
        unique_together = (("post", "sender", "key"),)


class RawSource(Model):
    """The bytes as received (RFC 822 mail, Matrix event JSON), for the archive and for replays."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    post_id: int
    channel = fields.CharEnumField(Channel, max_length=16)
    content_type = fields.CharField(max_length=100)
    data = fields.BinaryField()
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = APP_LABEL
        table = "raw_source"


class StoredAttachment(Model):
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    post_id: int
    position = fields.IntField(default=0)
    filename = fields.CharField(max_length=FILENAME_LENGTH)
    content_type = fields.CharField(max_length=FILENAME_LENGTH)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, null=True)
    data = fields.BinaryField(null=True)
    url = fields.CharField(max_length=URL_LENGTH, null=True)  # https:// or mxc:// when not kept here

    class Meta:
        app = APP_LABEL
        table = "attachment"


class Tag(Model):
    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    name = fields.CharField(max_length=64)
    label = fields.CharField(max_length=200)
    description = fields.TextField(default="")

    class Meta:
        app = APP_LABEL
        table = "tag"
        unique_together = (("community", "name"),)


class ThreadTag(Model):
    id = fields.IntField(primary_key=True)
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "store.Thread", related_name=False, on_delete=fields.CASCADE
    )
    thread_id: int
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "store.Tag", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    tag_id: int
    source = fields.CharEnumField(TagSource, max_length=16, default=TagSource.HASHTAG)
    applied_by = fields.CharField(max_length=ADDRESS_LENGTH, null=True)  # an address, or None when automatic
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        app = APP_LABEL
        table = "thread_tag"
        unique_together = (("thread", "tag"),)


class PostTag(Model):
    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField(
        "store.Tag", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    tag_id: int
    source = fields.CharEnumField(TagSource, max_length=16, default=TagSource.HASHTAG)
    applied_by = fields.CharField(max_length=ADDRESS_LENGTH, null=True)  # an address, or None when automatic
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        app = APP_LABEL
        table = "post_tag"
        unique_together = (("post", "tag"),)


class Practice(Model):
    """A thread the community keeps as a practice: a title, a summary the core team writes, its thread."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    thread: fields.OneToOneRelation[Thread] = fields.OneToOneField(
        "store.Thread", related_name=False, on_delete=fields.CASCADE
    )
    thread_id: int
    title = fields.CharField(max_length=HEADER_VALUE_LENGTH)
    summary = fields.TextField(default="")
    state = fields.CharEnumField(PracticeState, max_length=16, default=PracticeState.PROPOSED)
    proposed_by = fields.CharField(max_length=ADDRESS_LENGTH, null=True)
    confirmed_by = fields.CharField(max_length=ADDRESS_LENGTH, null=True)
    created_at = fields.DatetimeField()
    confirmed_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "practice"
        indexes = (("community", "state"),)


class Story(Model):
    """A value story: how a practice or thread helped someone, told in ``post`` and citing ``thread``."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "store.Thread", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    thread_id: int
    post: fields.OneToOneRelation[Post] = fields.OneToOneField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    author: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "store.Person", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    author_id: int | None
    author_name = fields.CharField(max_length=200)
    author_address = fields.CharField(max_length=ADDRESS_LENGTH)
    channel = fields.CharEnumField(Channel, max_length=16)
    text = fields.TextField()
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "story"
        indexes = (("community", "created_at"),)


class MeetingReminder(Model):
    """A reminder of one meeting that went out: the bridge's post carrying it and the notes thread."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    series_key = fields.CharField(max_length=100)
    meeting_number = fields.IntField()
    minutes_before = fields.IntField()
    meeting_start = fields.DatetimeField()
    post: fields.OneToOneRelation[Post] = fields.OneToOneField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "store.Thread", related_name=False, on_delete=fields.CASCADE
    )
    thread_id: int
    created_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "meeting_reminder"
        unique_together = (("community", "series_key", "meeting_number", "minutes_before"),)


class Welcome(Model):
    """A newcomer's welcome: to whom (an email address or a Matrix id), on which channel, sent or not.

    One per address in a community, so nobody is greeted twice; ``skipped`` marks members who were
    there before welcomes existed."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    membership: fields.ForeignKeyNullableRelation[Membership] = fields.ForeignKeyField(
        "store.Membership", related_name=False, on_delete=fields.SET_NULL, null=True, db_index=True
    )
    membership_id: int | None
    address = fields.CharField(max_length=ADDRESS_LENGTH)
    channel = fields.CharEnumField(Channel, max_length=16)
    state = fields.CharField(max_length=16)  # pending | sent | dead | skipped
    attempts = fields.IntField()
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        app = APP_LABEL
        table = "welcome"
        unique_together = (("community", "address"),)
        indexes = (("state", "next_attempt_at"),)


class AuditEvent(Model):
    """One action of a person (or of the bridge on a rule's behalf) on a community: what, on what, when."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=ADDRESS_LENGTH)  # a Matrix id, an address, "cli" or "icop-bridge"
    action = fields.CharField(max_length=64)  # e.g. tag.add, practice.confirm, post.approve
    target = fields.CharField(max_length=400)  # e.g. "thread 12", "post 40", "member ana@example.org"
    detail = fields.TextField()

    class Meta:
        app = APP_LABEL
        table = "audit_event"
        indexes = (("community", "at"),)


class Delivery(Model):
    """An outbox row: one kind of one post on one channel to one recipient.

    ``revision`` tells edits apart, so (post, channel, kind, recipient, revision) is unique and creating
    the same delivery twice is a no-op.
    """

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    channel = fields.CharEnumField(Channel, max_length=16)
    kind = fields.CharEnumField(DeliveryKind, max_length=16, default=DeliveryKind.POST)
    revision = fields.IntField(default=0)
    recipient = fields.CharField(max_length=ADDRESS_LENGTH)
    membership: fields.ForeignKeyNullableRelation[Membership] = fields.ForeignKeyField(
        "store.Membership", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    membership_id: int | None
    state = fields.CharEnumField(DeliveryState, max_length=16, default=DeliveryState.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    not_before = fields.DatetimeField(null=True)
    batch_key = fields.CharField(max_length=255, null=True, db_index=True)
    last_error = fields.TextField(null=True)
    remote_id = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    claimed_by = fields.CharField(max_length=255, null=True)
    claimed_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = APP_LABEL
        table = "delivery"
        unique_together = (("post", "channel", "kind", "recipient", "revision"),)
        indexes = (("state", "next_attempt_at"),)


class IngestCursor(Model):
    id = fields.IntField(primary_key=True)
    source_key = fields.CharField(max_length=255, unique=True)
    value = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = APP_LABEL
        table = "ingest_cursor"


class DigestDelivery(Model):
    id = fields.IntField(primary_key=True)
    membership: fields.ForeignKeyRelation[Membership] = fields.ForeignKeyField(
        "store.Membership", related_name=False, on_delete=fields.CASCADE
    )
    membership_id: int
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    state = fields.CharEnumField(DeliveryState, max_length=16, default=DeliveryState.PENDING)
    sent_at = fields.DatetimeField(null=True)
    message_id = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    claimed_by = fields.CharField(max_length=255, null=True)
    claimed_until = fields.DatetimeField(null=True)  # a sender's lease; past it another may take over
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)

    class Meta:
        app = APP_LABEL
        table = "digest_delivery"
        # The period's end is the slot: one digest per reader and slot, whatever start was computed.
        unique_together = (("membership", "period_start", "period_end"), ("membership", "period_end"))


class ReportMail(Model):
    """The monthly report to one convener or core member: claimed before it is sent, so it goes out once
    per (membership, month); the claim is a lease another sender takes over when it runs out."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    membership: fields.ForeignKeyRelation[Membership] = fields.ForeignKeyField(
        "store.Membership", related_name=False, on_delete=fields.CASCADE
    )
    membership_id: int
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    state = fields.CharEnumField(DeliveryState, max_length=16, default=DeliveryState.SENDING)
    claimed_by = fields.CharField(max_length=255, null=True)
    claimed_until = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    message_id = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    sent_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = APP_LABEL
        table = "report_mail"
        unique_together = (("membership", "period_start"),)
        indexes = (("community", "state"),)


class FollowedTag(Model):
    """A tag a reader follows: threads under it rank higher in their digest."""

    id = fields.IntField(primary_key=True)
    membership: fields.ForeignKeyRelation[Membership] = fields.ForeignKeyField(
        "store.Membership", related_name=False, on_delete=fields.CASCADE
    )
    membership_id: int
    tag = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        app = APP_LABEL
        table = "followed_tag"
        unique_together = (("membership", "tag"),)


class DigestFeedback(Model):
    """A reader's answer to "was this digest useful?"; the latest answer stands."""

    id = fields.IntField(primary_key=True)
    digest: fields.OneToOneRelation[DigestDelivery] = fields.OneToOneField(
        "store.DigestDelivery", related_name=False, on_delete=fields.CASCADE
    )
    digest_id: int
    useful = fields.BooleanField()
    answered_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "digest_feedback"


class Setting(Model):
    """Values the daemon makes for itself: generated signing keys, a Matrix token from password login."""

    key = fields.CharField(max_length=200, primary_key=True)
    value = fields.TextField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = APP_LABEL
        table = "setting"


class ModerationDecision(Model):
    """A convener's decision on a held post: what, by whom, when and why (a reason is mailed back)."""

    id = fields.IntField(primary_key=True)
    post: fields.OneToOneRelation[Post] = fields.OneToOneField(
        "store.Post", related_name=False, on_delete=fields.CASCADE
    )
    post_id: int
    decision = fields.CharField(max_length=16)  # approved | rejected | banned
    reason = fields.TextField(null=True)
    decided_by = fields.CharField(max_length=ADDRESS_LENGTH)  # a Matrix id, or "cli"
    decided_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "moderation_decision"


class SenderBan(Model):
    """An address (email or Matrix id) whose posts a community refuses: stored as rejected, never relayed."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    address = fields.CharField(max_length=ADDRESS_LENGTH)
    reason = fields.TextField(null=True)
    banned_by = fields.CharField(max_length=ADDRESS_LENGTH)
    created_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "sender_ban"
        unique_together = (("community", "address"),)


class JoinHint(Model):
    """A non-member told once in the room how to join, so a restart does not tell them again."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.CASCADE
    )
    community_id: int
    address = fields.CharField(max_length=ADDRESS_LENGTH)
    told_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "join_hint"
        unique_together = (("community", "address"),)


class WebSession(Model):
    """A signed-in archive visitor. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database opens no session, and deleting the row signs the visitor out everywhere."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "store.Person", related_name=False, on_delete=fields.CASCADE, db_index=True
    )
    person_id: int
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        app = APP_LABEL
        table = "web_session"


class SignInLink(Model):
    """A sign-in link sent to a person, kept so it works once and so links per hour can be counted."""

    id = fields.IntField(primary_key=True)
    nonce_hash = fields.CharField(max_length=64, unique=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "store.Person", related_name=False, on_delete=fields.CASCADE
    )
    person_id: int
    channel = fields.CharEnumField(Channel, max_length=16)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        app = APP_LABEL
        table = "sign_in_link"
        indexes = (("person", "created_at"),)


class ParkedMessage(Model):
    """A message that could not be handled (DESIGN §8): its raw bytes and why, so the stream moved on.

    ``origin`` identifies it across replays (the SHA-256 of a mail, a Matrix event id): the same message
    failing again updates its row instead of parking it twice. ``source`` is where it came from (the
    mailbox's cursor key, or the room id a Matrix event needs to be read again).
    """

    id = fields.IntField(primary_key=True)
    channel = fields.CharEnumField(Channel, max_length=16)
    source = fields.CharField(max_length=EVENT_ID_LENGTH)
    origin = fields.CharField(max_length=EVENT_ID_LENGTH)
    position = fields.CharField(max_length=64, null=True)  # UIDVALIDITY:UID in the mailbox
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "store.Community", related_name=False, on_delete=fields.SET_NULL, null=True
    )
    community_id: int | None
    sender = fields.CharField(max_length=ADDRESS_LENGTH, null=True)
    subject = fields.CharField(max_length=HEADER_VALUE_LENGTH, null=True)
    data = fields.BinaryField()  # the raw mail, or the event JSON
    size = fields.BigIntField()
    reason = fields.TextField()
    failure = fields.CharField(max_length=16)  # permanent | unexpected
    attempts = fields.IntField(default=1)
    state = fields.CharEnumField(ParkedState, max_length=16, default=ParkedState.PARKED)
    parked_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    told_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)

    class Meta:
        app = APP_LABEL
        table = "parked_message"
        unique_together = (("channel", "origin"),)
        indexes = (("state",),)
