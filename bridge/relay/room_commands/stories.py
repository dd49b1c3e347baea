"""``!icop story TEXT`` and ``!icop stories`` in a thread, for members.

A story told with the command is relayed like any post (the list's readers hear it too), with the
``#story`` marker that makes the archive keep it (``bridge.relay.filing``): the command's event becomes
the post, so the room does not get it twice. The answer says which practice the story now counts for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from bridge.core.commands.stories import StoriesCommand, StoryCommand
from bridge.core.links import practices_url, thread_url
from bridge.core.model import InboundMessage
from bridge.core.stories import excerpt, story_post_text
from bridge.relay.community import CommunityContext
from bridge.relay.ingest import IngestOutcome, IngestStatus
from bridge.relay.room_commands import NOT_IN_A_THREAD, CommandRequest
from bridge.store import StoryRecord

Ingest = Callable[[CommunityContext, InboundMessage], Awaitable[IngestOutcome]]

LISTED_STORIES = 10


class StoryCommands:
    commands: tuple[type, ...] = (StoryCommand, StoriesCommand)

    def __init__(self, base_url: str, ingest: Ingest | None) -> None:
        self.base_url = base_url
        self.ingest = ingest  # Ingestor.ingest: a story is a post

    async def answer(self, request: CommandRequest) -> str:
        thread_id = await request.thread_id()
        if isinstance(request.command, StoriesCommand):
            if thread_id is None:
                return await self._per_practice(request)
            return await self._of_thread(request, thread_id)
        if thread_id is None:
            return NOT_IN_A_THREAD
        if self.ingest is None:
            return "Stories cannot be told here."
        assert isinstance(request.command, StoryCommand)
        message = replace(request.message, text=story_post_text(request.command.text), html=None)
        outcome = await self.ingest(request.community, message)
        if outcome.status is IngestStatus.HELD:
            return "Your story is held for a convener before it reaches the list; it is kept once approved."
        if outcome.status not in (IngestStatus.STORED, IngestStatus.DUPLICATE) or outcome.post_id is None:
            return "Your story could not be kept."
        story = await request.store.stories.of_post(outcome.post_id)
        if story is None:
            return "Your story could not be kept."
        told = await request.store.stories.count_by_thread([story.thread_id])
        count = told.get(story.thread_id, 0)
        url = thread_url(self.base_url, request.community.slug, story.thread_id)
        stories = f"{count} stor{'y' if count == 1 else 'ies'} now"
        if story.practice is not None:
            where = f"the practice “{story.practice}” ({stories})"
        else:
            where = f"this thread ({stories}; they count for its practice once the core team confirms one)"
        return (
            f"Thank you, {story.author_name}: your story is kept with {where} and shared with the list. {url}"
        )

    async def _of_thread(self, request: CommandRequest, thread_id: int) -> str:
        stories = await request.store.stories.in_community(request.community.id, thread_id=thread_id)
        if not stories:
            return "No value story is kept with this thread yet: `!icop story TEXT` here tells one."
        lines = [_line(story) for story in stories[:LISTED_STORIES]]
        more = len(stories) - LISTED_STORIES
        head = f"{len(stories)} value stor{'y' if len(stories) == 1 else 'ies'} about this thread:"
        return "\n".join([head, *lines, *([f"… and {more} more."] if more > 0 else [])])

    async def _per_practice(self, request: CommandRequest) -> str:
        community = request.community
        stories = await request.store.stories.in_community(community.id)
        if not stories:
            return "No value story has been told yet: `!icop story TEXT` in a practice's thread tells one."
        counts: dict[str, int] = {}
        for story in stories:
            title = story.practice or "threads that are no practice (yet)"
            counts[title] = counts.get(title, 0) + 1
        lines = [f"- {title}: {n}" for title, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
        url = practices_url(self.base_url, community.slug)
        return "\n".join([f"Value stories per practice ({len(stories)} in all):", *lines, url])


def _line(story: StoryRecord) -> str:
    return f"- {story.author_name}, {story.created_at:%Y-%m-%d}: “{excerpt(story.text)}”"
