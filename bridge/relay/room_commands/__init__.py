"""The room's ``!icop`` commands: read before ingest, answered in the room, never relayed.

``RoomCommands.intercept`` runs on every room message. A command is read with the core's parser
(``bridge.core.commands``), checked against the asker's role (the verb's ``Permission``), and handed to
the handler of its family, one small module each (``moderation``, ``tagging``, ``practices``,
``help``); the answer is posted as an ``m.notice`` replying to the command, in its thread when it was
sent in one. A non-member who writes an ordinary message is told once how to join (``JoinHints``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.core.commands import ROOM_COMMANDS, CommandError, CommandSpec, Permission, permits, read_command
from bridge.core.commands.help import help_text
from bridge.core.loop_guard import ORIGIN_MARKER_KEY
from bridge.core.model import Channel, InboundMessage, Recipient
from bridge.relay.community import CommunityContext
from bridge.relay.moderation import JoinHints
from bridge.store import Store

log = logging.getLogger(__name__)

RoomSend = Callable[[str, Mapping[str, Any], str], Awaitable[str]]

NOT_IN_A_THREAD = (
    "Send this as a reply in the thread you mean (in a thread, or as a reply to one of its messages)."
)


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One command to answer: where, from whom, what; ``thread_id`` resolves the thread it was sent in."""

    community: CommunityContext
    message: InboundMessage
    asker: Recipient | None
    command: object
    store: Store
    private: bool = False
    """Asked in the community's moderators' room, where answers may name senders and subjects."""

    @property
    def by(self) -> str:
        return self.message.sender_address

    async def thread_id(self) -> int | None:
        """The thread of the event the command replies to (its thread root, else its reply target)."""
        refs = self.message.refs
        event = refs.matrix_thread_root or refs.matrix_in_reply_to
        if event is None:
            return None
        found = await self.store.posts.by_event_ids(self.community.id, [event])
        return found[event].thread_id if event in found else None


class CommandHandler(Protocol):
    """Answers the commands of one family; ``commands`` are the command types it takes."""

    commands: tuple[type, ...]

    async def answer(self, request: CommandRequest) -> str: ...


class RoomCommands:
    """Runs before ingest on every room message; ``intercept`` returns True when it consumed it."""

    def __init__(
        self,
        store: Store,
        send: RoomSend,
        handlers: Sequence[CommandHandler],
        *,
        specs: Sequence[CommandSpec] = ROOM_COMMANDS,
        hints: JoinHints | None = None,
    ) -> None:
        self.store = store
        self.send = send  # MatrixSender.send
        self.specs = tuple(specs)
        self.hints = hints
        self.handlers = {kind: handler for handler in handlers for kind in handler.commands}

    async def intercept(self, community: CommunityContext, message: InboundMessage) -> bool:
        read = read_command(message.text, self.specs)
        asker = await self._member(community, message.sender_address)
        if read is not None:
            answer = await self._answer(community, message, read.verb, read.spec, read.command, asker)
            await self._reply(community, message, answer, "command")
            return True  # a command is never relayed
        if asker is None and self.hints is not None:
            await self.hints.tell(community, message, self._must_reply)
        return False

    async def in_moderators_room(self, community: CommunityContext, message: InboundMessage) -> None:
        """A message in the community's moderators' room: commands are answered there in full; nothing
        said there is ever relayed, and no one there is told how to join."""
        read = read_command(message.text, self.specs)
        if read is None or community.moderators_room_id is None:
            return
        asker = await self._member(community, message.sender_address)
        answer = await self._answer(
            community, message, read.verb, read.spec, read.command, asker, private=True
        )
        await self._reply(community, message, answer, "command", room_id=community.moderators_room_id)

    async def _member(self, community: CommunityContext, sender: str) -> Recipient | None:
        return await self.store.communities.member_by_address(community.id, Channel.MATRIX, sender)

    async def _answer(
        self,
        community: CommunityContext,
        message: InboundMessage,
        verb: str,
        spec: CommandSpec | None,
        command: object,
        asker: Recipient | None,
        *,
        private: bool = False,
    ) -> str:
        role, state = (asker.role, asker.state) if asker else (None, None)
        if spec is None:
            assert isinstance(command, CommandError)
            return f"{command.message} {help_text(self.specs, role, state)}"
        if not permits(spec.permission, role, state):
            log.info(
                "room command refused",
                extra={"community": community.slug, "sender": message.sender_address, "verb": verb},
            )
            who = (
                "conveners and core members of"
                if spec.permission is Permission.CORE_TEAM
                else "members taking part in"
            )
            return (
                f"Sorry, only the {who} {community.config.name} can use `!icop {spec.verb}`. "
                "Your message was not relayed. `!icop help` lists what you can use."
            )
        if isinstance(command, CommandError):
            return command.message
        handler = self.handlers.get(type(command))
        if handler is None:
            return f"`!icop {spec.verb}` is not available here."
        request = CommandRequest(community, message, asker, command, self.store, private)
        return await handler.answer(request)

    async def _must_reply(
        self, community: CommunityContext, message: InboundMessage, text: str, what: str
    ) -> None:
        await self._reply(community, message, text, what, must=True)

    async def _reply(
        self,
        community: CommunityContext,
        message: InboundMessage,
        text: str,
        what: str,
        *,
        must: bool = False,
        room_id: str | None = None,
    ) -> None:
        room_id = room_id or community.room_id
        assert room_id is not None
        content: dict[str, Any] = {"msgtype": "m.notice", "body": text, ORIGIN_MARKER_KEY: {"notice": what}}
        if message.matrix_event_id:
            reply = {"m.in_reply_to": {"event_id": message.matrix_event_id}}
            root = message.refs.matrix_thread_root
            content["m.relates_to"] = (
                {"rel_type": "m.thread", "event_id": root, "is_falling_back": False, **reply}
                if root
                else reply
            )
        txn = f"icop.{what}.{message.matrix_event_id or message.origin_key}"
        try:
            await self.send(room_id, content, txn)
        except Exception as error:
            log.warning("could not answer in the room: %s", error, extra={"community": community.slug})
            if must:
                raise
