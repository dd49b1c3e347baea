"""Value stories on both stores: ``#story`` in a mail is relayed and kept with the practice it cites,
``!icop story`` in a thread becomes a post for the list, edits retell or withdraw, a held story is kept
on approval, and the stories feed the catalogue, the practice counts and the indicators."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.core.indicators import compute
from bridge.core.message_ids import post_message_id
from bridge.core.model import Channel, DeliveryKind, PostState
from bridge.matrix.events import MatrixEdit, MatrixRedaction
from bridge.relay.community import CommunityContext
from bridge.relay.from_matrix import MatrixInbound
from bridge.relay.ingest import Ingestor, IngestStatus
from bridge.relay.moderation import JoinHints, Moderation
from bridge.relay.room_commands import RoomCommands
from bridge.relay.room_commands.families import every_family
from bridge.store import Database, Store
from bridge.store.community_facts import CommunityFactsRepository
from tests.relay.test_ingest import KEY, NOW, ROOM, chat, community, mail
from tests.relay.test_moderation import Room

URL = "https://icop.example.com/c/pm-practice/t/"


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


async def practice_thread(store: Store) -> tuple[CommunityContext, Ingestor, int]:
    """pm-practice with a confirmed practice, "Planning poker", started by Kenji in the room."""
    ctx = await community(store)
    moderation = Moderation(store, clock=lambda: NOW)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, gate=moderation)
    root = await ingestor.ingest(ctx, chat("$root", "@kenji:localhost", "We estimate with planning poker."))
    assert root.thread_id is not None
    await store.practices.confirm(ctx.id, root.thread_id, "Planning poker", "@kenji:localhost", now=NOW)
    return ctx, ingestor, root.thread_id


def commands(store: Store, ingestor: Ingestor, room: Room) -> RoomCommands:
    moderation = Moderation(store, clock=lambda: NOW)
    families = every_family(moderation, "https://icop.example.com", ingestor.clock, ingest=ingestor.ingest)
    return RoomCommands(store, room.send, families, hints=JoinHints(moderation))


async def test_a_story_by_mail_is_relayed_and_kept_with_the_practice(store: Store) -> None:
    """Siobhán's reply by mail carries #story: it reaches the room and the list like any post, #story
    files no tag, and the story is kept with the practice in her words without the marker."""
    ctx, ingestor, thread = await practice_thread(store)
    [root] = await store.posts.thread_posts(thread)
    outcome = await ingestor.ingest(
        ctx,
        mail(
            "story@x",
            "siobhan@example.ie",
            "We tried planning poker on our migration: estimates  were off by 10% instead of 50%. #story",
            subject="Re: planning poker",
            in_reply_to=post_message_id(root.id, ctx.domain),
        ),
    )
    assert outcome.status is IngestStatus.STORED
    assert outcome.post_id is not None
    rows = await store.outbox.for_post(outcome.post_id)
    assert {(r.channel, r.kind) for r in rows} == {(Channel.MATRIX, DeliveryKind.POST)} | {
        (Channel.EMAIL, DeliveryKind.POST)
    }
    assert await store.tags.of_post(outcome.post_id) == []
    [story] = await store.stories.in_community(ctx.id)
    assert outcome.thread_id == thread
    assert (story.post_id, story.author_name, story.channel, story.thread_id, story.practice) == (
        outcome.post_id,
        "Siobhán Murphy",
        Channel.EMAIL,
        thread,
        "Planning poker",
    )
    assert story.text == "We tried planning poker on our migration: estimates were off by 10% instead of 50%."


async def test_a_story_linking_to_a_practice_cites_it_and_counts_for_it(store: Store) -> None:
    ctx, ingestor, thread = await practice_thread(store)
    linked = await ingestor.ingest(
        ctx,
        mail(
            "linked@x",
            "siobhan@example.ie",
            f"Planning poker ({URL}{thread}) saved our quarter. #story",
            subject="A thank-you",
        ),
    )
    elsewhere = await ingestor.ingest(
        ctx,
        mail("other@x", "siobhan@example.ie", f"See {URL}999999 #story", subject="A broken link"),
    )
    by_post = {s.post_id: s for s in await store.stories.in_community(ctx.id)}
    assert by_post[linked.post_id or 0].thread_id == thread
    assert by_post[linked.post_id or 0].practice == "Planning poker"
    assert by_post[elsewhere.post_id or 0].thread_id == elsewhere.thread_id  # no such thread here: its own
    assert await store.stories.count_by_thread([thread, elsewhere.thread_id or 0]) == {
        thread: 1,
        elsewhere.thread_id: 1,
    }
    [entry] = await store.practices.catalogue(ctx.id)
    assert [s.text for s in entry.stories] == [f"Planning poker ({URL}{thread}) saved our quarter."]


async def test_story_in_the_room_becomes_a_post_for_the_list(store: Store) -> None:
    """The command's event becomes the post: mailed to the list, never sent back to the room; the
    answer names the practice and the count; a replay keeps one story; ``!icop stories`` lists it."""
    ctx, ingestor, thread = await practice_thread(store)
    room = Room()
    reader = commands(store, ingestor, room)
    told = chat(
        "$story1", "@ana:localhost", "!icop story Our team now runs poker weekly: fewer surprises.",
        matrix_thread_root="$root",
    )  # fmt: skip
    assert await reader.intercept(ctx, told)
    assert room.bodies()[-1] == (
        "Thank you, Ana Souza: your story is kept with the practice “Planning poker” (1 story now) "
        f"and shared with the list. {URL}{thread}"
    )
    found = await store.posts.by_event_ids(ctx.id, ["$story1"])
    post = await store.posts.get(found["$story1"].post_id)
    assert post is not None
    assert post.thread_id == thread
    assert post.text == "Our team now runs poker weekly: fewer surprises.\n\n#story"
    rows = await store.outbox.for_post(post.id)
    assert rows
    assert {r.channel for r in rows} == {Channel.EMAIL}
    assert await reader.intercept(ctx, told)  # a replayed sync batch
    assert len(await store.stories.in_community(ctx.id)) == 1
    inbound = MatrixInbound(store, ingestor, lambda: {ROOM: ctx})
    retold = "!icop story Our team now runs poker weekly: half the surprises."
    await inbound.handle_event(
        ctx, MatrixEdit(ROOM, "$e", "$story1", "@ana:localhost", "Ana", retold, None, NOW)
    )
    [story] = await store.stories.in_community(ctx.id)
    assert story.text == "Our team now runs poker weekly: half the surprises."

    listing = chat("$list", "@kenji:localhost", "!icop stories", matrix_thread_root="$root")
    assert await reader.intercept(ctx, listing)
    assert room.bodies()[-1] == (
        "1 value story about this thread:\n"
        f"- Ana Souza, {NOW:%Y-%m-%d}: “Our team now runs poker weekly: half the surprises.”"
    )
    assert await reader.intercept(ctx, chat("$all", "@ana:localhost", "!icop stories"))
    assert room.bodies()[-1].startswith("Value stories per practice (1 in all):\n- Planning poker: 1")
    assert await reader.intercept(ctx, chat("$nothread", "@ana:localhost", "!icop story It helped us a lot."))
    assert room.bodies()[-1].startswith("Send this as a reply in the thread you mean")
    assert await reader.intercept(
        ctx, chat("$visitor", "@visitor:localhost", "!icop story I am not a member here.")
    )
    assert room.bodies()[-1].startswith("Sorry, only the members taking part in")
    assert len(await store.stories.in_community(ctx.id)) == 1


async def test_edits_retell_or_withdraw_and_a_deletion_withdraws(store: Store) -> None:
    ctx, ingestor, thread = await practice_thread(store)
    inbound = MatrixInbound(store, ingestor, lambda: {ROOM: ctx})
    told = chat("$s", "@ana:localhost", "Poker helped. #story", matrix_thread_root="$root")
    await ingestor.ingest(ctx, told)
    retold = "Poker halved our overruns. #story"
    await inbound.handle_event(ctx, MatrixEdit(ROOM, "$e1", "$s", "@ana:localhost", "Ana", retold, None, NOW))
    [story] = await store.stories.in_community(ctx.id)
    assert (story.text, story.thread_id) == ("Poker halved our overruns.", thread)
    away = MatrixEdit(ROOM, "$e2", "$s", "@ana:localhost", "Ana", "Poker halved our overruns.", None, NOW)
    await inbound.handle_event(ctx, away)
    assert await store.stories.in_community(ctx.id) == []
    back = MatrixEdit(ROOM, "$e3", "$s", "@ana:localhost", "Ana", "Poker, again. #story", None, NOW)
    await inbound.handle_event(ctx, back)
    assert [s.text for s in await store.stories.in_community(ctx.id)] == ["Poker, again."]
    await inbound.handle_event(ctx, MatrixRedaction(ROOM, "$red", "$s", "@ana:localhost", None, NOW))
    assert await store.stories.in_community(ctx.id) == []


async def test_a_held_story_is_kept_when_approved_and_counted_in_the_report(store: Store) -> None:
    ctx, ingestor, thread = await practice_thread(store)
    moderation = Moderation(store, clock=lambda: NOW)
    held = await ingestor.ingest(
        ctx, mail("guest@x", "guest@elsewhere.net", f"Your practice {URL}{thread} fixed ours. #story")
    )
    assert held.status is IngestStatus.HELD
    assert await store.stories.in_community(ctx.id) == []
    await moderation.approve(ctx, held.post_id or 0, "@ana:localhost")
    post = await store.posts.get(held.post_id or 0)
    assert post is not None
    assert post.state is PostState.VISIBLE
    [story] = await store.stories.in_community(ctx.id)
    assert (story.thread_id, story.practice, story.author_address) == (
        thread,
        "Planning poker",
        "guest@elsewhere.net",
    )
    facts = await CommunityFactsRepository(store.db).load(ctx.id, ctx.slug, "UTC", NOW + timedelta(days=1))
    report = compute(facts, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert report.values["stories"] == 1
    [fact] = report.stories
    assert (fact.practice, fact.text, fact.thread_id) == (
        "Planning poker",
        f"Your practice {URL}{thread} fixed ours.",
        thread,
    )
    earlier = compute(facts, NOW - timedelta(days=9), NOW - timedelta(days=1))
    assert earlier.values["stories"] == 0
