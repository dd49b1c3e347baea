"""What the value indicators and the meeting planner read about one community, in a few bulk queries.

``bridge.core.indicators`` and ``bridge.core.meetings`` are pure; this repository hands them plain facts.
Posts are read as narrow tuples (no bodies) because a community's whole history is needed (who is new, who
has lapsed); only the bodies that contain an archive link are read, to find threads cited again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from bridge.core.indicators import (
    CommunityFacts,
    FeedbackFact,
    MemberFact,
    PostFact,
    ReactionFact,
    StoryFact,
    cited_threads,
)
from bridge.core.model import (
    BRIDGE_ORIGIN_PREFIX,
    Channel,
    DeliveryMode,
    MembershipState,
    PostState,
    PracticeState,
    Role,
    takes_digests,
)
from bridge.store.database import Database, Dialect
from bridge.store.models import (
    DigestFeedback,
    Identity,
    IdentityKind,
    Membership,
    Person,
    Post,
    Practice,
    Reaction,
    Story,
    Tag,
    ThreadTag,
)
from bridge.store.records import as_utc


@dataclass(frozen=True, slots=True)
class Participant:
    """A membership with what meeting planning needs: an address to invite, a name, a zone, a role."""

    email: str | None
    name: str
    role: Role
    time_zone: str | None  # the membership's, else the person's; None: the community's applies


def _moment(value: object) -> datetime:
    """A time read by a raw query: text on SQLite, a datetime on PostgreSQL; UTC either way."""
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def person_key(author_id: int | None, address: str) -> str:
    """One key per person: their id when known, else the address they wrote from."""
    return f"p:{author_id}" if author_id is not None else address


_POSTS = (
    'SELECT "id", "thread_id", "author_id", "author_address", "origin_channel", "created_at", "parent_id" '
    'FROM "post" WHERE "community_id" = {} AND "state" = \'visible\' AND "created_at" < {} '
    'AND "origin_key" NOT LIKE {} '  # the bridge's own posts (meeting reminders)
    'ORDER BY "created_at", "id"'
)


class CommunityFactsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, community_id: int, slug: str, time_zone: str, until: datetime) -> CommunityFacts:
        """Every fact up to ``until`` (exclusive) that the indicators read."""
        until = as_utc(until)
        posts = await self._posts(community_id, until)
        async with self._db.session() as conn:
            linking = (
                await Post.filter(
                    community_id=community_id,
                    state=PostState.VISIBLE,
                    created_at__lt=until,
                    body_text__contains=f"/c/{slug}/t/",
                )
                .using_db(conn)
                .values_list("id", "body_text")
            )
            tags = (
                await ThreadTag.filter(thread__community_id=community_id)
                .using_db(conn)
                .values_list("thread_id", "tag_id")
            )
            tag_names = dict(
                await Tag.filter(community_id=community_id).using_db(conn).values_list("id", "name")
            )
            practices = (
                await Practice.filter(community_id=community_id, state=PracticeState.CONFIRMED)
                .using_db(conn)
                .values_list("confirmed_at", flat=True)
            )
            reactions = (
                await Reaction.filter(post__community_id=community_id, created_at__lt=until)
                .using_db(conn)
                .values_list("post_id", "sender", "created_at")
            )
            stories = (
                await Story.filter(
                    community_id=community_id, created_at__lt=until, post__state=PostState.VISIBLE
                )
                .using_db(conn)
                .order_by("created_at", "id")
                .values_list("thread_id", "author_id", "author_address", "author_name", "created_at", "text")
            )
            practice_titles = dict(
                await Practice.filter(community_id=community_id)
                .using_db(conn)
                .values_list("thread_id", "title")
            )
            answers = (
                await DigestFeedback.filter(
                    digest__membership__community_id=community_id, answered_at__lt=until
                )
                .using_db(conn)
                .values_list("useful", "answered_at")
            )
        cited = {post_id: cited_threads(body, slug) for post_id, body in linking}
        facts_posts = [
            PostFact(
                id=post_id,
                thread_id=thread_id,
                author=person_key(author_id, address),
                channel=Channel(channel),
                created_at=_moment(created_at),
                parent_id=parent_id,
                cited_threads=cited.get(post_id, ()),
            )
            for post_id, thread_id, author_id, address, channel, created_at, parent_id in posts
        ]
        thread_tags: dict[int, list[str]] = {}
        for thread_id, tag_id in tags:
            thread_tags.setdefault(thread_id, []).append(tag_names[tag_id])
        matrix_people = await self._people_by_matrix_id({sender for _, sender, _ in reactions})
        return CommunityFacts(
            posts=facts_posts,
            thread_tags=thread_tags,
            members=await self._members(community_id),
            practices_confirmed=[as_utc(cast(datetime, at)) for at in practices if at is not None],
            reactions=[
                ReactionFact(post_id, person_key(matrix_people.get(sender), sender), as_utc(at))
                for post_id, sender, at in reactions
            ],
            stories=[
                StoryFact(
                    thread_id=thread_id,
                    author=person_key(author_id, address),
                    created_at=as_utc(created_at),
                    author_name=name,
                    text=text,
                    practice=practice_titles.get(thread_id),
                )
                for thread_id, author_id, address, name, created_at, text in stories
            ],
            feedback=[FeedbackFact(bool(useful), as_utc(at)) for useful, at in answers],
            default_time_zone=time_zone,
        )

    async def _posts(self, community_id: int, until: datetime) -> list[tuple[Any, ...]]:
        """The visible posts before ``until`` as plain tuples, oldest first. A raw query: a community's
        whole history is read, and the ORM's parsing of every row took four times as long."""
        sqlite = self._db.dialect is Dialect.SQLITE
        rows = await self._db.fetch(
            _POSTS.format(*(("?", "?", "?") if sqlite else ("$1", "$2", "$3"))),
            [community_id, str(until) if sqlite else until, BRIDGE_ORIGIN_PREFIX + "%"],
        )
        return [
            (r["id"], r["thread_id"], r["author_id"], r["author_address"], r["origin_channel"],
             r["created_at"], r["parent_id"])
            for r in rows
        ]  # fmt: skip

    async def participants(self, community_id: int) -> list[Participant]:
        """Active memberships: address, name, role and zone (None: the community's), in roster order."""
        async with self._db.session() as conn:
            rows = (
                await Membership.filter(community_id=community_id, state=MembershipState.ACTIVE)
                .using_db(conn)
                .order_by("id")
                .values_list("person_id", "role", "time_zone")
            )
        people = await self._people([r[0] for r in rows])
        emails = await self._emails([r[0] for r in rows])
        return [
            Participant(
                email=emails.get(person_id),
                name=people.get(person_id, ("", None))[0],
                role=Role(role),
                time_zone=zone or people.get(person_id, ("", None))[1],
            )
            for person_id, role, zone in rows
        ]

    async def _members(self, community_id: int) -> Sequence[MemberFact]:
        async with self._db.session() as conn:
            rows = (
                await Membership.filter(community_id=community_id)
                .using_db(conn)
                .values_list("person_id", "role", "state", "delivery", "digest_frequency", "time_zone")
            )
        people = await self._people([r[0] for r in rows])
        emails = await self._emails([r[0] for r in rows])
        return [
            MemberFact(
                key=person_key(person_id, ""),
                name=people.get(person_id, ("", None))[0],
                role=Role(role),
                time_zone=zone or people.get(person_id, ("", None))[1],
                active=state == MembershipState.ACTIVE,
                reads_digest=takes_digests(
                    Role(role),
                    MembershipState(state),
                    DeliveryMode(delivery),
                    frequency,
                    has_address=person_id in emails,
                ),
            )
            for person_id, role, state, delivery, frequency, zone in rows
        ]

    async def _people(self, person_ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
        """Each person's display name and own time zone."""
        async with self._db.session() as conn:
            rows = (
                await Person.filter(id__in=list(person_ids))
                .using_db(conn)
                .values_list("id", "display_name", "time_zone")
            )
        return {person_id: (name, zone) for person_id, name, zone in rows}

    async def _people_by_matrix_id(self, senders: set[str]) -> dict[str, int]:
        if not senders:
            return {}
        async with self._db.session() as conn:
            rows = (
                await Identity.filter(kind=IdentityKind.MATRIX, address__in=sorted(senders))
                .using_db(conn)
                .values_list("address", "person_id")
            )
        return dict(rows)

    async def _emails(self, person_ids: Sequence[int]) -> dict[int, str]:
        async with self._db.session() as conn:
            rows = (
                await Identity.filter(kind=IdentityKind.EMAIL, person_id__in=list(person_ids))
                .using_db(conn)
                .order_by("id")
                .values_list("person_id", "address")
            )
        found: dict[int, str] = {}
        for person_id, address in rows:
            found.setdefault(person_id, address)
        return found
