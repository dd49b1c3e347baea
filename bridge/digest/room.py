"""``!icop digest daily|weekly|monthly|off`` in the room: a member sets their own digest, and the answer
(in the room, where the command came from) says what they will get."""

from __future__ import annotations

from bridge.core.digest.requests import ROOM_USAGE, RequestError, parse_room_digest
from bridge.core.model import InboundMessage, MembershipState
from bridge.digest.desk import SubscriptionDesk, digest_change
from bridge.relay.community import CommunityContext
from bridge.store import Store


class RoomDigestCommands:
    def __init__(self, desk: SubscriptionDesk, store: Store) -> None:
        self.desk = desk
        self.store = store

    async def answer(self, community: CommunityContext, message: InboundMessage) -> str | None:
        """The answer to a ``!icop digest`` command; None when the message is no such command."""
        command = parse_room_digest(message.text)
        if command is None:
            return None
        if isinstance(command, RequestError):
            return command.message
        config = community.config
        person = await self.store.communities.person_by_matrix_id(message.sender_address)
        member = await self.store.communities.member(community.id, person.id) if person else None
        reader = await self.store.subscriptions.reader(member.membership_id) if member else None
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
