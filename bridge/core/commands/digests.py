"""``!icop digest [daily|weekly|monthly|off]`` in the room: see or set how often one's digest comes by mail.

Open to everyone in the room: a reader or a visitor asking gets told how to subscribe, which is more
useful than a refusal.
"""

from __future__ import annotations

from bridge.core.commands.base import CommandError, CommandSpec, Permission
from bridge.core.digest.requests import FREQUENCIES, RoomDigest


def _digest(rest: str) -> RoomDigest | CommandError:
    words = rest.split()
    if not words:
        return RoomDigest(None)
    choice = words[0].casefold()
    if len(words) > 1 or choice not in (*FREQUENCIES, "off"):
        return DIGEST.error(f"Unknown digest setting `{rest.strip()}`.")
    return RoomDigest(choice)


DIGEST = CommandSpec(
    "digest",
    "!icop digest [daily|weekly|monthly|off]",
    "see or set how often the digest comes to you by mail",
    Permission.EVERYONE,
    _digest,
)
SPECS = (DIGEST,)
