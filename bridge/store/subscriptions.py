"""Readers and their subscriptions: who gets which digest, how often, in which zone, following what.

A self-subscription is double opt-in: it is stored at once as a membership in state ``pending`` (so a
convener sees it in ``icop members``, and the relay rules give it nothing) and becomes ``active`` when the
person confirms it. A person already in the community is never made pending again: their request is a
change of their settings, confirmed back to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.expressions import Subquery

from bridge.core.model import DeliveryMode, MembershipState, Role, takes_digests
from bridge.store.communities import normalise_email
from bridge.store.database import Database, Dialect
from bridge.store.models import FollowedTag, Identity, IdentityKind, Membership, MembershipSource, Person
from bridge.store.records import as_utc

FREQUENCIES = ("daily", "weekly", "monthly", "never")


class RequestOutcome(StrEnum):
    NEW = "new"  # a pending membership was made: send the confirmation
    PENDING = "pending"  # asked before and not confirmed yet: send the confirmation again
    MEMBER = "member"  # already in the community: a change of settings, not a subscription


@dataclass(frozen=True, slots=True)
class ReaderRecord:
    """One membership as the digest sees it."""

    membership_id: int
    community_id: int
    person_id: int
    name: str
    email: str | None
    role: Role
    state: MembershipState
    delivery: DeliveryMode
    digest_frequency: str
    time_zone: str | None  # the membership's, else the person's; None: the community's
    followed_tags: frozenset[str]
    subscribed_at: datetime

    @property
    def wants_digest(self) -> bool:
        """Active, with an address, a frequency, and digests chosen (a reader's "each" means digests:
        readers never get posts one by one)."""
        return takes_digests(
            self.role, self.state, self.delivery, self.digest_frequency, has_address=bool(self.email)
        )


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; None leaves a setting as it is."""

    delivery: DeliveryMode | None = None
    digest_frequency: str | None = None
    time_zone: str | None = None
    followed_tags: tuple[str, ...] | None = None


_READERS = (
    'SELECT "id", "community_id", "person_id", "role", "state", "delivery", "digest_frequency", '
    '"time_zone", "subscribed_at", "created_at" FROM "membership" WHERE "community_id" = {} ORDER BY "id"'
)
_READERS_SQL = {Dialect.SQLITE: _READERS.format("?"), Dialect.POSTGRES: _READERS.format("$1")}


def _moment(value: object) -> datetime | None:
    """A timestamp as the driver returns it (a datetime from PostgreSQL, ISO text from SQLite)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class _Row:
    """A membership read as plain values: ten thousand of them are read far faster than models."""

    id: int
    community_id: int
    person_id: int
    role: Role
    state: MembershipState
    delivery: DeliveryMode
    digest_frequency: str
    time_zone: str | None
    subscribed_at: datetime | None
    created_at: datetime


class Subscriptions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def request(
        self,
        community_id: int,
        *,
        email: str,
        name: str,
        change: SettingsChange,
        role: Role = Role.READER,
    ) -> tuple[int, RequestOutcome]:
        """Record a subscription request for ``email``: the membership id and what it was."""
        address = normalise_email(email)
        async with self._db.transaction() as tx:
            conn = tx.client
            identity = await Identity.filter(kind=IdentityKind.EMAIL, address=address).using_db(conn).first()
            if identity is None:
                person = await Person.create(display_name=name or address.partition("@")[0], using_db=conn)
                await Identity.create(
                    person_id=person.id, kind=IdentityKind.EMAIL, address=address, using_db=conn
                )
                person_id = person.id
            else:
                person_id = identity.person_id
            membership = (
                await Membership.filter(community_id=community_id, person_id=person_id).using_db(conn).first()
            )
            if membership is not None and membership.state is not MembershipState.PENDING:
                return membership.id, RequestOutcome.MEMBER
            outcome = RequestOutcome.PENDING if membership is not None else RequestOutcome.NEW
            if membership is None:
                membership = await Membership.create(
                    community_id=community_id,
                    person_id=person_id,
                    role=role,
                    state=MembershipState.PENDING,
                    delivery=change.delivery or DeliveryMode.DIGEST,
                    digest_frequency=change.digest_frequency or "weekly",
                    time_zone=change.time_zone,
                    source=MembershipSource.SELF,
                    using_db=conn,
                )
        await self.change(membership.id, change)
        return membership.id, outcome

    async def confirm(self, membership_id: int, now: datetime) -> bool:
        """A pending subscription becomes active; False when it is not pending (confirmed already,
        withdrawn, or unknown)."""
        async with self._db.session() as conn:
            count = (
                await Membership.filter(id=membership_id, state=MembershipState.PENDING)
                .using_db(conn)
                .update(state=MembershipState.ACTIVE, subscribed_at=as_utc(now))
            )
        return count > 0

    async def withdraw(self, membership_id: int) -> bool:
        """Forget a pending subscription (the person said no, or unsubscribed before confirming)."""
        async with self._db.session() as conn:
            count = (
                await Membership.filter(id=membership_id, state=MembershipState.PENDING)
                .using_db(conn)
                .delete()
            )
        return count > 0

    async def change(self, membership_id: int, change: SettingsChange) -> bool:
        """Apply a reader's own choice; roster syncs keep it."""
        values: dict[str, object] = {}
        if change.delivery is not None:
            values["delivery"] = change.delivery
        if change.digest_frequency is not None:
            if change.digest_frequency not in FREQUENCIES:
                raise ValueError(f"unknown digest frequency {change.digest_frequency!r}")
            values["digest_frequency"] = change.digest_frequency
        if change.time_zone is not None:
            values["time_zone"] = change.time_zone
        async with self._db.transaction() as tx:
            exists = await Membership.filter(id=membership_id).using_db(tx.client).exists()
            if not exists:
                return False
            if values:
                await Membership.filter(id=membership_id).using_db(tx.client).update(**values)
            if change.followed_tags is not None:
                await FollowedTag.filter(membership_id=membership_id).using_db(tx.client).delete()
                tags = sorted({t.strip().lower() for t in change.followed_tags if t.strip()})
                await FollowedTag.bulk_create(
                    [FollowedTag(membership_id=membership_id, tag=tag) for tag in tags], using_db=tx.client
                )
        return True

    async def reader(self, membership_id: int) -> ReaderRecord | None:
        async with self._db.session() as conn:
            row = await Membership.filter(id=membership_id).using_db(conn).first()
        if row is None:
            return None
        found = await self._records([row])
        return found[0] if found else None

    async def reader_by_email(self, community_id: int, email: str) -> ReaderRecord | None:
        async with self._db.session() as conn:
            identity = (
                await Identity.filter(kind=IdentityKind.EMAIL, address=normalise_email(email))
                .using_db(conn)
                .first()
            )
            row = (
                await Membership.filter(community_id=community_id, person_id=identity.person_id)
                .using_db(conn)
                .first()
                if identity is not None
                else None
            )
        return (await self._records([row]))[0] if row is not None else None

    async def readers(self, community_id: int) -> list[ReaderRecord]:
        """Every membership of the community, in the order they joined (a few queries in all, so a run
        for ten thousand readers does not make ten thousand round trips)."""
        # Raw rows: ten thousand memberships through the ORM's datetime parsing take seconds.
        rows = await self._db.fetch(_READERS_SQL[self._db.dialect], [community_id])
        return await self._records(
            [
                _Row(
                    **{
                        **row,
                        "subscribed_at": _moment(row["subscribed_at"]),
                        "created_at": _moment(row["created_at"]),
                    }
                )
                for row in rows
            ]
        )

    async def _records(self, rows: Iterable[Membership | _Row]) -> list[ReaderRecord]:
        rows = list(rows)
        if not rows:
            return []
        community_ids = {row.community_id for row in rows}
        single = len(rows) == 1
        async with self._db.session() as conn:
            members = Membership.filter(community_id__in=list(community_ids)).values("person_id")
            people_query = (
                Person.filter(id=rows[0].person_id) if single else Person.filter(id__in=Subquery(members))
            )
            people = {
                p["id"]: p
                for p in await people_query.using_db(conn).values("id", "display_name", "time_zone")
            }
            identity_query = Identity.filter(kind=IdentityKind.EMAIL).order_by("id")
            identity_query = (
                identity_query.filter(person_id=rows[0].person_id)
                if single
                else identity_query.filter(person_id__in=Subquery(members))
            )
            emails: dict[int, str] = {}
            for person_id, address in await identity_query.using_db(conn).values_list("person_id", "address"):
                emails.setdefault(int(person_id), str(address))
            tag_query = (
                FollowedTag.filter(membership_id=rows[0].id)
                if single
                else FollowedTag.filter(
                    membership_id__in=Subquery(
                        Membership.filter(community_id__in=list(community_ids)).values("id")
                    )
                )
            )
            followed: dict[int, set[str]] = {}
            for membership_id, tag in await tag_query.using_db(conn).values_list("membership_id", "tag"):
                followed.setdefault(int(membership_id), set()).add(str(tag))
        return [
            ReaderRecord(
                membership_id=row.id,
                community_id=row.community_id,
                person_id=row.person_id,
                name=str(people[row.person_id]["display_name"]),
                email=emails.get(row.person_id),
                role=Role(row.role),
                state=MembershipState(row.state),
                delivery=DeliveryMode(row.delivery),
                digest_frequency=row.digest_frequency,
                time_zone=row.time_zone or people[row.person_id]["time_zone"],
                followed_tags=frozenset(followed.get(row.id, ())),
                subscribed_at=as_utc(row.subscribed_at or row.created_at),
            )
            for row in rows
            if row.person_id in people
        ]
