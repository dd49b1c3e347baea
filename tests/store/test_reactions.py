"""Reactions count once per event and come back off when redacted."""

from __future__ import annotations

from bridge.store import CommunityRecord, NewThread, Store
from tests.store.conftest import T0, matrix_message


async def test_reactions_count_once_and_can_be_taken_back(store: Store, community: CommunityRecord) -> None:
    post = await store.posts.ingest(
        matrix_message("$post"),
        community_id=community.id,
        thread=NewThread("chat", "chat"),
        author_id=None,
        now=T0,
    )
    add = store.reactions.add
    assert await add(community.id, "$post", "$r1", "👍", "@bo:example.com")
    assert not await add(community.id, "$post", "$r1", "👍", "@bo:example.com")  # replayed
    assert not await add(community.id, "$post", "$r2", "👍", "@bo:example.com")  # same key again
    assert await add(community.id, "$post", "$r3", "👍", "@cy:example.com")
    assert await add(community.id, "$post", "$r4", "🎉", "@bo:example.com")
    assert not await add(community.id, "$unknown", "$r5", "👍", "@bo:example.com")
    assert await store.reactions.by_key(post.post_id) == {"👍": 2, "🎉": 1}
    stored = await store.posts.get(post.post_id)
    assert stored is not None
    assert stored.reaction_count == 3

    assert await store.reactions.remove("$r3")
    assert not await store.reactions.remove("$r3")
    stored = await store.posts.get(post.post_id)
    assert stored is not None
    assert stored.reaction_count == 2
