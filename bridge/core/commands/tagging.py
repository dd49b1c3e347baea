"""Tagging commands, sent as a reply in the thread they file: ``!icop tag TAG…`` and
``!icop untag TAG…`` for the core team, ``!icop tags`` (the thread's tags and the taxonomy's
suggestions, or the community's tags outside a thread) for every member.

``!icop tag`` alone files the tags the taxonomy's keywords suggest for the thread. Tags are written
with or without ``#``, separated by spaces or commas; the taxonomy folds their spelling later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.core.commands.base import CommandError, CommandSpec, Permission

_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class TagCommand:
    """File the thread under ``names`` (as written); none: under the suggested tags."""

    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UntagCommand:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagsCommand:
    pass


def _names(rest: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.lstrip("#") for w in _SPLIT.split(rest.strip()) if w.strip("#")))


def _untag(rest: str) -> UntagCommand | CommandError:
    names = _names(rest)
    if not names:
        return UNTAG.error("`!icop untag` needs the tags to take off the thread.")
    return UntagCommand(names)


def _tags(rest: str) -> TagsCommand | CommandError:
    if rest.strip():
        return TAGS.error("`!icop tags` takes no arguments.")
    return TagsCommand()


TAG = CommandSpec(
    "tag",
    "!icop tag TAG…",
    "in a thread: file it under these tags (alone: under the suggested ones)",
    Permission.CORE_TEAM,
    lambda rest: TagCommand(_names(rest)),
)
UNTAG = CommandSpec(
    "untag", "!icop untag TAG…", "in a thread: take these tags off it", Permission.CORE_TEAM, _untag
)
TAGS = CommandSpec(
    "tags",
    "!icop tags",
    "the community's tags; in a thread: its tags and the suggested ones",
    Permission.MEMBERS,
    _tags,
)
SPECS = (TAG, UNTAG, TAGS)
