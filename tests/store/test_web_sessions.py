"""Sessions and sign-in links on both backends: a link works once and only within its hour, a
session ends at sign-out or expiry, and links are counted per person for the hourly limit."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.model import Channel
from bridge.store import CommunityRecord, Store
from tests.store.conftest import T0


async def test_a_link_signs_in_once_and_not_after_it_expires(
    store: Store, community: CommunityRecord
) -> None:
    ana = await store.communities.person_by_email("ana@example.org")
    assert ana is not None
    hour = timedelta(hours=1)
    await store.web_sessions.issue_link("a" * 64, ana.id, Channel.EMAIL, T0, T0 + hour)
    await store.web_sessions.issue_link("b" * 64, ana.id, Channel.MATRIX, T0, T0 + hour)
    assert await store.web_sessions.links_since(ana.id, T0 - hour) == 2
    assert await store.web_sessions.links_since(ana.id, T0 + timedelta(seconds=1)) == 0
    assert await store.web_sessions.link_usable("a" * 64, T0 + timedelta(minutes=5))
    assert await store.web_sessions.consume_link("a" * 64, T0 + timedelta(minutes=5)) == ana.id
    assert not await store.web_sessions.link_usable("a" * 64, T0 + timedelta(minutes=5))
    assert await store.web_sessions.consume_link("a" * 64, T0 + timedelta(minutes=6)) is None  # used
    assert await store.web_sessions.consume_link("b" * 64, T0 + hour) is None  # expired
    assert await store.web_sessions.consume_link("c" * 64, T0) is None  # unknown


async def test_a_session_ends_at_sign_out_and_at_expiry(store: Store, community: CommunityRecord) -> None:
    ana = await store.communities.person_by_email("ana@example.org")
    assert ana is not None
    await store.web_sessions.open("s" * 64, ana.id, T0, T0 + timedelta(days=30))
    await store.web_sessions.open("t" * 64, ana.id, T0, T0 + timedelta(days=1))
    assert await store.web_sessions.person_of("s" * 64, T0 + timedelta(days=2)) == ana.id
    assert await store.web_sessions.person_of("t" * 64, T0 + timedelta(days=2)) is None
    assert await store.web_sessions.close("s" * 64)
    assert await store.web_sessions.person_of("s" * 64, T0) is None
    await store.web_sessions.issue_link("a" * 64, ana.id, Channel.EMAIL, T0, T0 + timedelta(hours=1))
    purged = await store.web_sessions.purge(T0 + timedelta(days=2), keep_links_since=T0 + timedelta(hours=2))
    assert purged == 2  # the expired session and the old link
