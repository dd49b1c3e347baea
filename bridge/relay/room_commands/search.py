"""``!icop search QUERY`` in the room, answered by the archive's search service."""

from __future__ import annotations

from bridge.archive.search import ArchiveSearch, answer_in_room
from bridge.core.commands.search import SearchCommand
from bridge.relay.room_commands import CommandRequest


class SearchCommands:
    commands: tuple[type, ...] = (SearchCommand,)

    def __init__(self, search: ArchiveSearch) -> None:
        self.search = search

    async def answer(self, request: CommandRequest) -> str:
        command = request.command
        assert isinstance(command, SearchCommand)
        return await answer_in_room(self.search, request.community.slug, command.query)
