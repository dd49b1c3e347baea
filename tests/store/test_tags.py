"""Tags and practices on both engines: filed in the post's transaction or not at all, a person's filing
outranks a text's, edits and untags take back what they should, usage counts, the catalogue query."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.core.model import PostState, PracticeState, TagSource
from bridge.core.tags.taxonomy import TagDefinition
from bridge.store import CommunityRecord, IngestResult, NewTag, NewThread, Store
from tests.store.conftest import T0, email_message, matrix_message


class Boom(Exception):
    pass


async def _post(
    store: Store,
    community: CommunityRecord,
    key: str,
    tags: list[NewTag],
    *,
    thread: int | None = None,
    author: str = "Ana Souza",
    at: int = 0,
    fail: bool = False,
) -> IngestResult:
    """A post and its tags in one transaction, as ingest files them."""
    message = matrix_message(key, sender_name=author, sender_address=f"@{author.split()[0].lower()}:x")
    async with store.db.transaction() as tx:
        result = await store.posts.ingest(
            message,
            community_id=community.id,
            thread=thread if thread is not None else NewThread("Sizing work", "sizing work"),
            author_id=None,
            now=T0 + timedelta(hours=at),
            tx=tx,
        )
        await store.tags.file_post(
            community.id, result.thread_id, result.post_id, tags, now=T0 + timedelta(hours=at), tx=tx
        )
        if fail:
            raise Boom
    return result


def hashtag(name: str, by: str = "@ana:x") -> NewTag:
    return NewTag(name, TagSource.HASHTAG, label=name.title(), applied_by=by)


def command(name: str) -> NewTag:
    return NewTag(name, TagSource.COMMAND, applied_by="@kenji:x")


async def test_tags_are_stored_with_their_post_or_not_at_all(
    store: Store, community: CommunityRecord
) -> None:
    with pytest.raises(Boom):
        await _post(store, community, "$lost", [hashtag("estimation")], fail=True)
    assert await store.tags.usage(community.id) == []
    first = await _post(store, community, "$p1", [hashtag("estimation"), hashtag("kanban")])
    [on_post, _] = await store.tags.of_post(first.post_id)
    assert (on_post.name, on_post.label, on_post.source, on_post.applied_by, on_post.applied_at) == (
        "estimation",
        "Estimation",
        TagSource.HASHTAG,
        "@ana:x",
        T0,
    )
    assert [t.name for t in await store.tags.of_thread(first.thread_id)] == ["estimation", "kanban"]


async def test_a_persons_filing_outranks_a_texts_and_survives_its_removal(
    store: Store, community: CommunityRecord
) -> None:
    """Kenji files what a hashtag had filed: the thread keeps his filing; the edit that drops the
    hashtag takes back only the post's own filing, and a hashtag-only tag leaves with its last post."""
    first = await _post(store, community, "$p1", [hashtag("estimation"), hashtag("kanban")])
    second = await _post(store, community, "$p2", [hashtag("kanban")], thread=first.thread_id, at=1)
    added = await store.tags.tag_thread(
        community.id, first.thread_id, [command("estimation"), command("risk")], now=T0
    )
    assert added == ["risk"]
    by_name = {t.name: t for t in await store.tags.of_thread(first.thread_id)}
    assert (by_name["estimation"].source, by_name["estimation"].applied_by) == (TagSource.COMMAND, "@kenji:x")

    gone = await store.tags.unfile_post(first.thread_id, first.post_id, ["estimation", "kanban"])
    assert gone == []  # estimation: Kenji's; kanban: the second post still files it
    assert [t.name for t in await store.tags.of_post(first.post_id)] == []
    assert await store.tags.unfile_post(first.thread_id, second.post_id, ["kanban"]) == ["kanban"]
    assert sorted(t.name for t in await store.tags.of_thread(first.thread_id)) == ["estimation", "risk"]


async def test_untag_takes_the_thread_and_its_posts_out(store: Store, community: CommunityRecord) -> None:
    first = await _post(store, community, "$p1", [hashtag("estimation")])
    await store.tags.tag_thread(community.id, first.thread_id, [command("risk")], now=T0)
    assert await store.tags.untag_thread(first.thread_id, ["estimation", "risk", "never"]) == [
        "estimation",
        "risk",
    ]
    assert await store.tags.of_thread(first.thread_id) == []
    assert await store.tags.of_post(first.post_id) == []
    assert await store.tags.untag_thread(first.thread_id, ["estimation"]) == []


async def test_filing_twice_changes_nothing(store: Store, community: CommunityRecord) -> None:
    first = await _post(store, community, "$p1", [hashtag("estimation")])
    again = await store.tags.file_post(
        community.id, first.thread_id, first.post_id, [hashtag("estimation", by="@other:x")], now=T0
    )
    assert again == []
    [tag] = await store.tags.of_post(first.post_id)
    assert tag.applied_by == "@ana:x"


async def test_taxonomy_sync_and_usage_counts(store: Store, community: CommunityRecord) -> None:
    definitions = [
        TagDefinition("estimation", "Estimation", "Sizing work"),
        TagDefinition("risk", "Risk management"),
    ]
    assert await store.tags.sync_taxonomy(community.id, definitions) == 2  # created
    assert await store.tags.sync_taxonomy(community.id, definitions) == 0
    renamed = [TagDefinition("estimation", "Estimating", "Sizing work"), definitions[1]]
    assert await store.tags.sync_taxonomy(community.id, renamed) == 1
    one = await _post(store, community, "$p1", [hashtag("estimation"), hashtag("kanban")])
    two = await _post(store, community, "$p2", [hashtag("estimation")])
    await store.practices.confirm(community.id, two.thread_id, "Reference classes", "@kenji:x", now=T0)
    assert one.thread_id != two.thread_id
    usage = {
        u.name: (u.label, u.description, u.threads, u.practices) for u in await store.tags.usage(community.id)
    }
    assert usage == {
        "estimation": ("Estimating", "Sizing work", 2, 1),
        "kanban": ("Kanban", "", 1, 0),
        "risk": ("Risk management", "", 0, 0),
    }
    assert [u.name for u in await store.tags.usage(community.id)] == ["estimation", "kanban", "risk"]


async def test_a_practice_is_proposed_once_confirmed_renamed_summarised_and_withdrawn(
    store: Store, community: CommunityRecord
) -> None:
    post = await _post(store, community, "$p1", [])
    thread = post.thread_id
    assert await store.practices.propose(community.id, thread, "Sizing work", "@bo:x", now=T0)
    assert not await store.practices.propose(community.id, thread, "Again", "@cy:x", now=T0)
    assert not await store.practices.withdraw(thread, proposed_by="@cy:x")  # not their proposal
    practice, new = await store.practices.confirm(community.id, thread, "Planning poker", "@kenji:x", now=T0)
    assert new
    assert (practice.state, practice.title, practice.proposed_by, practice.confirmed_by) == (
        PracticeState.CONFIRMED,
        "Planning poker",
        "@bo:x",
        "@kenji:x",
    )
    later = T0 + timedelta(days=1)
    renamed, new = await store.practices.confirm(
        community.id, thread, "Planning poker, remote", "@ana:x", now=later
    )
    assert not new
    assert (renamed.title, renamed.confirmed_by, renamed.confirmed_at, renamed.updated_at) == (
        "Planning poker, remote",
        "@kenji:x",
        T0,
        later,
    )
    summarised = await store.practices.set_summary(thread, "Everyone estimates at once.", now=later)
    assert summarised is not None
    assert summarised.summary == "Everyone estimates at once."
    assert await store.practices.set_summary(thread + 1000, "x", now=later) is None
    assert not await store.practices.withdraw(thread, proposed_by="@bo:x")  # confirmed: stays
    assert await store.practices.withdraw(thread)
    assert await store.practices.of_thread(thread) is None


async def test_the_catalogue_lists_confirmed_practices_with_contributors_dates_and_tags(
    store: Store, community: CommunityRecord
) -> None:
    root = await _post(store, community, "$p1", [hashtag("estimation")], author="Ana Souza")
    await _post(store, community, "$p2", [], thread=root.thread_id, author="Bo Lind", at=2)
    await _post(store, community, "$p3", [], thread=root.thread_id, author="Ana Souza", at=3)
    held = await _post(store, community, "$p4", [], thread=root.thread_id, author="Cy Held", at=4)
    await store.posts.set_state(held.post_id, PostState.HELD)
    proposed = await _post(store, community, "$other", [])
    await store.practices.propose(community.id, proposed.thread_id, "Only proposed", "@bo:x", now=T0)
    await store.practices.confirm(community.id, root.thread_id, "planning poker", "@kenji:x", now=T0)
    await store.tags.tag_thread(community.id, root.thread_id, [command("risk")], now=T0)
    mail = await store.posts.ingest(
        email_message("m1@x", "mail"), community_id=community.id, thread=NewThread("A", "a"), author_id=None
    )
    await store.practices.confirm(community.id, mail.thread_id, "Async stand-ups", "@ana:x", now=T0)

    first, second = await store.practices.catalogue(community.id)
    assert (first.practice.title, second.practice.title) == ("Async stand-ups", "planning poker")
    assert (second.subject, second.contributors, second.posts) == ("Sizing work", ("Ana Souza", "Bo Lind"), 3)
    assert (second.first_at, second.last_at) == (T0, T0 + timedelta(hours=3))
    assert [t.name for t in second.tags] == ["estimation", "risk"]
    assert first.contributors == ("Ana Souza",)
