"""``!icop help``: the commands the asker may use, and only those."""

from __future__ import annotations

from collections.abc import Sequence

from bridge.core.commands import ROOM_COMMANDS, CommandSpec
from bridge.core.commands.help import HelpCommand, help_text
from bridge.relay.room_commands import CommandRequest


class HelpCommands:
    commands: tuple[type, ...] = (HelpCommand,)

    def __init__(self, specs: Sequence[CommandSpec] = ROOM_COMMANDS) -> None:
        self.specs = tuple(specs)

    async def answer(self, request: CommandRequest) -> str:
        asker = request.asker
        return help_text(self.specs, asker.role if asker else None, asker.state if asker else None)
