"""Moderation commands: ``!icop held``, ``!icop approve N``, ``!icop reject N [reason]``,
``!icop ban N [reason]``, for the core team.

Parsing is pure so every spelling a convener may type is tested without a homeserver.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bridge.core.commands.base import CommandError, CommandSpec, Permission, permits
from bridge.core.model import MembershipState, Role

USAGE = (
    "Commands: `!icop held` (list held posts), `!icop approve N`, `!icop reject N [reason]`, "
    "`!icop ban N [reason]` (reject and refuse the sender's later posts)."
)

_NUMBER = re.compile(r"#?(\d{1,18})")


class CommandName(StrEnum):
    HELD = "held"
    APPROVE = "approve"
    REJECT = "reject"
    BAN = "ban"


@dataclass(frozen=True, slots=True)
class ModerationCommand:
    """A well-formed command: ``post_id`` for approve/reject/ban, ``reason`` for reject/ban (optional)."""

    name: CommandName
    post_id: int | None = None
    reason: str | None = None


def _held(rest: str) -> ModerationCommand | CommandError:
    if rest.strip():
        return CommandError(f"`!icop held` takes no arguments. {USAGE}")
    return ModerationCommand(CommandName.HELD)


def _decision(name: CommandName) -> Callable[[str], ModerationCommand | CommandError]:
    def parse(rest: str) -> ModerationCommand | CommandError:
        number, _, reason = rest.strip().partition(" ")
        match = _NUMBER.fullmatch(number)
        if match is None:
            shown = f" (got {number!r})" if number else ""
            return CommandError(f"`!icop {name.value}` needs the number of a held post{shown}. {USAGE}")
        reason = " ".join(reason.split())
        if name is CommandName.APPROVE and reason:
            return CommandError(f"`!icop approve` takes only the number of a held post. {USAGE}")
        return ModerationCommand(name, int(match[1]), reason or None)

    return parse


SPECS = (
    CommandSpec("held", "!icop held", "list the posts held for a decision", Permission.CORE_TEAM, _held),
    CommandSpec(
        "approve",
        "!icop approve N",
        "relay held post N",
        Permission.CORE_TEAM,
        _decision(CommandName.APPROVE),
    ),
    CommandSpec(
        "reject",
        "!icop reject N [reason]",
        "reject held post N (a sender by mail is told the reason)",
        Permission.CORE_TEAM,
        _decision(CommandName.REJECT),
    ),
    CommandSpec(
        "ban",
        "!icop ban N [reason]",
        "reject held post N and refuse its sender's later posts",
        Permission.CORE_TEAM,
        _decision(CommandName.BAN),
    ),
)


def may_moderate(role: Role | None, state: MembershipState | None) -> bool:
    """Active conveners and core members may decide on held posts."""
    return permits(Permission.CORE_TEAM, role, state)
