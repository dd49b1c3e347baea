"""Filing at ingest on both stores: tags and proposals in the post's transaction, a core member's
Tags:/Practice: lines obeyed and not relayed, held posts filed on approval, edits and redactions
re-read, and the notices that tell the core team."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.config.schema import MemberConfig, TaxonomyTag
from bridge.core.model import Channel, DeliveryKind, PracticeState, TagSource
from bridge.matrix.events import MatrixEdit, MatrixRedaction
from bridge.relay.community import CommunityContext
from bridge.relay.filing import PRACTICE_NOTICE, SUGGESTION_NOTICE
from bridge.relay.from_matrix import MatrixInbound
from bridge.relay.ingest import Ingestor, IngestStatus
from bridge.relay.moderation import Moderation
from bridge.store import Database, NewTag, Store
from tests.relay.test_ingest import KEY, MEMBERS, NOW, ROOM, chat, community, mail

TAXONOMY = [
    TaxonomyTag(tag="estimation", label="Estimation", aliases=["estimates"], keywords=["story points"]),
    TaxonomyTag(tag="risk", label="Risk management", keywords=["risk register"]),
]


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


async def archive(store: Store, **overrides: object) -> tuple[CommunityContext, Ingestor]:
    ctx = await community(store, taxonomy=TAXONOMY, **overrides)
    return ctx, Ingestor(store, KEY, clock=lambda: NOW, gate=Moderation(store, clock=lambda: NOW))


async def thread_tags(store: Store, thread_id: int | None) -> dict[str, tuple[TagSource, str | None]]:
    assert thread_id is not None
    return {t.name: (t.source, t.applied_by) for t in await store.tags.of_thread(thread_id)}


async def notices(store: Store, post_id: int | None, revision: int) -> list[tuple[Channel, str]]:
    assert post_id is not None
    rows = await store.outbox.for_post(post_id)
    return sorted(
        (r.channel, r.recipient) for r in rows if r.kind is DeliveryKind.NOTICE and r.revision == revision
    )


async def test_a_mail_files_its_hashtags_and_subject_tags_with_the_post(store: Store) -> None:
    ctx, ingestor = await archive(store)
    outcome = await ingestor.ingest(
        ctx,
        mail(
            "m1@x",
            "siobhan@example.ie",
            "Here is how we size. #Estimates #kanban\n`#notcode`",
            subject="[Risk] Sizing",
        ),
    )
    assert outcome.status is IngestStatus.STORED
    assert await thread_tags(store, outcome.thread_id) == {
        "estimation": (TagSource.HASHTAG, "siobhan@example.ie"),
        "kanban": (TagSource.HASHTAG, "siobhan@example.ie"),
        "risk": (TagSource.SUBJECT, "siobhan@example.ie"),
    }
    usage = {u.name: u.label for u in await store.tags.usage(ctx.id)}
    assert usage == {"estimation": "Estimation", "kanban": "kanban", "risk": "Risk management"}


async def test_a_core_members_tags_and_practice_lines_are_obeyed_and_not_relayed(store: Store) -> None:
    ctx, ingestor = await archive(store)
    root = await ingestor.ingest(ctx, mail("m1@x", "siobhan@example.ie", "How far ahead do you plan?"))
    reply = await ingestor.ingest(
        ctx,
        mail(
            "m2@x",
            "kenji@example.jp",
            "Tags: estimates, #planning -nothing\nPractice: Rolling-wave planning\n\nTwo sprints at most.",
            subject="Re: Estimation",
            in_reply_to="m1@x",
        ),
    )
    assert reply.thread_id == root.thread_id
    assert reply.post_id is not None
    post = await store.posts.get(reply.post_id)
    assert post is not None
    assert post.text == "Two sprints at most."  # what the list and the room get
    assert "Tags:" not in (post.html or "")
    assert await thread_tags(store, root.thread_id) == {
        "estimation": (TagSource.MAIL_COMMAND, "kenji@example.jp"),
        "planning": (TagSource.MAIL_COMMAND, "kenji@example.jp"),
    }
    practice = await store.practices.of_thread(root.thread_id or 0)
    assert practice is not None
    assert (practice.title, practice.state, practice.confirmed_by) == (
        "Rolling-wave planning",
        PracticeState.CONFIRMED,
        "kenji@example.jp",
    )


async def test_a_reply_of_command_lines_only_is_obeyed_and_not_stored(store: Store) -> None:
    """Kenji files a thread by mail without writing to the list: nothing to store, relay or double."""
    ctx, ingestor = await archive(store)
    root = await ingestor.ingest(ctx, mail("m1@x", "siobhan@example.ie", "How far ahead do you plan?"))
    command = mail("m2@x", "kenji@example.jp", "Tags: risk\n\n", subject="Re: Estimation", in_reply_to="m1@x")
    outcome = await ingestor.ingest(ctx, command)
    assert (outcome.status, outcome.post_id, outcome.thread_id) == (
        IngestStatus.COMMAND,
        None,
        root.thread_id,
    )
    assert await thread_tags(store, root.thread_id) == {"risk": (TagSource.MAIL_COMMAND, "kenji@example.jp")}
    assert [p.id for p in await store.posts.thread_posts(root.thread_id or 0)] == [root.post_id]
    assert (await ingestor.ingest(ctx, command)).status is IngestStatus.COMMAND  # a replay changes nothing
    assert len(await store.tags.of_thread(root.thread_id or 0)) == 1


async def test_a_members_tags_line_is_just_text(store: Store) -> None:
    ctx, ingestor = await archive(store)
    outcome = await ingestor.ingest(ctx, mail("m1@x", "siobhan@example.ie", "Tags: estimation\n\nHello"))
    assert outcome.post_id is not None
    post = await store.posts.get(outcome.post_id)
    assert post is not None
    assert post.text == "Tags: estimation\n\nHello"
    assert await thread_tags(store, outcome.thread_id) == {}


async def test_practice_hashtag_proposes_and_tells_the_room_and_core_members_who_only_mail(
    store: Store,
) -> None:
    members = [*MEMBERS, MemberConfig(name="Omar Haddad", email="omar@example.eg", role="core")]
    ctx, ingestor = await archive(store, member=members)
    outcome = await ingestor.ingest(ctx, chat("$e1", "@kenji:localhost", "Our stand-up format. #practice"))
    assert outcome.thread_id is not None
    practice = await store.practices.of_thread(outcome.thread_id)
    assert practice is not None
    assert (practice.state, practice.title, practice.proposed_by) == (
        PracticeState.PROPOSED,
        "Our stand-up format. #practice",
        "@kenji:localhost",
    )
    assert await thread_tags(store, outcome.thread_id) == {}  # #practice is not a tag
    assert await notices(store, outcome.post_id, PRACTICE_NOTICE) == [
        (Channel.EMAIL, "omar@example.eg"),  # Ana and Kenji chat: they see the room's notice
        (Channel.MATRIX, ROOM),
    ]
    again = await ingestor.ingest(
        ctx, chat("$e2", "@ana:localhost", "yes #practice", matrix_thread_root="$e1")
    )
    assert await notices(store, again.post_id, PRACTICE_NOTICE) == []  # proposed once


async def test_keywords_are_offered_on_a_new_thread_or_filed_where_the_community_says(store: Store) -> None:
    ctx, ingestor = await archive(store)
    offered = await ingestor.ingest(ctx, mail("m1@x", "siobhan@example.ie", "We keep a risk register."))
    assert await thread_tags(store, offered.thread_id) == {}
    assert await notices(store, offered.post_id, SUGGESTION_NOTICE) == [(Channel.MATRIX, ROOM)]
    reply = await ingestor.ingest(
        ctx,
        mail("m2@x", "kenji@example.jp", "And story points.", subject="Re: Estimation", in_reply_to="m1@x"),
    )
    assert await notices(store, reply.post_id, SUGGESTION_NOTICE) == []  # offered when a thread starts

    ops = await community(
        store,
        slug="ops",
        list_address="ops@lists.example.com",
        room="#ops:localhost",
        room_id="!ops:localhost",
        taxonomy=TAXONOMY,
        keyword_tags="apply",
    )
    applied = await ingestor.ingest(ops, mail("m3@x", "ana@example.org", "Our risk register"))
    assert await thread_tags(store, applied.thread_id) == {"risk": (TagSource.KEYWORD, None)}
    assert await notices(store, applied.post_id, SUGGESTION_NOTICE) == []


async def test_a_held_post_is_filed_only_when_approved(store: Store) -> None:
    ctx, ingestor = await archive(store)
    held = await ingestor.ingest(ctx, mail("h1@x", "stranger@elsewhere.net", "Hi #estimation #practice"))
    assert held.status is IngestStatus.HELD
    assert await thread_tags(store, held.thread_id) == {}
    assert await store.practices.of_thread(held.thread_id or 0) is None
    assert held.post_id is not None
    assert (await Moderation(store, clock=lambda: NOW).approve(ctx, held.post_id, "@ana:localhost")).done
    assert await thread_tags(store, held.thread_id) == {
        "estimation": (TagSource.HASHTAG, "stranger@elsewhere.net")
    }
    assert await store.practices.of_thread(held.thread_id or 0) is not None


async def test_edits_re_read_tags_and_a_redaction_takes_its_own_back(store: Store) -> None:
    ctx, ingestor = await archive(store)
    inbound = MatrixInbound(store, ingestor, lambda: {ROOM: ctx})
    root = await ingestor.ingest(ctx, chat("$e1", "@kenji:localhost", "Sizing #estimation #kanban"))
    await store.tags.tag_thread(
        ctx.id,
        root.thread_id or 0,
        [NewTag("kanban", TagSource.COMMAND, applied_by="@ana:localhost")],
        now=NOW,
    )
    edit = MatrixEdit(ROOM, "$e1b", "$e1", "@kenji:localhost", "Kenji", "Sizing #risk #practice", None, NOW)
    await inbound.handle_event(ctx, edit)
    assert await thread_tags(store, root.thread_id) == {
        "kanban": (TagSource.COMMAND, "@ana:localhost"),  # a person's filing survives the edit
        "risk": (TagSource.HASHTAG, "@kenji:localhost"),
    }
    assert await store.practices.of_thread(root.thread_id or 0) is not None
    await inbound.handle_event(ctx, edit)  # the same edit again: nothing moves twice
    back = MatrixEdit(ROOM, "$e1c", "$e1", "@kenji:localhost", "Kenji", "Sizing", None, NOW + timedelta(1))
    await inbound.handle_event(ctx, back)
    assert await store.practices.of_thread(root.thread_id or 0) is None  # his proposal withdrawn
    reply = await ingestor.ingest(
        ctx, chat("$e2", "@ana:localhost", "#estimation too", matrix_thread_root="$e1")
    )
    assert "estimation" in await thread_tags(store, reply.thread_id)
    await inbound.handle_event(ctx, MatrixRedaction(ROOM, "$r", "$e2", "@ana:localhost", None, NOW))
    assert await thread_tags(store, root.thread_id) == {"kanban": (TagSource.COMMAND, "@ana:localhost")}
