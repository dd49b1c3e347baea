"""Value stories in the room, for members: ``!icop story TEXT`` sent as a reply in a thread tells how
that thread's practice (or the thread) helped; the story is relayed to the list like any post and kept
with the thread. ``!icop stories`` lists the stories kept with the thread (outside a thread: how many
each practice has).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core.commands.base import CommandError, CommandSpec, Permission

MIN_STORY_CHARS = 10
MAX_STORY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class StoryCommand:
    text: str


@dataclass(frozen=True, slots=True)
class StoriesCommand:
    pass


def _story(rest: str) -> StoryCommand | CommandError:
    text = "\n".join(line.rstrip() for line in rest.strip().splitlines())
    if len(text) < MIN_STORY_CHARS:
        return STORY.error(
            "Tell the story in a sentence or more: what you did with this practice, and what changed."
        )
    if len(text) > MAX_STORY_CHARS:
        return STORY.error(f"A story has at most {MAX_STORY_CHARS} characters.")
    return StoryCommand(text)


def _stories(rest: str) -> StoriesCommand | CommandError:
    if rest.strip():
        return STORIES.error("`!icop stories` takes no arguments.")
    return StoriesCommand()


STORY = CommandSpec(
    "story",
    "!icop story TEXT",
    "in a thread: tell how its practice helped your work (shared with the list, kept with the practice)",
    Permission.MEMBERS,
    _story,
)
STORIES = CommandSpec(
    "stories",
    "!icop stories",
    "in a thread: the value stories told about it; elsewhere: stories per practice",
    Permission.MEMBERS,
    _stories,
)
SPECS = (STORY, STORIES)
