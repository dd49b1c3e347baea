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

# Longest value an RFC 5322 header line may carry; Message-IDs and origin keys fit in it.
HEADER_VALUE_LENGTH = 998
ADDRESS_LENGTH = 320  # local part 64 + @ + domain 255


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
    digest_frequency = fields.CharField(max_length=16, default="weekly")  # daily | weekly
    time_zone = fields.CharField(max_length=64, null=True)  # overrides the person's
    receive_own_posts = fields.BooleanField(default=False)
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
        indexes = (("community", "normalised_subject", "last_activity_at"),)


class Post(Model):
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
    author_name = fields.CharField(max_length=200)
    author_address = fields.CharField(max_length=ADDRESS_LENGTH)
    origin_channel = fields.CharEnumField(Channel, max_length=16)
    origin_key = fields.CharField(max_length=HEADER_VALUE_LENGTH)
    matrix_event_id = fields.CharField(max_length=255, null=True)
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
    event_id = fields.CharField(max_length=255, unique=True)
    key = fields.CharField(max_length=255)
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
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, null=True)
    data = fields.BinaryField(null=True)
    url = fields.CharField(max_length=2048, null=True)  # https:// or mxc:// when not kept here

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

    class Meta:
        app = APP_LABEL
        table = "digest_delivery"
        unique_together = (("membership", "period_start", "period_end"),)


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
