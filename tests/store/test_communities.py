"""Communities and rosters: the config's roster synced idempotently, members' own choices kept."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bridge.core.model import Channel, DeliveryMode, MembershipState, Role, RosterMember
from bridge.store import CommunityRecord, Database, RosterSync, Store, upgrade
from tests.store.conftest import ROSTER, T0


async def _sync(store: Store, roster: Sequence[RosterMember], room: str = "#pm:example.com") -> RosterSync:
    return await store.communities.sync_community(
        slug="pm",
        name="PM",
        list_address="PM@Lists.Example.com",
        room=room,
        roster=roster,
    )


async def test_roster_sync_is_idempotent(store: Store) -> None:
    first = await _sync(store, ROSTER)
    again = await _sync(store, ROSTER)
    assert (first.added, first.updated, first.removed) == (3, 0, 0)
    assert again == RosterSync(first.community_id, 0, 0, 0)
    recipients = await store.communities.recipients(first.community_id)
    assert [(r.email, r.matrix_id, r.role) for r in recipients] == [
        ("ana@example.org", "@ana:example.com", Role.CONVENER),
        ("bo@example.org", None, Role.MEMBER),
        ("cy@example.org", None, Role.READER),
    ]
    assert {r.state for r in recipients} == {MembershipState.ACTIVE}


async def test_roster_changes_update_and_remove_but_keep_self_subscribers(store: Store) -> None:
    synced = await _sync(store, ROSTER)
    walk_in = await store.communities.subscribe(synced.community_id, email="Dee@Example.org", name="Dee")
    changed = [
        RosterMember("Ana Souza-Lee", "ana@example.org", Role.CORE, "@ana:example.com", "Europe/Lisbon"),
        ROSTER[1],
    ]
    result = await _sync(store, changed)
    assert (result.added, result.updated, result.removed) == (0, 1, 1)
    recipients = await store.communities.recipients(synced.community_id)
    assert [(r.email, r.role) for r in recipients] == [
        ("ana@example.org", Role.CORE),
        ("bo@example.org", Role.MEMBER),
        ("dee@example.org", Role.MEMBER),
    ]
    assert recipients[2].membership_id == walk_in.membership_id
    ana = await store.communities.person_by_email("ANA@example.org")
    assert ana is not None
    assert (ana.display_name, ana.time_zone) == ("Ana Souza-Lee", "Europe/Lisbon")


async def test_a_members_own_delivery_choice_survives_the_next_sync(store: Store) -> None:
    synced = await _sync(store, ROSTER)
    bo = next(
        r for r in await store.communities.recipients(synced.community_id) if r.email == "bo@example.org"
    )
    assert await store.communities.set_delivery(bo.membership_id, DeliveryMode.NONE)
    await _sync(store, ROSTER)
    after = await store.communities.member(synced.community_id, bo.person_id)
    assert after is not None
    assert after.delivery is DeliveryMode.NONE


async def test_community_lookups(store: Store, community: CommunityRecord) -> None:
    assert community.list_address == "pm-practice@lists.example.com"
    assert community.room_id is None
    assert await store.communities.by_list_address("PM-Practice@lists.example.com") == community
    assert await store.communities.by_room_id("!abc:example.com") is None
    await store.communities.set_room_id(community.id, "!abc:example.com")
    resolved = await store.communities.by_room_id("!abc:example.com")
    assert resolved is not None
    assert resolved.id == community.id
    assert await store.communities.by_slug("nope") is None
    assert [c.slug for c in await store.communities.all()] == ["pm-practice"]


async def test_a_room_id_in_config_is_already_resolved_and_a_new_alias_forgets_it(store: Store) -> None:
    synced = await _sync(store, ROSTER, room="!room:example.com")
    assert (await store.communities.by_room_id("!room:example.com")) is not None
    await _sync(store, ROSTER, room="#renamed:example.com")
    community = await store.communities.by_slug("pm")
    assert community is not None
    assert (community.id, community.room, community.room_id) == (
        synced.community_id,
        "#renamed:example.com",
        None,
    )


async def test_people_are_found_by_either_identity(store: Store, community: CommunityRecord) -> None:
    by_email = await store.communities.person_by_email("ana@example.org")
    by_matrix = await store.communities.person_by_matrix_id("@ana:example.com")
    assert by_email is not None
    assert by_email == by_matrix
    assert by_email.emails == ("ana@example.org",)
    assert by_email.matrix_ids == ("@ana:example.com",)
    assert await store.communities.person_by_email("nobody@example.org") is None


async def test_the_sender_of_a_post_is_found_by_either_identity_in_one_query(
    store: Store, community: CommunityRecord
) -> None:
    ana = await store.communities.person_by_email("ana@example.org")
    assert ana is not None
    expected = (ana.id, ana.display_name)
    assert await store.communities.sender(Channel.EMAIL, "Ana@Example.org") == expected
    assert await store.communities.sender(Channel.MATRIX, "@ana:example.com") == expected
    assert await store.communities.sender(Channel.EMAIL, "@ana:example.com") is None
    assert await store.communities.sender(Channel.MATRIX, "nobody@example.org") is None


async def test_a_membership_is_found_by_either_identity_of_its_person(
    store: Store, community: CommunityRecord
) -> None:
    ana = await store.communities.person_by_email("ana@example.org")
    assert ana is not None
    expected = await store.communities.member(community.id, ana.id)
    assert expected is not None
    found = store.communities.member_by_address
    assert await found(community.id, Channel.EMAIL, "ANA@example.org") == expected
    assert await found(community.id, Channel.MATRIX, "@ana:example.com") == expected
    assert await found(community.id, Channel.EMAIL, "nobody@example.org") is None
    assert await found(community.id + 1, Channel.EMAIL, "ana@example.org") is None


async def test_one_person_across_communities(store: Store, community: CommunityRecord) -> None:
    other = await store.communities.sync_community(
        slug="other",
        name="Other",
        list_address="other@lists.example.com",
        room="#other:example.com",
        roster=[RosterMember("Ana Souza", "ana@example.org", Role.MEMBER)],
    )
    here = await store.communities.recipients(community.id)
    there = await store.communities.recipients(other.community_id)
    assert there[0].person_id == here[0].person_id
    assert (here[0].role, there[0].role) == (Role.CONVENER, Role.MEMBER)


async def test_subscribing_twice_is_harmless(store: Store, community: CommunityRecord) -> None:
    first = await store.communities.subscribe(community.id, email="dee@example.org", name="Dee")
    second = await store.communities.subscribe(community.id, email="DEE@example.org", name="Dee")
    assert first == second
    assert len(await store.communities.recipients(community.id)) == len(ROSTER) + 1


async def test_a_roster_listing_one_email_twice_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="same email twice"):
        await _sync(store, [ROSTER[0], RosterMember("Ana again", "ANA@example.org")])


async def test_bounces_are_counted_per_membership(store: Store, community: CommunityRecord) -> None:
    [_, bo, _] = await store.communities.recipients(community.id)
    assert await store.communities.record_bounce(bo.membership_id, 1.0, T0) == 1.0
    assert await store.communities.record_bounce(bo.membership_id, 0.5, T0) == 1.5
    assert await store.communities.record_bounce(999_999, 1.0, T0) is None
    assert await store.communities.set_state(bo.membership_id, MembershipState.SUSPENDED)
    found = await store.communities.membership(bo.membership_id)
    assert found is not None
    assert (found.email, found.state) == ("bo@example.org", MembershipState.SUSPENDED)
    assert await store.communities.reset_bounces(bo.membership_id)
    assert await store.communities.record_bounce(bo.membership_id, 1.0, T0) == 1.0
    assert await store.communities.membership(999_999) is None


async def test_bounce_suspensions_per_community(store: Store, community: CommunityRecord) -> None:
    assert await store.communities.bounce_suspensions() == {"pm-practice": 0}
    [ana, bo, *_] = await store.communities.members(community.id)
    await store.communities.set_state(bo.membership_id, MembershipState.SUSPENDED, reason="bounces")
    await store.communities.set_state(ana.membership_id, MembershipState.SUSPENDED, reason="convener")
    assert await store.communities.bounce_suspensions() == {"pm-practice": 1}


@pytest.mark.postgres
async def test_processes_starting_together_sync_one_roster_without_conflict(
    postgres_database_url: str,
) -> None:
    """Three ``icop run`` starting at once on a fresh PostgreSQL each sync the same roster: all succeed
    (SQLite serves one process)."""
    databases = [Database(postgres_database_url) for _ in range(3)]
    for database in databases:
        await database.open()
    try:
        await upgrade(databases[0])
        syncs = await asyncio.gather(
            *(
                Store(database).communities.sync_community(
                    slug="pm", name="PM", list_address="pm@lists.example.com", room="#pm:x", roster=ROSTER
                )
                for database in databases
            )
        )
    finally:
        for database in databases:
            await database.close()
    assert sorted(sync.added for sync in syncs) == [0, 0, len(ROSTER)]
    assert len({sync.community_id for sync in syncs}) == 1
