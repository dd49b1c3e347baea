"""``!icop held``, ``approve``, ``reject`` and ``ban`` in the room, answered by ``Moderation``.

In the community's room the answers name no sender and quote no subject (a held post is often a
stranger's, sometimes spam); in the moderators' room they are given in full.
"""

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
            if request.private:
                return "Held posts:\n" + "\n".join(h.line() for h in held)
            # The community's room learns only numbers and channels: held mail is often a stranger's.
            where = "by mail" + (" and in the moderators' room" if community.moderators_room_id else "")
            return (
                f"Held posts: {', '.join(h.short() for h in held)}. "
                f"The conveners and core team have the details {where}."
            )
        assert command.post_id is not None
        if command.name is CommandName.APPROVE:
            decision = await moderation.approve(community, command.post_id, request.by)
        elif command.name is CommandName.REJECT:
            decision = await moderation.reject(community, command.post_id, request.by, command.reason)
        else:
            decision = await moderation.ban(community, command.post_id, request.by, command.reason)
        return decision.message if request.private else decision.for_room
