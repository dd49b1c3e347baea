"""What every room command shares: the ``!icop`` prefix, who may use a command, and its description.

Each family of commands (moderation, tagging, practices, and later search or digests) is a module of
``CommandSpec``s: a verb, how it is written, one line saying what it does, who may use it and a pure
parser of its arguments. ``bridge.core.commands`` lists the families; adding one is adding a module
and its line there. A message that starts with ``!icop`` is addressed to the bridge and is never
relayed, even when malformed: it gets a ``CommandError`` whose text is the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bridge.core.model import MembershipState, Role

COMMAND_PREFIX = "!icop"

CORE_TEAM_ROLES = frozenset({Role.CONVENER, Role.CORE})
"""The convener and the core members who help run the community."""


class Permission(StrEnum):
    """Who may use a command."""

    EVERYONE = "everyone"  # anyone in the room, members or not
    MEMBERS = "members"  # active members who take part (not readers)
    CORE_TEAM = "core team"  # active conveners and core members


def permits(permission: Permission, role: Role | None, state: MembershipState | None) -> bool:
    """Whether someone in ``role`` (None: not a member) and ``state`` may use a command."""
    if permission is Permission.EVERYONE:
        return True
    if state is not MembershipState.ACTIVE or role is None:
        return False
    if permission is Permission.MEMBERS:
        return role.may_post
    return role in CORE_TEAM_ROLES


@dataclass(frozen=True, slots=True)
class CommandError:
    """A message meant as a command that cannot be obeyed; ``message`` is the answer to give."""

    message: str


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One verb of a family: ``syntax`` as people type it, ``summary`` one line for ``!icop help``,
    ``parse`` the arguments (the text after the verb) to a command value or an error."""

    verb: str
    syntax: str
    summary: str
    permission: Permission
    parse: Callable[[str], object]
    aliases: tuple[str, ...] = ()

    def usage(self) -> str:
        return f"`{self.syntax}`: {self.summary}"

    def error(self, problem: str) -> CommandError:
        return CommandError(f"{problem} Usage: `{self.syntax}`.")


def is_command(text: str) -> bool:
    """Whether ``text`` is addressed to the bridge (and so must never be relayed)."""
    first = text.lstrip().split(maxsplit=1)
    return bool(first) and first[0].casefold() == COMMAND_PREFIX


def split_command(text: str) -> tuple[str, str] | None:
    """``(verb, arguments)`` of a command, the verb case-folded ("" for a bare ``!icop``)."""
    if not is_command(text):
        return None
    words = text.strip().split(maxsplit=2)
    verb = words[1].casefold() if len(words) > 1 else ""
    return verb, words[2] if len(words) > 2 else ""
