"""Every family's handler, in one list: what the daemon answers in the room.

A new family of commands adds its handler here (and its specs in ``bridge.core.commands``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bridge.relay.moderation import Moderation
from bridge.relay.room_commands import CommandHandler
from bridge.relay.room_commands.help import HelpCommands
from bridge.relay.room_commands.moderation import ModerationCommands
from bridge.relay.room_commands.practices import PracticeCommands
from bridge.relay.room_commands.stories import Ingest, StoryCommands
from bridge.relay.room_commands.tagging import TaggingCommands


def every_family(
    moderation: Moderation,
    base_url: str,
    clock: Callable[[], datetime],
    *,
    ingest: Ingest | None = None,
) -> list[CommandHandler]:
    """``ingest`` stores a story told with ``!icop story`` as a post (``Ingestor.ingest``)."""
    return [
        HelpCommands(),
        TaggingCommands(base_url, clock),
        PracticeCommands(base_url, clock),
        StoryCommands(base_url, ingest),
        ModerationCommands(moderation),
    ]
