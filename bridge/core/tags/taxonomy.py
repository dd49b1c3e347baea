"""The convener's taxonomy: which tags the community files under, their spellings and keywords.

Every written form (``#Estimating``, ``[estimates]``, ``#estimação``) resolves to one tag name: the
taxonomy's tag when the form or one of the tag's aliases folds to the same key (``names.match_key``),
otherwise the folded form itself, a *free* tag, as Discourse and Mastodon keep them. A community that
wants only its own vocabulary sets ``free_tags = false``: then an unknown hashtag stays plain text.

Keywords are words or phrases that suggest a tag (``"story points"`` → ``estimation``). They match
whole words, case and diacritics folded. Whether a suggestion is only offered to the core team or
filed at once is the community's choice (``keyword_tags``), applied by the relay, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bridge.core.tags.names import PRACTICE_HASHTAG, fold_tag, fold_text, is_tag_name, match_key


@dataclass(frozen=True, slots=True)
class TagDefinition:
    """One ``[[community.taxonomy]]`` entry."""

    tag: str
    label: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A tag suggested by a keyword found in a text."""

    tag: str
    keyword: str


class TaxonomyError(ValueError):
    """Two entries claim one spelling, or an entry uses a reserved name."""


class Taxonomy:
    """Resolves written tags to names and suggests tags from keywords; immutable once built."""

    def __init__(self, definitions: Iterable[TagDefinition] = (), *, free_tags: bool = True) -> None:
        self.definitions = tuple(definitions)
        self.free_tags = free_tags
        self._by_key: dict[str, str] = {}
        self._by_name = {d.tag: d for d in self.definitions}
        self._keywords: list[tuple[str, re.Pattern[str], str]] = []
        for definition in self.definitions:
            if fold_tag(definition.tag) == PRACTICE_HASHTAG:
                raise TaxonomyError(f"tag {definition.tag!r}: #practice proposes a practice, not a tag")
            for spelling in (definition.tag, *definition.aliases):
                key = match_key(spelling)
                if not key:
                    raise TaxonomyError(f"tag {definition.tag!r}: {spelling!r} has no letters or digits")
                owner = self._by_key.setdefault(key, definition.tag)
                if owner != definition.tag:
                    raise TaxonomyError(
                        f"{spelling!r} of tag {definition.tag!r} is already a spelling of tag {owner!r}"
                    )
            for keyword in definition.keywords:
                words = fold_text(keyword).split()
                if words:
                    pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
                    self._keywords.append((definition.tag, pattern, keyword))

    def resolve(self, written: str) -> str | None:
        """The tag a written form files under; None when it is no tag (or unknown without free tags)."""
        known = self._by_key.get(match_key(written))
        if known is not None:
            return known
        name = fold_tag(written)
        if not self.free_tags or not is_tag_name(name) or name == PRACTICE_HASHTAG:
            return None
        return name

    def definition(self, name: str) -> TagDefinition | None:
        return self._by_name.get(name)

    def label(self, name: str) -> str:
        definition = self._by_name.get(name)
        return definition.label if definition is not None else name

    def suggest(self, text: str) -> list[Suggestion]:
        """Tags whose keywords ``text`` contains, in taxonomy order, each tag once."""
        folded = fold_text(text)
        found: dict[str, Suggestion] = {}
        for tag, pattern, keyword in self._keywords:
            if tag not in found and pattern.search(folded):
                found[tag] = Suggestion(tag, keyword)
        return list(found.values())
