"""Communities, the people in them and how each wants the list's mail.

The config's roster is the source of truth for who is a member and in which role, so the daemon syncs
it on every start; what members chose for themselves (delivery mode, suspension, bounces) survives the
sync. Roster members dropped from the config lose their membership; self-subscribed members are left
alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from tortoise.expressions import F

from bridge.core.model import Channel, DeliveryMode, MembershipState, Recipient, Role, RosterMember
from bridge.store import audit
from bridge.store.database import Database, Dialect, Transaction
from bridge.store.lease import one_at_a_time
from bridge.store.models import Community, Identity, IdentityKind, Membership, MembershipSource, Person
from bridge.store.records import CommunityRecord, MemberRecord, PersonRecord, RosterSync, as_utc, utc_now

CONFIG_ACTOR = "config"
"""The actor of roster changes in the audit log: the convener's config file, synced at start."""

BOUNCES_REASON = "bounces"
"""The ``state_reason`` of a membership suspended by bounce handling."""


def normalise_email(address: str) -> str:
    return address.strip().lower()


def normalise_matrix_id(user_id: str) -> str:
    return user_id.strip()


class Communities:
    """Communities, rosters, people and their identities."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def sync_community(
        self,
        *,
        slug: str,
        name: str,
        list_address: str,
        room: str,
        time_zone: str = "UTC",
        roster: Sequence[RosterMember],
    ) -> RosterSync:
        """Create or update a community and its roster in one transaction; repeating it changes nothing."""
        emails = [normalise_email(m.email) for m in roster]
        if len(set(emails)) != len(emails):
            raise ValueError(f"community {slug!r}: a roster lists the same email twice")
        async with self._db.transaction() as tx:
            # Processes starting together on one PostgreSQL sync the same roster: one after another.
            await one_at_a_time(self._db, tx, f"roster {slug}")
            community = await self._upsert_community(slug, name, list_address, room, time_zone, tx)
            added = updated = 0
            kept: set[int] = set()
            for member in roster:
                person = await self._upsert_person(member, tx)
                kept.add(person.id)
                change = await self._upsert_membership(community.id, person.id, member, tx)
                added += change == "added"
                updated += change == "updated"
            leaving = (
                await Membership.filter(community_id=community.id, source=MembershipSource.ROSTER)
                .exclude(person_id__in=kept)
                .using_db(tx.client)
            )
            for gone in leaving:
                await _audit_member(tx, gone, CONFIG_ACTOR, "member.remove", gone.role.value)
            removed = await Membership.filter(id__in=[m.id for m in leaving]).using_db(tx.client).delete()
        return RosterSync(community.id, added, updated, removed)

    async def set_room_id(self, community_id: int, room_id: str) -> None:
        """Remember the room id an alias resolved to."""
        async with self._db.session() as conn:
            await Community.filter(id=community_id).using_db(conn).update(room_id=room_id)

    async def by_slug(self, slug: str) -> CommunityRecord | None:
        return await self._one(slug=slug)

    async def by_list_address(self, address: str) -> CommunityRecord | None:
        return await self._one(list_address=normalise_email(address))

    async def by_room_id(self, room_id: str) -> CommunityRecord | None:
        return await self._one(room_id=room_id)

    async def all(self) -> list[CommunityRecord]:
        async with self._db.session() as conn:
            rows = await Community.all().using_db(conn).order_by("id")
        return [_community(row) for row in rows]

    async def recipients(self, community_id: int) -> list[Recipient]:
        """Every membership of the community, whatever its state: the relay rules decide who gets what.

        One query for the whole roster (each post reads it), not one per member."""
        rows = await self._db.fetch(_numbered(_ROSTER, self._db.dialect), [community_id])
        return _recipients(rows)

    async def member_by_address(self, community_id: int, channel: Channel, address: str) -> Recipient | None:
        """``member`` of whoever owns an email address (or, on Matrix, a user id), in one query: asked
        of every message said in a room."""
        kind, normalised = _identity(channel, address)
        sql = _numbered(_MEMBER_BY_ADDRESS, self._db.dialect)
        found = _recipients(await self._db.fetch(sql, [community_id, kind.value, normalised]))
        return found[0] if found else None

    async def sender(self, channel: Channel, address: str) -> tuple[int, str] | None:
        """The person (id, display name) who owns an email address (or, on Matrix, a user id), in one
        query: who wrote a post, before its roster decides what they may do."""
        kind, normalised = _identity(channel, address)
        rows = await self._db.fetch(_numbered(_SENDER, self._db.dialect), [kind.value, normalised])
        return (int(rows[0]["id"]), str(rows[0]["display_name"])) if rows else None

    async def member(self, community_id: int, person_id: int) -> Recipient | None:
        async with self._db.session() as conn:
            membership = (
                await Membership.filter(community_id=community_id, person_id=person_id).using_db(conn).first()
            )
        if membership is None:
            return None
        return _recipient(membership, await _addresses({person_id}, self._db))

    async def person_by_email(self, address: str) -> PersonRecord | None:
        return await self._person(IdentityKind.EMAIL, normalise_email(address))

    async def person_by_matrix_id(self, user_id: str) -> PersonRecord | None:
        return await self._person(IdentityKind.MATRIX, normalise_matrix_id(user_id))

    async def subscribe(
        self,
        community_id: int,
        *,
        email: str,
        name: str,
        role: Role = Role.MEMBER,
        source: MembershipSource = MembershipSource.SELF,
        delivery: DeliveryMode = DeliveryMode.EACH,
        by: str | None = None,
    ) -> Recipient:
        """Make the owner of ``email`` a member (a reader's self-subscription, a convener's approval).

        An existing membership is returned unchanged: subscribing twice is harmless.
        """
        address = normalise_email(email)
        async with self._db.transaction() as tx:
            conn = tx.client
            identity = await Identity.filter(kind=IdentityKind.EMAIL, address=address).using_db(conn).first()
            if identity is None:
                person = await Person.create(display_name=name, using_db=conn)
                person_id = person.id
                await Identity.create(
                    person_id=person_id, kind=IdentityKind.EMAIL, address=address, using_db=conn
                )
            else:
                person_id = identity.person_id
            membership = (
                await Membership.filter(community_id=community_id, person_id=person_id).using_db(conn).first()
            )
            if membership is None:
                membership = await Membership.create(
                    community_id=community_id,
                    person_id=person_id,
                    role=role,
                    delivery=delivery,
                    source=source,
                    using_db=conn,
                )
                await _audit_member(tx, membership, by, "member.subscribe", f"{role.value}, {delivery.value}")
        return _recipient(membership, await _addresses({person_id}, self._db))

    async def set_delivery(
        self, membership_id: int, delivery: DeliveryMode, *, by: str | None = None
    ) -> bool:
        """A member's own choice (e.g. one-click unsubscribe → ``NONE``); roster syncs keep it."""
        async with self._db.transaction() as tx:
            row = await Membership.filter(id=membership_id).using_db(tx.client).first()
            if row is None:
                return False
            await Membership.filter(id=membership_id).using_db(tx.client).update(delivery=delivery)
            await _audit_member(tx, row, by, "member.delivery", f"{row.delivery.value} → {delivery.value}")
        return True

    async def set_state(
        self, membership_id: int, state: MembershipState, *, reason: str | None = None, by: str | None = None
    ) -> bool:
        """Change a membership's state; ``reason`` says why (e.g. ``"bounces"``), None clears it."""
        async with self._db.transaction() as tx:
            row = await Membership.filter(id=membership_id).using_db(tx.client).first()
            if row is None:
                return False
            await (
                Membership.filter(id=membership_id)
                .using_db(tx.client)
                .update(state=state, state_reason=reason)
            )
            detail = f"{row.state.value} → {state.value}" + (f" ({reason})" if reason else "")
            await _audit_member(tx, row, by, "member.state", detail)
        return True

    async def members(self, community_id: int) -> list[MemberRecord]:
        """Every membership of the community with its person, in the order they joined."""
        async with self._db.session() as conn:
            rows = await Membership.filter(community_id=community_id).using_db(conn).order_by("id")
            people = {p.id: p for p in await Person.filter(id__in=[m.person_id for m in rows]).using_db(conn)}
        addresses = await _addresses(people, self._db)
        return [_member(row, people[row.person_id], addresses) for row in rows]

    async def member_record(self, membership_id: int) -> MemberRecord | None:
        """One membership as :meth:`members` lists it."""
        async with self._db.session() as conn:
            row = await Membership.filter(id=membership_id).using_db(conn).first()
            person = await Person.filter(id=row.person_id).using_db(conn).first() if row is not None else None
        if row is None or person is None:
            return None
        return _member(row, person, await _addresses({person.id}, self._db))

    async def set_bounce_score(self, membership_id: int, score: float, at: datetime) -> bool:
        """Store a score the bounce handling computed (decay included) and when the bounce came."""
        async with self._db.session() as conn:
            count = (
                await Membership.filter(id=membership_id)
                .using_db(conn)
                .update(bounce_score=score, last_bounce_at=as_utc(at))
            )
        return count > 0

    async def membership(self, membership_id: int) -> Recipient | None:
        """A membership by id (unsubscribe links and reply tokens carry it)."""
        async with self._db.session() as conn:
            row = await Membership.filter(id=membership_id).using_db(conn).first()
        if row is None:
            return None
        return _recipient(row, await _addresses({row.person_id}, self._db))

    async def time_zone(self, membership_id: int) -> str | None:
        """The membership's own zone, else its person's; None: the community's applies."""
        async with self._db.session() as conn:
            row = await Membership.filter(id=membership_id).using_db(conn).first()
            if row is None:
                return None
            if row.time_zone:
                return str(row.time_zone)
            zones = await Person.filter(id=row.person_id).using_db(conn).values_list("time_zone", flat=True)
        return str(zones[0]) if zones and zones[0] else None

    async def community_of(self, membership_id: int) -> CommunityRecord | None:
        """The community a membership belongs to."""
        async with self._db.session() as conn:
            row = await Membership.filter(id=membership_id).using_db(conn).first()
            community = (
                await Community.filter(id=row.community_id).using_db(conn).first()
                if row is not None
                else None
            )
        return _community(community) if community is not None else None

    async def record_bounce(self, membership_id: int, weight: float, at: datetime) -> float | None:
        """Add ``weight`` to the membership's bounce score; returns the new score (None: unknown).

        The threshold and the decay are the bounce handling's business; the store only keeps count.
        """
        async with self._db.transaction() as tx:
            updated = (
                await Membership.filter(id=membership_id)
                .using_db(tx.client)
                .update(bounce_score=F("bounce_score") + weight, last_bounce_at=as_utc(at))
            )
            if not updated:
                return None
            scores = await Membership.filter(id=membership_id).using_db(tx.client).values_list("bounce_score")
        return float(scores[0][0])

    async def reset_bounces(self, membership_id: int, *, by: str | None = None) -> bool:
        """Score back to 0; a suspension the bounces caused (reason ``"bounces"``) is lifted too."""
        async with self._db.transaction() as tx:
            row = await Membership.filter(id=membership_id).using_db(tx.client).first()
            if row is not None:
                await _audit_member(tx, row, by, "member.reset-bounces", f"score {row.bounce_score:g} → 0")
            count = await Membership.filter(id=membership_id).using_db(tx.client).update(bounce_score=0.0)
            await (
                Membership.filter(
                    id=membership_id, state=MembershipState.SUSPENDED, state_reason=BOUNCES_REASON
                )
                .using_db(tx.client)
                .update(state=MembershipState.ACTIVE, state_reason=None)
            )
        return count > 0

    async def bounce_suspensions(self) -> dict[str, int]:
        """Community slug → memberships suspended now because of bounces (every community present)."""
        async with self._db.session() as conn:
            slugs = await Community.all().using_db(conn).values_list("id", "slug")
            suspended = await (
                Membership.filter(state=MembershipState.SUSPENDED, state_reason=BOUNCES_REASON)
                .using_db(conn)
                .values_list("community_id", flat=True)
            )
        counts = dict.fromkeys((slug for _, slug in slugs), 0)
        by_id = dict(slugs)
        for community_id in suspended:
            counts[by_id[community_id]] += 1
        return counts

    async def _one(self, **criteria: str) -> CommunityRecord | None:
        async with self._db.session() as conn:
            row = await Community.filter(**criteria).using_db(conn).first()
        return _community(row) if row is not None else None

    async def _person(self, kind: IdentityKind, address: str) -> PersonRecord | None:
        async with self._db.session() as conn:
            identity = await Identity.filter(kind=kind, address=address).using_db(conn).first()
            if identity is None:
                return None
            person = await Person.filter(id=identity.person_id).using_db(conn).get()
            identities = await Identity.filter(person_id=person.id).using_db(conn).order_by("id")
        return PersonRecord(
            id=person.id,
            display_name=person.display_name,
            time_zone=person.time_zone,
            emails=tuple(i.address for i in identities if i.kind == IdentityKind.EMAIL),
            matrix_ids=tuple(i.address for i in identities if i.kind == IdentityKind.MATRIX),
        )

    async def _upsert_community(
        self, slug: str, name: str, list_address: str, room: str, time_zone: str, tx: Transaction
    ) -> Community:
        values = {
            "name": name,
            "list_address": normalise_email(list_address),
            "room": room,
            "time_zone": time_zone,
        }
        community = await Community.filter(slug=slug).using_db(tx.client).first()
        if community is None:
            room_id = room if room.startswith("!") else None
            return await Community.create(slug=slug, room_id=room_id, using_db=tx.client, **values)
        changed: dict[str, str | None] = {k: v for k, v in values.items() if getattr(community, k) != v}
        if "room" in changed:
            # A new alias may point elsewhere: forget the old resolution.
            changed["room_id"] = room if room.startswith("!") else None
        if changed:
            community.update_from_dict(changed)
            await community.save(using_db=tx.client, update_fields=list(changed))
        return community

    async def _upsert_person(self, member: RosterMember, tx: Transaction) -> Person:
        conn = tx.client
        email = normalise_email(member.email)
        identity = await Identity.filter(kind=IdentityKind.EMAIL, address=email).using_db(conn).first()
        if identity is None:
            person = await Person.create(display_name=member.name, time_zone=member.time_zone, using_db=conn)
            await Identity.create(person_id=person.id, kind=IdentityKind.EMAIL, address=email, using_db=conn)
        else:
            person = await Person.filter(id=identity.person_id).using_db(conn).get()
            if (person.display_name, person.time_zone) != (member.name, member.time_zone):
                person.display_name, person.time_zone = member.name, member.time_zone
                await person.save(using_db=conn, update_fields=["display_name", "time_zone"])
        if member.matrix:
            mxid = normalise_matrix_id(member.matrix)
            known = await Identity.filter(kind=IdentityKind.MATRIX, address=mxid).using_db(conn).first()
            if known is None:
                await Identity.create(
                    person_id=person.id, kind=IdentityKind.MATRIX, address=mxid, using_db=conn
                )
            elif known.person_id != person.id:
                # The roster says whose account this is; an earlier guess (self-service) yields.
                await Identity.filter(id=known.id).using_db(conn).update(person_id=person.id)
        return person

    async def _upsert_membership(
        self, community_id: int, person_id: int, member: RosterMember, tx: Transaction
    ) -> str:
        conn = tx.client
        membership = (
            await Membership.filter(community_id=community_id, person_id=person_id).using_db(conn).first()
        )
        if membership is None:
            created = await Membership.create(
                community_id=community_id,
                person_id=person_id,
                role=member.role,
                delivery=member.delivery,
                digest_frequency=member.digest_frequency,
                source=MembershipSource.ROSTER,
                using_db=conn,
            )
            await _audit_member(tx, created, CONFIG_ACTOR, "member.add", member.role.value)
            return "added"
        if (membership.role, membership.source) == (member.role, MembershipSource.ROSTER):
            return "unchanged"
        before = membership.role
        membership.role, membership.source = member.role, MembershipSource.ROSTER
        await membership.save(using_db=conn, update_fields=["role", "source", "updated_at"])
        await _audit_member(
            tx, membership, CONFIG_ACTOR, "member.role", f"{before.value} → {member.role.value}"
        )
        return "updated"


async def _audit_member(
    tx: Transaction, membership: Membership, by: str | None, action: str, detail: str = ""
) -> None:
    """One event of the audit log about a membership, named by its address, in ``tx``."""
    identities = await Identity.filter(person_id=membership.person_id).using_db(tx.client).order_by("id")
    email = next((i.address for i in identities if i.kind == IdentityKind.EMAIL), None)
    name = email or next((i.address for i in identities), None) or f"#{membership.id}"
    await audit.record(tx, membership.community_id, by, action, f"member {name}", detail, now=utc_now())


_ROSTER = """
SELECT "m"."id", "m"."person_id", "m"."role", "m"."state", "m"."delivery", "m"."receive_own_posts",
       "i"."kind", "i"."address"
FROM "membership" "m" LEFT JOIN "identity" "i" ON "i"."person_id" = "m"."person_id"
WHERE "m"."community_id" = $1
ORDER BY "m"."id", "i"."id"
"""
_SENDER = """
SELECT "p"."id", "p"."display_name"
FROM "identity" "i" JOIN "person" "p" ON "p"."id" = "i"."person_id"
WHERE "i"."kind" = $1 AND "i"."address" = $2
ORDER BY "i"."id"
LIMIT 1
"""


_MEMBER_BY_ADDRESS = """
SELECT "m"."id", "m"."person_id", "m"."role", "m"."state", "m"."delivery", "m"."receive_own_posts",
       "i"."kind", "i"."address"
FROM "identity" "owner"
JOIN "membership" "m" ON "m"."person_id" = "owner"."person_id" AND "m"."community_id" = $1
LEFT JOIN "identity" "i" ON "i"."person_id" = "m"."person_id"
WHERE "owner"."kind" = $2 AND "owner"."address" = $3
ORDER BY "m"."id", "i"."id"
"""


def _identity(channel: Channel, address: str) -> tuple[IdentityKind, str]:
    """The identity an address of ``channel`` is stored as."""
    if channel is Channel.EMAIL:
        return IdentityKind.EMAIL, normalise_email(address)
    return IdentityKind.MATRIX, normalise_matrix_id(address)


def _recipients(rows: Iterable[dict[str, Any]]) -> list[Recipient]:
    """Memberships from rows of a membership joined with its person's identities, oldest first."""
    found: dict[int, Recipient] = {}
    for row in rows:
        membership_id = int(row["id"])
        recipient = found.get(membership_id)
        if recipient is None:
            recipient = found[membership_id] = Recipient(
                membership_id=membership_id,
                person_id=int(row["person_id"]),
                email=None,
                matrix_id=None,
                role=Role(row["role"]),
                state=MembershipState(row["state"]),
                delivery=DeliveryMode(row["delivery"]),
                receive_own_posts=bool(row["receive_own_posts"]),
            )
        # Each person's first email and first Matrix id (the oldest identity of each kind).
        if row["kind"] == IdentityKind.EMAIL and recipient.email is None:
            found[membership_id] = replace(recipient, email=row["address"])
        elif row["kind"] == IdentityKind.MATRIX and recipient.matrix_id is None:
            found[membership_id] = replace(recipient, matrix_id=row["address"])
    return list(found.values())


def _numbered(sql: str, dialect: Dialect) -> str:
    """``$1`` placeholders as the engine takes them (SQLite: ``?1``)."""
    return sql.replace("$", "?") if dialect is Dialect.SQLITE else sql


async def _addresses(person_ids: Iterable[int], db: Database) -> dict[int, tuple[str | None, str | None]]:
    """Each person's first email and first Matrix id (the oldest identity of each kind)."""
    found: dict[int, tuple[str | None, str | None]] = {}
    async with db.session() as conn:
        identities = await Identity.filter(person_id__in=list(person_ids)).using_db(conn).order_by("id")
    for identity in identities:
        email, matrix = found.get(identity.person_id, (None, None))
        if identity.kind == IdentityKind.EMAIL and email is None:
            email = identity.address
        elif identity.kind == IdentityKind.MATRIX and matrix is None:
            matrix = identity.address
        found[identity.person_id] = (email, matrix)
    return found


def _recipient(m: Membership, addresses: dict[int, tuple[str | None, str | None]]) -> Recipient:
    email, matrix = addresses.get(m.person_id, (None, None))
    return Recipient(
        membership_id=m.id,
        person_id=m.person_id,
        email=email,
        matrix_id=matrix,
        role=m.role,
        state=m.state,
        delivery=m.delivery,
        receive_own_posts=m.receive_own_posts,
    )


def _member(
    m: Membership, person: Person, addresses: dict[int, tuple[str | None, str | None]]
) -> MemberRecord:
    email, matrix = addresses.get(m.person_id, (None, None))
    return MemberRecord(
        membership_id=m.id,
        person_id=m.person_id,
        name=person.display_name,
        email=email,
        matrix_id=matrix,
        role=m.role,
        state=m.state,
        state_reason=m.state_reason,
        delivery=m.delivery,
        digest_frequency=m.digest_frequency,
        source=m.source.value,
        bounce_score=float(m.bounce_score),
        last_bounce_at=as_utc(m.last_bounce_at) if m.last_bounce_at is not None else None,
    )


def _community(row: Community) -> CommunityRecord:
    return CommunityRecord(
        id=row.id,
        slug=row.slug,
        name=row.name,
        list_address=row.list_address,
        room=row.room,
        room_id=row.room_id,
        time_zone=row.time_zone,
    )
