"""Room commands (``!icop …``), one family per module, parsed without I/O.

``ROOM_COMMANDS`` lists every family's specs in the order ``!icop help`` shows them; a new family
(search, digests, stories) is a module with its ``SPECS`` and a line here, plus its handler in
``bridge.relay.room_commands``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.core.commands import digests, help, moderation, practices, search, stories, tagging
from bridge.core.commands.base import (
    COMMAND_PREFIX,
    CORE_TEAM_ROLES,
    CommandError,
    CommandSpec,
    Permission,
    is_command,
    permits,
    split_command,
)

ROOM_COMMANDS: tuple[CommandSpec, ...] = (
    *search.SPECS,
    *tagging.SPECS,
    *practices.SPECS,
    *stories.SPECS,
    *moderation.SPECS,
    *digests.SPECS,
    *help.SPECS,
)


@dataclass(frozen=True, slots=True)
class ReadCommand:
    """A message addressed to the bridge: the spec of its verb (None when unknown) and the parsed
    command or what is wrong with it."""

    verb: str
    spec: CommandSpec | None
    command: object


def read_command(text: str, specs: Sequence[CommandSpec] = ROOM_COMMANDS) -> ReadCommand | None:
    """The command in ``text``; None when the message is not a command at all."""
    split = split_command(text)
    if split is None:
        return None
    verb, rest = split
    spec = next((s for s in specs if verb == s.verb or verb in s.aliases), None)
    if spec is None:
        return ReadCommand(verb, None, CommandError(f"Unknown command `{verb}`."))
    return ReadCommand(verb, spec, spec.parse(rest))


def parse_command(text: str, specs: Sequence[CommandSpec] = ROOM_COMMANDS) -> object | None:
    """The parsed command (or ``CommandError``) in ``text``; None when it is not a command."""
    found = read_command(text, specs)
    return found.command if found is not None else None


__all__ = [
    "COMMAND_PREFIX",
    "CORE_TEAM_ROLES",
    "ROOM_COMMANDS",
    "CommandError",
    "CommandSpec",
    "Permission",
    "ReadCommand",
    "is_command",
    "parse_command",
    "permits",
    "read_command",
    "split_command",
]
