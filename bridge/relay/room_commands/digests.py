"""``!icop digest`` in the room: a member sets their own digest, and the answer (in the room, where the
command came from) says what they will get; anyone else is told how to subscribe."""

from __future__ import annotations

from bridge.core.digest.requests import ROOM_USAGE, RoomDigest
from bridge.core.model import MembershipState
from bridge.digest.desk import SubscriptionDesk, digest_change
from bridge.relay.room_commands import CommandRequest


class DigestCommands:
    commands: tuple[type, ...] = (RoomDigest,)

    def __init__(self, desk: SubscriptionDesk) -> None:
        self.desk = desk

    async def answer(self, request: CommandRequest) -> str:
        command = request.command
        assert isinstance(command, RoomDigest)
        config = request.community.config
        asker = request.asker
        reader = await request.store.subscriptions.reader(asker.membership_id) if asker else None
        if reader is None or reader.state is not MembershipState.ACTIVE:
            return (
                f"Digests of {config.name} go by mail to members and readers. To subscribe, send "
                f"“subscribe digest” to the list's request address, or use the subscription page."
            )
        if reader.email is None:
            return "Digests go by mail, and no address of yours is known here: ask a convener to add it."
        if command.frequency is None:
            return f"{self.desk.describe(config, reader)} {ROOM_USAGE}"
        return await self.desk.change(config, reader, digest_change(reader, command.frequency))
