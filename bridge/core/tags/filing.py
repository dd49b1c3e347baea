"""What one post files: its tags with their sources, the tags its keywords suggest, a practice proposal.

The relay calls ``read_post_tags`` when a post is stored (and again when it is edited) and files the
result in the post's transaction. The sources say who or what filed a tag (``TagSource``): a hashtag in
the body, a ``[tag]`` in the subject of the mail that started the thread (or one a reply added: the
list repeats the thread's own subject tags in every reply, which must not undo a convener's untag), or
a keyword, when the community files keyword suggestions at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bridge.core.model import TagSource
from bridge.core.tags.hashtags import hashtags_in_text
from bridge.core.tags.names import PRACTICE_HASHTAG, STORY_HASHTAG, fold_tag
from bridge.core.tags.subjects import tags_in_subject
from bridge.core.tags.taxonomy import Suggestion, Taxonomy


class KeywordMode(StrEnum):
    """``keyword_tags`` of a community: what a keyword match does."""

    OFFER = "offer"  # tell the core team; file nothing
    APPLY = "apply"  # file the tag (source keyword)
    OFF = "off"


AUTOMATIC_SOURCES = frozenset({TagSource.HASHTAG, TagSource.SUBJECT, TagSource.KEYWORD})
"""Sources the text of a post decides; a person's filing (command, mail line, CLI) outranks them."""


@dataclass(frozen=True, slots=True)
class FiledTag:
    """A tag a post files; ``written`` is how it was first spelt (the label of a free tag)."""

    name: str
    source: TagSource
    written: str


@dataclass(frozen=True, slots=True)
class PostTags:
    tags: tuple[FiledTag, ...] = ()
    suggested: tuple[Suggestion, ...] = ()
    practice: bool = False
    story: bool = False  # ``#story``: the post tells how a practice or thread helped

    def names(self) -> set[str]:
        return {tag.name for tag in self.tags}


def read_post_tags(
    body: str,
    taxonomy: Taxonomy,
    *,
    subject: str | None = None,
    thread_subject: str | None = None,
    list_prefixes: Iterable[str] = (),
    keywords: KeywordMode = KeywordMode.OFFER,
) -> PostTags:
    """The tags of a post whose own words are ``body`` (text, or the readable text of its HTML).

    ``thread_subject`` is the subject of the thread the post answers (None for a thread's first post):
    only subject tags it does not already carry count for a reply.
    """
    prefixes = tuple(list_prefixes)
    filed: dict[str, FiledTag] = {}
    practice = story = False
    for written in hashtags_in_text(body):
        if fold_tag(written) == PRACTICE_HASHTAG:
            practice = True
            continue
        if fold_tag(written) == STORY_HASHTAG:
            story = True
            continue
        name = taxonomy.resolve(written)
        if name is not None:
            filed.setdefault(name, FiledTag(name, TagSource.HASHTAG, written))
    inherited = {fold_tag(t) for t in tags_in_subject(thread_subject, prefixes)} if thread_subject else set()
    for written in tags_in_subject(subject, prefixes):
        if fold_tag(written) in inherited:
            continue
        name = taxonomy.resolve(written)
        if name is not None:
            filed.setdefault(name, FiledTag(name, TagSource.SUBJECT, written))
    suggested: list[Suggestion] = []
    if keywords is not KeywordMode.OFF:
        words = body if thread_subject is not None or not subject else f"{subject}\n{body}"
        for suggestion in taxonomy.suggest(words):
            if suggestion.tag in filed:
                continue
            if keywords is KeywordMode.APPLY:
                filed[suggestion.tag] = FiledTag(suggestion.tag, TagSource.KEYWORD, suggestion.keyword)
            else:
                suggested.append(suggestion)
    return PostTags(tuple(filed.values()), tuple(suggested), practice, story)


@dataclass(frozen=True, slots=True)
class TagChanges:
    """What an edit changes: tags the new text files, and tags only the old text filed."""

    added: tuple[FiledTag, ...]
    removed: tuple[str, ...]
    practice_added: bool
    practice_removed: bool


def edit_changes(before: PostTags, after: PostTags) -> TagChanges:
    """Compare two readings of one post. Only what the text decided moves; the subject of a post
    does not change in an edit, so its subject tags are kept out of the comparison."""
    old = {t.name for t in before.tags if t.source is not TagSource.SUBJECT}
    new = {t.name for t in after.tags if t.source is not TagSource.SUBJECT}
    return TagChanges(
        added=tuple(t for t in after.tags if t.name in new - old),
        removed=tuple(t.name for t in before.tags if t.name in old - new),
        practice_added=after.practice and not before.practice,
        practice_removed=before.practice and not after.practice,
    )
