"""Room commands on both stores: help lists only what the asker may use, tagging and practices in a
thread, refusals for members and for a convener in another community, answers posted in the thread."""

from __future__ import annotations

import pytest

from bridge.config.schema import MemberConfig, TaxonomyTag
from bridge.core.model import PracticeState, TagSource
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor
from bridge.relay.moderation import Moderation
from bridge.store import Database, Store
from tests.relay.test_ingest import KEY, MEMBERS, NOW, chat, community, mail
from tests.relay.test_moderation import Room, room_commands

PRIYA = MemberConfig(name="Priya Raman", email="priya@example.in", matrix="@priya:localhost")
TAXONOMY = [
    TaxonomyTag(tag="estimation", label="Estimation", aliases=["estimates"], keywords=["story points"]),
    TaxonomyTag(tag="risk", label="Risk management", keywords=["risk register"]),
]
URL = "https://icop.example.com/c/pm-practice/t/"


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)


class Asker:
    """Sends commands as one Matrix user and returns the bridge's answer."""

    def __init__(self, ctx: CommunityContext, room: Room, store: Store, user: str) -> None:
        self.ctx, self.room, self.user = ctx, room, user
        self.commands = room_commands(Moderation(store, clock=lambda: NOW), room.send)
        self.count = 0

    async def say(self, text: str, thread: str | None = None) -> str:
        self.count += 1
        event = f"$cmd-{self.user}-{self.count}"
        assert await self.commands.intercept(
            self.ctx, chat(event, self.user, text, matrix_thread_root=thread)
        )
        return self.room.bodies()[-1]


async def setup(store: Store) -> tuple[CommunityContext, Room, int]:
    ctx = await community(store, taxonomy=TAXONOMY, member=[*MEMBERS, PRIYA])
    outcome = await Ingestor(store, KEY, clock=lambda: NOW).ingest(
        ctx, chat("$root", "@kenji:localhost", "How do you size work? We use story points.")
    )
    assert outcome.thread_id is not None
    return ctx, Room(), outcome.thread_id


async def test_help_lists_only_the_commands_the_asker_may_use(store: Store) -> None:
    ctx, room, _ = await setup(store)
    convener = await Asker(ctx, room, store, "@ana:localhost").say("!icop help")
    member = await Asker(ctx, room, store, "@priya:localhost").say("!icop")
    visitor = await Asker(ctx, room, store, "@visitor:localhost").say("!icop help")
    for verb in ("tag", "untag", "tags", "practice", "summary", "held", "approve", "ban"):
        assert f"`!icop {verb}" in convener, verb
    assert "`!icop tags`" in member
    assert all(f"`!icop {verb} " not in member for verb in ("tag", "practice", "approve", "held"))
    assert "`!icop held`" not in member
    # A visitor may only ask about digests (and is told there how to subscribe).
    assert visitor.splitlines()[1:] == [
        "- `!icop digest [daily|weekly|monthly|off]`: see or set how often the digest comes to you by mail"
    ]
    unknown = await Asker(ctx, room, store, "@priya:localhost").say("!icop frobnicate")
    assert unknown.startswith("Unknown command `frobnicate`. Commands you can use:")
    assert "`!icop approve" not in unknown


async def test_tag_untag_and_tags_in_a_thread(store: Store) -> None:
    ctx, room, thread = await setup(store)
    ana = Asker(ctx, room, store, "@ana:localhost")
    priya = Asker(ctx, room, store, "@priya:localhost")

    answer = await ana.say("!icop tag Estimates, #kanban", thread="$root")
    assert answer == f"Filed this thread under #estimation, #kanban. {URL}{thread}"
    _, content, _ = room.sent[-1]
    assert content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$cmd-@ana:localhost-1"},
    }
    tags = {t.name: (t.source, t.applied_by) for t in await store.tags.of_thread(thread)}
    assert tags == {
        "estimation": (TagSource.COMMAND, "@ana:localhost"),
        "kanban": (TagSource.COMMAND, "@ana:localhost"),
    }
    assert (await ana.say("!icop tag estimation", thread="$root")).startswith(
        "It was already under #estimation."
    )

    refused = await priya.say("!icop tag risk", thread="$root")
    assert refused.startswith("Sorry, only the conveners and core members of Project Management Practice")
    assert "not relayed" in refused
    assert len(await store.tags.of_thread(thread)) == 2

    listing = await priya.say("!icop tags", thread="$root")
    assert listing == "This thread is filed under #estimation, #kanban."
    assert await ana.say("!icop untag kanban risk", thread="$root") == (
        "Took #kanban off this thread. It was not filed under #risk."
    )
    assert await ana.say("!icop tag risk") == (
        "Send this as a reply in the thread you mean (in a thread, or as a reply to one of its messages)."
    )
    overview = await priya.say("!icop tags")
    assert (
        "- #estimation (Estimation): 1 thread https://icop.example.com/c/pm-practice/tag/estimation"
        in overview
    )
    assert "- #risk (Risk management): 0 threads" in overview


async def test_tag_alone_files_what_the_keywords_suggest(store: Store) -> None:
    ctx, room, _ = await setup(store)
    kenji = Asker(ctx, room, store, "@kenji:localhost")
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    await ingestor.ingest(
        ctx, chat("$r2", "@ana:localhost", "Our risk register helps", matrix_thread_root="$root")
    )
    suggested = await kenji.say("!icop tags", thread="$root")
    assert suggested == (
        "This thread has no tags yet. Suggested from its words: #estimation (“story points”), "
        "#risk (“risk register”). `!icop tag` files them."
    )
    assert (await kenji.say("!icop tag", thread="$root")).startswith(
        "Filed this thread under #estimation, #risk."
    )
    assert "no tag" in await kenji.say("!icop tag", thread="$root")


async def test_practice_summary_and_unpractice(store: Store) -> None:
    ctx, room, thread = await setup(store)
    kenji = Asker(ctx, room, store, "@kenji:localhost")
    assert (await kenji.say("!icop summary Vote at once.", thread="$root")).startswith(
        "This thread is not a practice yet"
    )
    confirmed = await kenji.say("!icop practice Planning poker", thread="$root")
    assert confirmed == (
        "This thread is now a practice of Project Management Practice: “Planning poker”. "
        f"`!icop summary TEXT` writes its summary for the catalogue. {URL}{thread}"
    )
    assert await kenji.say("!icop summary Everyone estimates at once,\nthen talks.", thread="$root") == (
        f"Wrote the summary of “Planning poker”. {URL}{thread}"
    )
    assert (await kenji.say("!icop summary Vote at once.", thread="$root")).startswith("Rewrote the summary")
    practice = await store.practices.of_thread(thread)
    assert practice is not None
    assert (practice.state, practice.summary, practice.confirmed_by) == (
        PracticeState.CONFIRMED,
        "Vote at once.",
        "@kenji:localhost",
    )
    assert (await kenji.say("!icop practice", thread="$root")).startswith(
        "Renamed this practice: “Planning poker”"
    )
    refused = await Asker(ctx, room, store, "@priya:localhost").say("!icop practice Mine", thread="$root")
    assert refused.startswith("Sorry, only the conveners")
    assert await kenji.say("!icop unpractice", thread="$root") == (
        "“Planning poker” is no longer a practice (the thread and its tags stay)."
    )
    assert await store.practices.of_thread(thread) is None


async def test_a_convener_of_one_community_cannot_act_on_another(store: Store) -> None:
    """Ana convenes pm-practice; in ops she is an ordinary member. Kenji is core in ops: he cannot
    decide on a post held in pm-practice from the ops room."""
    ctx, room, _ = await setup(store)
    ops_members = [
        MemberConfig(name="Ana Souza", email="ana@example.org", matrix="@ana:localhost"),
        MemberConfig(name="Kenji Watanabe", email="kenji@example.jp", matrix="@kenji:localhost", role="core"),
    ]
    ops = await community(
        store,
        room_id="!ops:localhost",
        slug="ops",
        list_address="ops@lists.example.com",
        room="#ops:localhost",
        member=ops_members,
    )
    moderation = Moderation(store, clock=lambda: NOW)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW, gate=moderation)
    ops_thread = await ingestor.ingest(ops, chat("$ops-root", "@kenji:localhost", "Incident review"))
    held = await ingestor.ingest(ctx, mail("h@x", "stranger@elsewhere.net", "Hi"))
    ana_in_ops = Asker(ops, room, store, "@ana:localhost")
    assert (await ana_in_ops.say("!icop tag risk", thread="$ops-root")).startswith(
        "Sorry, only the conveners and core members of"
    )
    assert (await ana_in_ops.say(f"!icop approve {held.post_id}")).startswith("Sorry, only the conveners")
    assert await store.tags.of_thread(ops_thread.thread_id or 0) == []
    kenji_in_ops = Asker(ops, room, store, "@kenji:localhost")
    assert (await kenji_in_ops.say(f"!icop approve {held.post_id}")).startswith(
        f"There is no post {held.post_id} in ops"
    )
    # A reply in the ops room to an event of the other community's thread names no thread here.
    assert (await kenji_in_ops.say("!icop tag risk", thread="$root")).startswith("Send this as a reply")
