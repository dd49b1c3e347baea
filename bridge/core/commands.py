"""Commands typed in the room: the moderation commands ``!icop held``, ``!icop approve N``,
``!icop reject N [reason]``, ``!icop ban N [reason]``, and ``!icop search QUERY`` for every member.

Parsing is pure so every spelling a convener may type is tested without a homeserver. A message that
does not start with ``!icop`` is not a command (``None``) and goes on to be relayed; a message that does
is never relayed, even when it is malformed: it gets a ``CommandError`` whose text is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bridge.core.model import MembershipState, Role

COMMAND_PREFIX = "!icop"

USAGE = (
    "Commands: `!icop held` (list held posts), `!icop approve N`, `!icop reject N [reason]`, "
    "`!icop ban N [reason]` (reject and refuse the sender's later posts), "
    "`!icop search QUERY` (search the archive)."
)

# Who may moderate: the convener and the core members who help run the community.
MODERATOR_ROLES = frozenset({Role.CONVENER, Role.CORE})

_NUMBER = re.compile(r"#?(\d{1,18})")


class CommandName(StrEnum):
    HELP = "help"
    HELD = "held"
    APPROVE = "approve"
    REJECT = "reject"
    BAN = "ban"
    SEARCH = "search"


@dataclass(frozen=True, slots=True)
class ModerationCommand:
    """A well-formed command: ``post_id`` for approve/reject/ban, ``reason`` for reject/ban (optional)."""

    name: CommandName
    post_id: int | None = None
    reason: str | None = None
    query: str | None = None  # for search


@dataclass(frozen=True, slots=True)
class CommandError:
    """A message meant as a command that cannot be obeyed; ``message`` is the answer to give."""

    message: str


def is_command(text: str) -> bool:
    """Whether ``text`` is addressed to the bridge (and so must never be relayed)."""
    first = text.lstrip().split(maxsplit=1)
    return bool(first) and first[0].casefold() == COMMAND_PREFIX


def parse_command(text: str) -> ModerationCommand | CommandError | None:
    """The command in ``text``; None when the message is not a command at all."""
    if not is_command(text):
        return None
    words = text.strip().split(maxsplit=2)
    if len(words) == 1:
        return ModerationCommand(CommandName.HELP)
    verb = words[1].casefold()
    rest = words[2] if len(words) > 2 else ""
    if verb in ("help", "?"):
        return ModerationCommand(CommandName.HELP)
    if verb == "search":
        if not rest.strip():
            return CommandError("`!icop search` needs a query, e.g. `!icop search risk register from:ana`.")
        return ModerationCommand(CommandName.SEARCH, query=rest.strip())
    if verb == "held":
        if rest.strip():
            return CommandError(f"`!icop held` takes no arguments. {USAGE}")
        return ModerationCommand(CommandName.HELD)
    if verb in ("approve", "reject", "ban"):
        name = CommandName(verb)
        number, _, reason = rest.strip().partition(" ")
        match = _NUMBER.fullmatch(number)
        if match is None:
            shown = f" (got {number!r})" if number else ""
            return CommandError(f"`!icop {verb}` needs the number of a held post{shown}. {USAGE}")
        reason = " ".join(reason.split())
        if name is CommandName.APPROVE and reason:
            return CommandError(f"`!icop approve` takes only the number of a held post. {USAGE}")
        return ModerationCommand(name, int(match[1]), reason or None)
    return CommandError(f"Unknown command `{words[1]}`. {USAGE}")


def may_moderate(role: Role | None, state: MembershipState | None) -> bool:
    """Active conveners and core members may decide on held posts."""
    return role in MODERATOR_ROLES and state is MembershipState.ACTIVE
