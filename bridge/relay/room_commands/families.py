"""Every family's handler, in one list: what the daemon answers in the room.

A new family of commands adds its handler here (and its specs in ``bridge.core.commands``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bridge.archive.search import ArchiveSearch
from bridge.digest.desk import SubscriptionDesk
from bridge.relay.moderation import Moderation
from bridge.relay.room_commands import CommandHandler
from bridge.relay.room_commands.digests import DigestCommands
from bridge.relay.room_commands.help import HelpCommands
from bridge.relay.room_commands.moderation import ModerationCommands
from bridge.relay.room_commands.practices import PracticeCommands
from bridge.relay.room_commands.search import SearchCommands
from bridge.relay.room_commands.stories import Ingest, StoryCommands
from bridge.relay.room_commands.tagging import TaggingCommands


def every_family(
    moderation: Moderation,
    base_url: str,
    clock: Callable[[], datetime],
    *,
    digests: SubscriptionDesk | None = None,
    search: ArchiveSearch | None = None,
    ingest: Ingest | None = None,
) -> list[CommandHandler]:
    """The handlers of every family; ``digests`` and ``search`` are absent when the daemon runs without
    them (a command without its handler is answered as not available); ``ingest`` stores a story told
    with ``!icop story`` as a post (``Ingestor.ingest``)."""
    handlers: list[CommandHandler] = [
        HelpCommands(),
        TaggingCommands(base_url, clock),
        PracticeCommands(base_url, clock),
        StoryCommands(base_url, ingest),
        ModerationCommands(moderation),
    ]
    if digests is not None:
        handlers.append(DigestCommands(digests))
    if search is not None:
        handlers.append(SearchCommands(search))
    return handlers
