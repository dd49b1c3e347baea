"""``!icop search`` in the room: any active member gets the first results with their archive links; a
malformed query gets its position; a non-member gets a refusal; the command itself is never relayed."""

from __future__ import annotations

from bridge.archive.search import ArchiveSearch
from bridge.core.commands import CommandError, parse_command
from bridge.core.commands.search import SearchCommand
from bridge.relay.ingest import Ingestor
from bridge.relay.moderation import JoinHints, Moderation
from bridge.relay.room_commands import RoomCommands
from bridge.relay.room_commands.families import every_family
from bridge.store import Database, Store
from tests.relay.test_ingest import KEY, NOW, chat, community, mail
from tests.relay.test_moderation import Room

BASE = "https://icop.example.com"


def test_the_command_is_parsed() -> None:
    assert parse_command("!icop search risk  register") == SearchCommand("risk  register")
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

    room = Room()
    moderation = Moderation(store, clock=lambda: NOW)
    families = every_family(
        moderation, BASE, moderation.clock, search=ArchiveSearch(store, BASE, [ctx.config])
    )
    rooms = RoomCommands(store, room.send, families, hints=JoinHints(moderation))
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
    assert refused.startswith(
        "Sorry, only the members taking part in Project Management Practice can use `!icop search`."
    )
    assert (
        nothing
        == f"Nothing found for nothingsuch. Search the archive: {BASE}/c/pm-practice/search?q=nothingsuch"
    )
    assert await store.posts.thread_posts(thread) != []
    assert len(await store.posts.thread_posts(thread)) == 1  # the commands were not ingested
