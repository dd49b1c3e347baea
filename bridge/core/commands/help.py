"""``!icop help`` (or a bare ``!icop``): the commands the asker may use, and only those."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridge.core.commands.base import CommandSpec, Permission, permits
from bridge.core.model import MembershipState, Role


@dataclass(frozen=True, slots=True)
class HelpCommand:
    pass


HELP = CommandSpec(
    "help", "!icop help", "this list", Permission.EVERYONE, lambda rest: HelpCommand(), aliases=("", "?")
)
SPECS = (HELP,)


def help_text(specs: Iterable[CommandSpec], role: Role | None, state: MembershipState | None) -> str:
    """One line per command the asker may use."""
    allowed = [spec for spec in specs if permits(spec.permission, role, state) and spec is not HELP]
    if not allowed:
        return "You can use `!icop help` here. Members of the community can use more commands."
    return "Commands you can use:\n" + "\n".join(f"- {spec.usage()}" for spec in allowed)
