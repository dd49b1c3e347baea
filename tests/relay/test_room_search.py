"""``!icop search`` in the room: any active member gets the first results with their archive links; a
malformed query gets its position; a non-member gets a refusal; the command itself is never relayed."""

from __future__ import annotations

from bridge.archive.search import ArchiveSearch, answer_in_room
from bridge.core.commands import CommandError, CommandName, ModerationCommand, parse_command
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import Ingestor
from bridge.relay.moderation import Moderation, RoomModeration
from bridge.store import Database, Store
from tests.relay.test_ingest import KEY, NOW, chat, community, mail
from tests.relay.test_moderation import Room

BASE = "https://icop.example.com"


def test_the_command_is_parsed() -> None:
    assert parse_command("!icop search risk  register") == ModerationCommand(
        CommandName.SEARCH, query="risk  register"
    )
    error = parse_command("!icop search   ")
    assert isinstance(error, CommandError)
    assert "needs a query" in error.message


async def test_members_search_from_the_room(database: Database) -> None:
    store = Store(database)
    ctx = await community(store)
    ingestor = Ingestor(store, KEY, clock=lambda: NOW)
    await ingestor.ingest(
        ctx, mail("r1@example.org", "ana@example.org", "Our risk <register> works.", "Risks")
    )
    await ingestor.ingest(ctx, chat("$r2", "@kenji:localhost", "Planning poker for estimates"))

    async def search(context: CommunityContext, query: str) -> str:
        return await answer_in_room(ArchiveSearch(store, BASE, [context.config]), context.slug, query)

    room = Room()
    rooms = RoomModeration(Moderation(store, clock=lambda: NOW), room.send, search)
    assert await rooms.intercept(ctx, chat("$s1", "@kenji:localhost", "!icop search risk"))
    assert await rooms.intercept(ctx, chat("$s2", "@kenji:localhost", "!icop search risk (register"))
    assert await rooms.intercept(ctx, chat("$s3", "@visitor:localhost", "!icop search risk"))
    assert await rooms.intercept(ctx, chat("$s4", "@ana:localhost", "!icop search nothingsuch"))
    found, malformed, refused, nothing = room.bodies()
    thread = (await store.posts.get(1)).thread_id  # type: ignore[union-attr]
    assert found.splitlines() == [
        "Found in the archive for risk:",
        f"1. Risks (1 of 1 posts, last {NOW:%Y-%m-%d}) {BASE}/c/pm-practice/t/{thread}",
        "   Our risk <register> works.",
        f"All results: {BASE}/c/pm-practice/search?q=risk",
    ]
    assert malformed.startswith("I could not read that query: query error at 6: '(' is never closed.")
    assert refused == "Sorry, only members of Project Management Practice can search its archive here."
    assert (
        nothing
        == f"Nothing found for nothingsuch. Search the archive: {BASE}/c/pm-practice/search?q=nothingsuch"
    )
    assert await store.posts.thread_posts(thread) != []
    assert len(await store.posts.thread_posts(thread)) == 1  # the commands were not ingested
