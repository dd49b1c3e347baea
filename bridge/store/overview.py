"""What a community's about page says of its people: who convenes it, who is on its core team, how many
take part. Two bounded queries, whatever the number of readers: a public about page is cheap to serve."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.functions import Count

from bridge.core.model import MembershipState, Role
from bridge.store.database import Database
from bridge.store.models import Membership, Person

TEAM = (Role.CONVENER, Role.CORE)


@dataclass(frozen=True, slots=True)
class TeamMember:
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class CommunityOverview:
    team: tuple[TeamMember, ...]  # conveners first, then the core team, each in the order they joined
    members: int  # active memberships that take part in the conversation (every role but reader)
    readers: int  # active readers (digests only)


class Overviews:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def of(self, community_id: int) -> CommunityOverview:
        async with self._db.session() as conn:
            active = Membership.filter(community_id=community_id, state=MembershipState.ACTIVE)
            team = (
                await active.filter(role__in=TEAM)
                .using_db(conn)
                .order_by("id")
                .values_list("person_id", "role")
            )
            counts = dict(
                await active.using_db(conn).annotate(n=Count("id")).group_by("role").values_list("role", "n")
            )
            names = dict(
                await Person.filter(id__in=[person for person, _ in team])
                .using_db(conn)
                .values_list("id", "display_name")
            )
        people = [TeamMember(str(names.get(person, "")), Role(role)) for person, role in team]
        people.sort(key=lambda member: TEAM.index(member.role))
        return CommunityOverview(
            team=tuple(people),
            members=sum(int(n) for role, n in counts.items() if Role(role) is not Role.READER),
            readers=int(counts.get(Role.READER, 0)),
        )
