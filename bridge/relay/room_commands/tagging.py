"""``!icop tag``, ``!icop untag`` and ``!icop tags`` in the room: filing a thread by hand.

A person's filing is recorded with its source (``command``) and who did it, and outranks what a text
filed (``bridge.store.tags``). Names go through the taxonomy like hashtags do, so ``!icop tag
Estimates`` files under ``estimation``; in a taxonomy-only community an unknown name is refused and
said so. ``!icop tag`` alone files what the taxonomy's keywords suggest for the thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from bridge.core.commands.tagging import TagCommand, TagsCommand, UntagCommand
from bridge.core.links import tag_url, thread_url
from bridge.core.model import PostState, TagSource
from bridge.core.tags.taxonomy import Suggestion
from bridge.relay.filing import Writing, suggestions, tag_overview
from bridge.relay.room_commands import NOT_IN_A_THREAD, CommandRequest
from bridge.store import NewTag

LISTED_TAGS = 15


class TaggingCommands:
    commands: tuple[type, ...] = (TagCommand, UntagCommand, TagsCommand)

    def __init__(self, base_url: str, clock: Callable[[], datetime]) -> None:
        self.base_url = base_url
        self.clock = clock

    async def answer(self, request: CommandRequest) -> str:
        command = request.command
        thread_id = await request.thread_id()
        if isinstance(command, TagsCommand):
            if thread_id is None:
                return await self._community_tags(request)
            return await self._thread_tags(request, thread_id)
        if thread_id is None:
            return NOT_IN_A_THREAD
        if isinstance(command, UntagCommand):
            return await self._untag(request, thread_id, command.names)
        assert isinstance(command, TagCommand)
        return await self._tag(request, thread_id, command.names)

    async def _tag(self, request: CommandRequest, thread_id: int, written: tuple[str, ...]) -> str:
        community, store = request.community, request.store
        taxonomy = community.taxonomy
        if not written:
            offered = await _thread_suggestions(request, thread_id)
            have = {t.name for t in await store.tags.of_thread(thread_id)}
            written = tuple(s.tag for s in offered if s.tag not in have)
            if not written:
                return "The taxonomy suggests no tag for this thread: name the tags, `!icop tag TAG…`."
        resolved = {w: taxonomy.resolve(w) for w in written}
        refused = [w for w, name in resolved.items() if name is None]
        tags = [
            NewTag(
                name,
                TagSource.COMMAND,
                label=taxonomy.label(name) if taxonomy.definition(name) else w,
                applied_by=request.by,
            )
            for w, name in resolved.items()
            if name is not None
        ]
        added = await store.tags.tag_thread(community.id, thread_id, tags, now=self.clock())
        already = [t.name for t in tags if t.name not in added]
        parts = []
        if added:
            parts.append(f"Filed this thread under {_hashtags(added)}.")
        if already:
            parts.append(f"It was already under {_hashtags(dict.fromkeys(already))}.")
        if refused:
            parts.append(
                f"Not tags of {community.config.name}: {', '.join(refused)} "
                "(this community files only under its taxonomy: `!icop tags` lists it)."
            )
        return " ".join(parts) + f" {thread_url(self.base_url, community.slug, thread_id)}"

    async def _untag(self, request: CommandRequest, thread_id: int, written: tuple[str, ...]) -> str:
        taxonomy = request.community.taxonomy
        names = [name for w in written if (name := taxonomy.resolve(w) or w.lower())]
        removed = await request.store.tags.untag_thread(thread_id, names, by=request.by, now=self.clock())
        missing = [n for n in dict.fromkeys(names) if n not in removed]
        parts = []
        if removed:
            parts.append(f"Took {_hashtags(removed)} off this thread.")
        if missing:
            parts.append(f"It was not filed under {_hashtags(missing)}.")
        return " ".join(parts)

    async def _thread_tags(self, request: CommandRequest, thread_id: int) -> str:
        tags = await request.store.tags.of_thread(thread_id)
        have = {t.name for t in tags}
        offered = [s for s in await _thread_suggestions(request, thread_id) if s.tag not in have]
        lines = [
            f"This thread is filed under {_hashtags(t.name for t in tags)}."
            if tags
            else "This thread has no tags yet."
        ]
        if offered:
            lines.append(
                "Suggested from its words: "
                + ", ".join(f"#{s.tag} (“{s.keyword}”)" for s in offered)
                + ". `!icop tag` files them."
            )
        return " ".join(lines)

    async def _community_tags(self, request: CommandRequest) -> str:
        community = request.community
        usage = await tag_overview(request.store, community)
        if not usage:
            return f"{community.config.name} has no tags yet."
        shown = usage[:LISTED_TAGS]
        lines = [
            f"- #{u.name}"
            + (f" ({u.label})" if u.label != u.name else "")
            + f": {u.threads} thread"
            + ("" if u.threads == 1 else "s")
            + f" {tag_url(self.base_url, community.slug, u.name)}"
            for u in shown
        ]
        more = f"\n…and {len(usage) - len(shown)} more." if len(usage) > len(shown) else ""
        return f"Tags of {community.config.name}:\n" + "\n".join(lines) + more


async def _thread_suggestions(request: CommandRequest, thread_id: int) -> list[Suggestion]:
    """What the taxonomy's keywords suggest from every visible post of the thread, each tag once."""
    found: dict[str, Suggestion] = {}
    for post in await request.store.posts.thread_posts(thread_id):
        if post.state is PostState.VISIBLE:
            for suggestion in suggestions(request.community, Writing.of_post(post)):
                found.setdefault(suggestion.tag, suggestion)
    return list(found.values())


def _hashtags(names: Iterable[str]) -> str:
    return ", ".join(f"#{name}" for name in names)
