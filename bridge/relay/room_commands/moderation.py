"""``!icop held``, ``approve``, ``reject`` and ``ban`` in the room, answered by ``Moderation``."""

from __future__ import annotations

from bridge.core.commands.moderation import CommandName, ModerationCommand
from bridge.relay.moderation import Moderation
from bridge.relay.room_commands import CommandRequest


class ModerationCommands:
    commands: tuple[type, ...] = (ModerationCommand,)

    def __init__(self, moderation: Moderation) -> None:
        self.moderation = moderation

    async def answer(self, request: CommandRequest) -> str:
        command = request.command
        assert isinstance(command, ModerationCommand)
        moderation, community = self.moderation, request.community
        if command.name is CommandName.HELD:
            held = await moderation.held(community)
            if not held:
                return "No posts are held."
            return "Held posts:\n" + "\n".join(h.line() for h in held)
        assert command.post_id is not None
        if command.name is CommandName.APPROVE:
            decision = await moderation.approve(community, command.post_id, request.by)
        elif command.name is CommandName.REJECT:
            decision = await moderation.reject(community, command.post_id, request.by, command.reason)
        else:
            decision = await moderation.ban(community, command.post_id, request.by, command.reason)
        return decision.message
